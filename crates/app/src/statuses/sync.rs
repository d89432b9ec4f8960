//! Polling Billit: one order read on demand (`billit.sync_order`), and the sweeps that catch what webhooks missed
//! (`billit.sweep` → `billit.sweep_tenant`).

use super::{
    SWEEP_TENANT_JOB, SYNC_ORDER_JOB, billit_failure, connection_failure, ingest, payload_of,
    scope_of,
};
use crate::App;
use crate::billit_connection::{ConnectionProblem, client_for};
use crate::worker::{JobFailure, JobResult};
use anyhow::Context;
use chrono::{DateTime, Duration as Span, Utc};
use portal_billit::classify::classify_order;
use portal_billit::client::BillitClient;
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::webhook_deliveries::WebhookDeliveryRepository;
use serde::Deserialize;

/// Orders changed within this margin before the last sweep are listed again: Billit's `LastModified` has no
/// milliseconds, and clocks differ a little.
const SWEEP_MARGIN_MINUTES: i64 = 5;
/// The most open invoices re-read by one slow check (the least recently read first; the next check goes on).
const FULL_CHECK_LIMIT: u64 = 1_000;

#[derive(Deserialize)]
struct SyncOrderJob {
    invoice_id: InvoiceId,
    order_id: i64,
}

/// `billit.sync_order`: reads the order and applies every message and fact it has.
pub(super) async fn run_sync_order(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: SyncOrderJob = payload_of(&job)?;
    let Some(record) = state
        .invoices
        .get(&scope, payload.invoice_id)
        .await
        .map_err(anyhow::Error::from)?
    else {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "invoice {} does not exist for this tenant",
            payload.invoice_id
        )));
    };
    if record.billit_order_id != Some(payload.order_id) {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "order {} is not invoice {}'s order",
            payload.order_id,
            payload.invoice_id
        )));
    }
    // The client records the read's outcome for the firm's console.
    let (client, _) = client_for(&state, &scope)
        .await
        .map_err(connection_failure)?;
    let order = client
        .get_order(payload.order_id)
        .await
        .map_err(|error| billit_failure(error, "cannot read the order at Billit"))?;
    let classified = classify_order(&order);
    ingest(
        &state,
        &scope,
        payload.invoice_id,
        &classified.events,
        Some(classified.facts),
        "poll",
    )
    .await?;
    Ok(())
}

/// `billit.sweep` (periodic, firm-wide): hands each connected tenant its own sweep, once per polling period.
pub(super) async fn run_sweep(state: App, _job: ClaimedJob) -> JobResult {
    let every_ms = i64::try_from(state.settings.billit.poll_interval_secs.max(1))
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let slot = state.jobs.queue.now_ms() / every_ms;
    let tenants = WebhookDeliveryRepository::new(state.db.clone())
        .tenants_to_poll()
        .await?;
    let jobs = tenants
        .iter()
        .map(|scope| {
            NewJob::for_tenant(scope, SWEEP_TENANT_JOB, serde_json::json!({}))
                .unique_key(format!("sweep:{}:{slot}", scope.tenant_id()))
                .max_attempts(3)
        })
        .collect();
    state.jobs.enqueue_all(jobs).await?;
    Ok(())
}

/// `billit.sweep_tenant`.
pub(super) async fn run_sweep_tenant(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    match sweep(&state, &scope).await {
        Ok(report) => {
            tracing::debug!(?report, "Billit sweep done");
            Ok(())
        }
        Err(SweepError::Connection(problem)) => Err(connection_failure(problem)),
        Err(SweepError::Billit(error)) => Err(billit_failure(error, "cannot list the orders")),
        Err(SweepError::Other(error)) => Err(JobFailure::Retry(error)),
    }
}

/// What one tenant sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// False when the tenant has no usable Billit connection (nothing was done).
    pub connected: bool,
    /// Orders Billit listed as changed since the last sweep.
    pub orders_listed: usize,
    /// Of those, the ones that are invoices of the portal (and were applied).
    pub invoices_updated: usize,
    /// Open invoices whose order read was enqueued by the slow check (0 when it was not due).
    pub full_check_reads: usize,
}

#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error(transparent)]
    Connection(ConnectionProblem),
    #[error(transparent)]
    Billit(portal_billit::client::BillitError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Sweeps one tenant now, as its periodic job would (tests and operators need not wait for the clock).
pub async fn sweep_tenant_now(state: &App, scope: &TenantScope) -> anyhow::Result<SweepReport> {
    sweep(state, scope).await.map_err(|error| match error {
        SweepError::Other(error) => error,
        other => anyhow::Error::from(other),
    })
}

/// A sweep; its client records how its calls to Billit went for the firm's console (the successful poll itself
/// is the sweep cursor's time).
async fn sweep(state: &App, scope: &TenantScope) -> Result<SweepReport, SweepError> {
    let (client, _) = match client_for(state, scope).await {
        Ok(found) => found,
        Err(ConnectionProblem::NotConfigured | ConnectionProblem::Incomplete) => {
            return Ok(SweepReport::default());
        }
        Err(problem) => return Err(SweepError::Connection(problem)),
    };
    let mut report = SweepReport {
        connected: true,
        ..SweepReport::default()
    };
    let started = Utc::now();
    let sync_state = WebhookDeliveryRepository::new(state.db.clone());
    let last_sweep = state
        .invoices
        .last_sweep(scope)
        .await
        .context("cannot read the sweep cursor")?;
    // The first sweep has no cursor: the slow check below reads every open invoice instead.
    if let Some(last) = last_sweep {
        let since = last - Span::minutes(SWEEP_MARGIN_MINUTES);
        let orders = client
            .list_orders_modified_since(since)
            .await
            .map_err(SweepError::Billit)?;
        report.orders_listed = orders.len();
        let ids: Vec<i64> = orders.iter().filter_map(|order| order.order_id).collect();
        let invoices = state
            .invoices
            .find_by_orders(scope, &ids)
            .await
            .context("cannot look the orders up")?;
        for listed in orders {
            let Some(order_id) = listed.order_id else {
                continue;
            };
            let Some(&invoice) = invoices.get(&order_id) else {
                continue;
            };
            let order = if listed.messages.is_some() {
                listed
            } else {
                client
                    .get_order(order_id)
                    .await
                    .map_err(SweepError::Billit)?
            };
            let classified = classify_order(&order);
            ingest(
                state,
                scope,
                invoice,
                &classified.events,
                Some(classified.facts),
                "sweep",
            )
            .await?;
            report.invoices_updated += 1;
        }
    }
    let last_full = sync_state
        .last_full_check(scope)
        .await
        .context("cannot read the last full check")?;
    if full_check_due(last_full, last_sweep.is_none(), started, state) {
        report.full_check_reads = enqueue_full_check(state, scope, started).await?;
        sync_state
            .set_last_full_check(scope, started)
            .await
            .context("cannot save the full check's time")?;
    }
    state
        .invoices
        .set_last_sweep(scope, started)
        .await
        .context("cannot save the sweep cursor")?;
    Ok(report)
}

fn full_check_due(
    last_full: Option<DateTime<Utc>>,
    first_sweep: bool,
    now: DateTime<Utc>,
    state: &App,
) -> bool {
    let every = Span::seconds(
        i64::try_from(state.settings.billit.full_check_interval_secs).unwrap_or(i64::MAX / 1000),
    );
    first_sweep || last_full.is_none_or(|last| now - last >= every)
}

/// One `billit.sync_order` per open invoice (their own jobs: one slow order does not hold the others up).
async fn enqueue_full_check(
    state: &App,
    scope: &TenantScope,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let open = state
        .invoices
        .open_orders(scope, FULL_CHECK_LIMIT)
        .await
        .context("cannot list the open invoices")?;
    let count = open.len();
    let jobs = open
        .into_iter()
        .map(|(invoice, order_id)| {
            NewJob::for_tenant(
                scope,
                SYNC_ORDER_JOB,
                serde_json::json!({ "invoice_id": invoice, "order_id": order_id }),
            )
            .unique_key(format!(
                "sync:{invoice}:{order_id}:full:{}",
                now.timestamp()
            ))
            .max_attempts(5)
        })
        .collect();
    state
        .jobs
        .enqueue_all(jobs)
        .await
        .context("cannot enqueue the orders' reads")?;
    Ok(count)
}
