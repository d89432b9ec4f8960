//! `billit.webhook`: a stored delivery, read and applied. The HTTP endpoint only checks and stores; everything
//! that may be slow or fail happens here, with retries.

use super::{SYNC_ORDER_JOB, ingest, payload_of, scope_of};
use crate::App;
use crate::worker::{JobFailure, JobResult};
use anyhow::Context;
use chrono::{Duration as Span, Utc};
use portal_billit::classify::classify_webhook_received;
use portal_billit::webhook::parse_payload;
use portal_persistence::TenantScope;
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::status_batch::StatusBatch;
use portal_persistence::webhook_deliveries::{
    DeliveryState, WebhookDelivery, WebhookDeliveryRepository,
};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct WebhookJob {
    delivery_id: Uuid,
}

/// What became of a delivery.
enum Applied {
    /// Applied, or knowingly ignored with a note.
    Done(Option<String>),
    /// Not a webhook payload: no retry can help.
    Unreadable(String),
}

pub(super) async fn run(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: WebhookJob = payload_of(&job)?;
    let deliveries = WebhookDeliveryRepository::new(state.db.clone());
    let Some(delivery) = deliveries.get(&scope, payload.delivery_id).await? else {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "webhook delivery {} does not exist for this tenant",
            payload.delivery_id
        )));
    };
    if delivery.state != DeliveryState::Received {
        return Ok(());
    }
    match apply(&state, &scope, &delivery).await {
        Ok(Applied::Done(note)) => {
            deliveries
                .mark_processed(&scope, delivery.id, note.as_deref())
                .await?;
            Ok(())
        }
        Ok(Applied::Unreadable(reason)) => {
            tracing::warn!(delivery = %delivery.id, reason = %reason, "unreadable Billit webhook");
            deliveries.mark_failed(&scope, delivery.id, &reason).await?;
            Ok(())
        }
        Err(error) => {
            if job.is_last_attempt() {
                deliveries
                    .mark_failed(&scope, delivery.id, &format!("{error:#}"))
                    .await?;
            }
            Err(JobFailure::Retry(error))
        }
    }
}

async fn apply(
    state: &App,
    scope: &TenantScope,
    delivery: &WebhookDelivery,
) -> anyhow::Result<Applied> {
    let payload = match parse_payload(delivery.body.as_bytes()) {
        Ok(payload) => payload,
        Err(error) => return Ok(Applied::Unreadable(error.to_string())),
    };
    let Some(order_id) = payload.order_id() else {
        return Ok(Applied::Done(Some("the payload names no order".to_owned())));
    };
    let Some(invoice) = state.invoices.find_by_order(scope, order_id).await? else {
        // Orders made outside the portal (or by another tool on the same account) are none of its business.
        return Ok(Applied::Done(Some(format!(
            "order {order_id} matches no invoice"
        ))));
    };
    let events = classify_webhook_received(&payload, delivery.received_at);
    ingest(state, scope, invoice, &events, None, "webhook").await?;
    let about_the_order = payload
        .updated_entity_type
        .as_deref()
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("Order"));
    if events.is_empty() || about_the_order {
        // The order itself holds what a message webhook cannot say (delivery, tax reporting, payment). Every
        // webhook of one second asks for the same read, a second later: a burst costs one call to Billit.
        let at = Utc::now() + Span::seconds(1);
        let job = NewJob::for_tenant(
            scope,
            SYNC_ORDER_JOB,
            serde_json::json!({ "invoice_id": invoice, "order_id": order_id }),
        )
        .unique_key(format!("sync:{invoice}:{order_id}:{}", at.timestamp()))
        .run_at(at);
        state
            .jobs
            .enqueue_all(vec![job])
            .await
            .context("cannot enqueue the order's read")?;
    }
    Ok(Applied::Done(None))
}

/// The most deliveries one batch applies: enough that a burst costs a few commits, few enough that SQLite's
/// write lock is held for a short while (a batch of 200 takes some tens of milliseconds).
pub(super) const BATCH: usize = 200;

/// One delivery of a batch that names an invoice of its tenant.
struct Readable {
    job: usize,
    delivery: Uuid,
    events: Vec<portal_domain::lifecycle::StatusEvent>,
    /// The order's read that the delivery asks for, if any.
    sync: Option<NewJob>,
}

/// The deliveries of one invoice in a batch: one pass applies them all.
struct Group {
    scope: TenantScope,
    invoice: portal_domain::ids::InvoiceId,
    items: Vec<Readable>,
}

/// What the batch writes besides the passes.
#[derive(Default, Clone)]
struct Marks {
    /// Deliveries applied (or ignored with a note), by tenant.
    processed: Vec<(TenantScope, Uuid, Option<String>)>,
    failed: Vec<(TenantScope, Uuid, String)>,
    /// The jobs done with the batch (index in the batch).
    done: Vec<usize>,
    follow_ups: Vec<NewJob>,
    /// Whether the commit brought jobs for idle workers.
    ring: bool,
    /// Jobs that no retry can help (index in the batch, why).
    permanent: Vec<(usize, String)>,
}

impl Marks {
    /// A group's deliveries applied: processed, their jobs done, their orders' reads to enqueue.
    fn applied(&mut self, group: &Group) {
        for item in &group.items {
            self.processed
                .push((group.scope.clone(), item.delivery, None));
            self.done.push(item.job);
            self.follow_ups.extend(item.sync.clone());
        }
    }
}

/// `billit.webhook` jobs claimed together: their deliveries read in one query per tenant, grouped by invoice (one
/// pass per invoice, whatever the number of its deliveries), and everything (events, summaries, follow-up jobs,
/// the deliveries' states and the jobs' completion) written in one transaction. A worker that dies before the
/// commit leaves nothing: the jobs' leases run out and another worker applies the whole batch again.
pub(super) async fn run_batch(state: App, jobs: Vec<ClaimedJob>) -> Vec<JobResult> {
    let mut results: Vec<Option<JobResult>> = jobs.iter().map(|_| None).collect();
    let deliveries = WebhookDeliveryRepository::new(state.db.clone());
    let mut tenants: Vec<(TenantScope, Vec<(usize, Uuid)>)> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let read = scope_of(job).and_then(|scope| {
            payload_of::<WebhookJob>(job).map(|payload| (scope, payload.delivery_id))
        });
        match read {
            Ok((scope, delivery)) => {
                match tenants
                    .iter_mut()
                    .find(|(known, _)| known.tenant_id() == scope.tenant_id())
                {
                    Some((_, list)) => list.push((index, delivery)),
                    None => tenants.push((scope, vec![(index, delivery)])),
                }
            }
            Err(failure) => set(&mut results, index, Err(failure)),
        }
    }
    let mut marks = Marks::default();
    let mut groups: Vec<Group> = Vec::new();
    for (scope, list) in tenants {
        if let Err(error) =
            read_tenant(&state, &deliveries, &scope, &list, &mut marks, &mut groups).await
        {
            let message = format!("{error:#}");
            for (index, _) in &list {
                set(
                    &mut results,
                    *index,
                    Err(JobFailure::Retry(anyhow::anyhow!(
                        "cannot read the deliveries: {message}"
                    ))),
                );
            }
        }
    }
    for (index, why) in std::mem::take(&mut marks.permanent) {
        set(
            &mut results,
            index,
            Err(JobFailure::Permanent(anyhow::anyhow!(why))),
        );
    }
    // Together first (a few statements for the whole batch); should that fail, invoice by invoice, so that one
    // invoice that cannot be saved fails alone.
    let mut together = marks.clone();
    let written = match write_together(&state, &jobs, &groups, &mut together).await {
        Ok(told) => {
            marks = together;
            Ok(told)
        }
        Err(error) => {
            tracing::info!(error = %format!("{error:#}"), "a batch of webhook deliveries could not be saved together; saving it invoice by invoice");
            write_batch(&state, &jobs, groups, &mut marks, &mut results).await
        }
    };
    let (told, committed) = match written {
        Ok(told) => (told, true),
        Err(error) => {
            let message = format!("{error:#}");
            tracing::warn!(error = %message, "a batch of webhook deliveries was rolled back");
            (Vec::new(), false)
        }
    };
    if committed {
        for index in &marks.done {
            set(&mut results, *index, Ok(()));
        }
        for concluded in told {
            concluded.tell(&state);
        }
        if marks.ring {
            state.jobs.ring();
        }
    }
    let mut outcome = Vec::with_capacity(jobs.len());
    for (job, result) in jobs.iter().zip(results) {
        let result = match result {
            Some(result) => result,
            None => {
                // Rolled back with the batch: tried again, and on its last attempt the delivery says why.
                if job.is_last_attempt()
                    && let (Ok(scope), Ok(payload)) = (scope_of(job), payload_of::<WebhookJob>(job))
                    && let Err(error) = deliveries
                        .mark_failed(&scope, payload.delivery_id, "its batch could not be saved")
                        .await
                {
                    tracing::error!(error = %error, "could not mark a delivery failed");
                }
                Err(JobFailure::Retry(anyhow::anyhow!(
                    "the batch of webhook deliveries could not be saved"
                )))
            }
        };
        outcome.push(result);
    }
    outcome
}

/// Records a job's result (`index` is always one of the batch's).
fn set(results: &mut [Option<JobResult>], index: usize, result: JobResult) {
    if let Some(slot) = results.get_mut(index) {
        *slot = Some(result);
    }
}

/// Reads a tenant's deliveries of the batch, and sorts them: nothing to do (done already, unreadable, about no
/// invoice of the portal's) or a group of the invoice they are about.
async fn read_tenant(
    state: &App,
    deliveries: &WebhookDeliveryRepository,
    scope: &TenantScope,
    list: &[(usize, Uuid)],
    marks: &mut Marks,
    groups: &mut Vec<Group>,
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = list.iter().map(|(_, id)| *id).collect();
    let found = deliveries.get_many(scope, &ids).await?;
    let mut pending = Vec::new();
    for (job, id) in list {
        let Some(delivery) = found.iter().find(|delivery| delivery.id == *id) else {
            marks.permanent.push((
                *job,
                format!("webhook delivery {id} does not exist for this tenant"),
            ));
            continue;
        };
        if delivery.state != DeliveryState::Received {
            marks.done.push(*job);
            continue;
        }
        let payload = match parse_payload(delivery.body.as_bytes()) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(delivery = %delivery.id, reason = %error, "unreadable Billit webhook");
                marks
                    .failed
                    .push((scope.clone(), delivery.id, error.to_string()));
                marks.done.push(*job);
                continue;
            }
        };
        let Some(order_id) = payload.order_id() else {
            marks.processed.push((
                scope.clone(),
                delivery.id,
                Some("the payload names no order".to_owned()),
            ));
            marks.done.push(*job);
            continue;
        };
        pending.push((*job, delivery, payload, order_id));
    }
    let orders: Vec<i64> = pending.iter().map(|(_, _, _, order)| *order).collect();
    let invoices = if orders.is_empty() {
        Default::default()
    } else {
        state.invoices.find_by_orders(scope, &orders).await?
    };
    for (job, delivery, payload, order_id) in pending {
        let Some(invoice) = invoices.get(&order_id).copied() else {
            marks.processed.push((
                scope.clone(),
                delivery.id,
                Some(format!("order {order_id} matches no invoice")),
            ));
            marks.done.push(job);
            continue;
        };
        let events = classify_webhook_received(&payload, delivery.received_at);
        let about_the_order = payload
            .updated_entity_type
            .as_deref()
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("Order"));
        let sync = (events.is_empty() || about_the_order).then(|| {
            let at = Utc::now() + Span::seconds(1);
            NewJob::for_tenant(
                scope,
                SYNC_ORDER_JOB,
                serde_json::json!({ "invoice_id": invoice, "order_id": order_id }),
            )
            .unique_key(format!("sync:{invoice}:{order_id}:{}", at.timestamp()))
            .run_at(at)
        });
        let item = Readable {
            job,
            delivery: delivery.id,
            events,
            sync,
        };
        match groups
            .iter_mut()
            .find(|group| group.invoice == invoice && group.scope.tenant_id() == scope.tenant_id())
        {
            Some(group) => group.items.push(item),
            None => groups.push(Group {
                scope: scope.clone(),
                invoice,
                items: vec![item],
            }),
        }
    }
    Ok(())
}

/// The batch's transaction: one pass per invoice (a savepoint each: a pass that fails is undone alone, and its
/// jobs are retried), the deliveries' states, the follow-up jobs, the jobs' completion, one commit.
async fn write_batch(
    state: &App,
    jobs: &[ClaimedJob],
    groups: Vec<Group>,
    marks: &mut Marks,
    results: &mut [Option<JobResult>],
) -> anyhow::Result<Vec<super::Concluded>> {
    let batch = begin(state, &groups).await?;
    let mut told = Vec::new();
    for group in groups {
        match apply_group(state, &batch, &group).await {
            Ok(concluded) => {
                told.extend(concluded);
                marks.applied(&group);
            }
            Err(error) => {
                let message = format!("{error:#}");
                for item in &group.items {
                    if jobs.get(item.job).is_some_and(ClaimedJob::is_last_attempt) {
                        marks
                            .failed
                            .push((group.scope.clone(), item.delivery, message.clone()));
                        marks.done.push(item.job);
                    } else {
                        set(
                            results,
                            item.job,
                            Err(JobFailure::Retry(anyhow::anyhow!("{message}"))),
                        );
                    }
                }
            }
        }
    }
    finish(state, &batch, jobs, marks).await?;
    batch.commit().await.context("cannot save the batch")?;
    Ok(told)
}

/// The batch's transaction with every invoice's pass written together: per company and per run of a few invoices
/// or events, one statement locks and reads the invoices, one reads their events, one appends the new events and
/// one saves the folds; one announces them to the company's systems; then the deliveries' states, the follow-up
/// jobs, the jobs' completion and one commit. Decides as [`apply_group`] does, invoice by invoice. Any failure
/// undoes it all.
async fn write_together(
    state: &App,
    jobs: &[ClaimedJob],
    groups: &[Group],
    marks: &mut Marks,
) -> anyhow::Result<Vec<super::Concluded>> {
    let batch = begin(state, groups).await?;
    let mut tenants: Vec<(&TenantScope, Vec<&Group>)> = Vec::new();
    for group in groups {
        match tenants
            .iter_mut()
            .find(|(scope, _)| scope.tenant_id() == group.scope.tenant_id())
        {
            Some((_, list)) => list.push(group),
            None => tenants.push((&group.scope, vec![group])),
        }
    }
    let mut told = Vec::new();
    for (scope, groups) in tenants {
        let ids: Vec<_> = groups.iter().map(|group| group.invoice).collect();
        let mut passes = batch
            .lock_invoices(scope, &ids)
            .await
            .context("cannot read the invoices")?;
        let mut work = Vec::with_capacity(passes.len());
        for pass in passes.iter_mut() {
            let id = pass.record().id;
            let events: Vec<_> = groups
                .iter()
                .filter(|group| group.invoice == id)
                .flat_map(|group| group.items.iter())
                .flat_map(|item| item.events.iter().cloned())
                .collect();
            work.push((pass, events));
        }
        if let Some(missing) = ids
            .iter()
            .find(|id| !work.iter().any(|(pass, _)| pass.record().id == **id))
        {
            anyhow::bail!("invoice {missing} does not exist for this tenant");
        }
        let news = batch
            .append_events(scope, &mut work, "webhook")
            .await
            .context("cannot append the status events")?;
        drop(work);
        let mut folding: Vec<_> = passes
            .iter_mut()
            .zip(news)
            .filter(|(_, new)| !new.is_empty())
            .collect();
        let folds = {
            let mut states: Vec<_> = folding.iter_mut().map(|(pass, _)| &mut **pass).collect();
            batch
                .refold_all(scope, &mut states)
                .await
                .context("cannot fold the invoices' events")?
        };
        let mut announce = Vec::new();
        for ((pass, new), (before, after)) in folding.iter().zip(folds) {
            let invoice = pass.record().id;
            let super::FollowUps { jobs, acknowledged } = super::follow_ups(
                scope,
                invoice,
                pass.events(),
                &before,
                &after,
                super::Brought::Events(new),
            );
            let accepted = match acknowledged {
                Some(acknowledged) => batch
                    .accept_reported_payments(scope, invoice, acknowledged)
                    .await
                    .context("cannot mark the payments accepted")?,
                None => 0,
            };
            announce.extend(crate::outgoing_webhooks::status_events(
                scope,
                pass.record(),
                &before,
                &after,
                new,
                accepted,
            ));
            told.push(super::Concluded {
                live: super::live_event(scope, invoice, &before, &after, accepted),
                enqueued: !jobs.is_empty(),
            });
            marks.follow_ups.extend(jobs);
        }
        if !announce.is_empty() {
            let written = batch
                .emit_webhooks(scope, &announce, crate::outgoing_webhooks::DELIVER_JOB)
                .await
                .context("cannot announce the statuses to the company's systems")?;
            marks.ring |= written > 0;
        }
        for group in groups {
            marks.applied(group);
        }
    }
    finish(state, &batch, jobs, marks).await?;
    batch.commit().await.context("cannot save the batch")?;
    Ok(told)
}

/// Begins a batch's transaction, with its companies locked (see `StatusBatch::lock_companies`).
async fn begin(state: &App, groups: &[Group]) -> anyhow::Result<StatusBatch> {
    let waited = state.webhook_inbox.make_way().await;
    if !waited.is_zero() {
        tracing::debug!(
            waited_ms = waited.as_millis(),
            "made way for the webhook inbox"
        );
    }
    let batch = state
        .invoices
        .begin_batch()
        .await
        .context("cannot begin the batch")?;
    let companies: Vec<&TenantScope> = groups.iter().map(|group| &group.scope).collect();
    batch
        .lock_companies(&companies)
        .await
        .context("cannot lock the batch's companies")?;
    Ok(batch)
}

/// The end of a batch's transaction, before its commit: the deliveries' states, the follow-up jobs, the jobs'
/// completion.
async fn finish(
    state: &App,
    batch: &StatusBatch,
    jobs: &[ClaimedJob],
    marks: &mut Marks,
) -> anyhow::Result<()> {
    // Most deliveries end alike: one statement for those of each tenant, one per note otherwise.
    let mut plain: Vec<(TenantScope, Vec<Uuid>)> = Vec::new();
    for (scope, id, note) in &marks.processed {
        match note {
            None => match plain
                .iter_mut()
                .find(|(known, _)| known.tenant_id() == scope.tenant_id())
            {
                Some((_, ids)) => ids.push(*id),
                None => plain.push((scope.clone(), vec![*id])),
            },
            Some(note) => {
                batch
                    .finish_deliveries(scope, &[*id], DeliveryState::Processed, Some(note))
                    .await?;
            }
        }
    }
    for (scope, ids) in &plain {
        batch
            .finish_deliveries(scope, ids, DeliveryState::Processed, None)
            .await?;
    }
    for (scope, id, error) in &marks.failed {
        batch
            .finish_deliveries(scope, &[*id], DeliveryState::Failed, Some(error))
            .await?;
    }
    let now = state.jobs.queue.now_ms();
    marks.ring |= batch
        .enqueue(now, std::mem::take(&mut marks.follow_ups))
        .await
        .context("cannot enqueue the orders' reads")?
        > 0;
    let done: Vec<ClaimedJob> = marks
        .done
        .iter()
        .filter_map(|index| jobs.get(*index).cloned())
        .collect();
    batch
        .complete(now, &done)
        .await
        .context("the batch's jobs are no longer this worker's")?;
    Ok(())
}

/// One invoice's deliveries of the batch, in one pass: their events appended and folded once.
async fn apply_group(
    state: &App,
    batch: &StatusBatch,
    group: &Group,
) -> anyhow::Result<Option<super::Concluded>> {
    let events: Vec<_> = group
        .items
        .iter()
        .flat_map(|item| item.events.iter().cloned())
        .collect();
    if events.is_empty() {
        return Ok(None);
    }
    let Some(mut pass) = batch
        .begin_pass(&group.scope, group.invoice, None)
        .await
        .context("cannot read the invoice")?
    else {
        return Err(anyhow::anyhow!(
            "invoice {} does not exist for this tenant",
            group.invoice
        ));
    };
    let new = pass
        .append(&events, "webhook")
        .await
        .context("cannot append the status events")?;
    if new.is_empty() {
        pass.rollback()
            .await
            .context("cannot release the invoice")?;
        return Ok(None);
    }
    super::conclude_quietly(state, &group.scope, pass, super::Brought::Events(&new))
        .await
        .map(Some)
}
