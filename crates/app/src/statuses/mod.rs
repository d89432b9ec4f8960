//! Statuses in: webhook deliveries and polls feed one path (classify, append, fold, summarise, notify).
//!
//! Webhooks are fast but may be lost, repeated or reordered; polling is slow but complete. Both end in [`ingest`],
//! which, in one transaction with the invoice's row locked, appends events by dedup key (repeats are harmless),
//! folds every stored event again and enqueues what follows (status files, notifications of the tenant's members
//! when the supplier must act); then it tells the open pages.

mod files;
mod inbox;
mod notify;
mod sync;
mod webhook;

pub use inbox::DeliveryInbox;
pub use sync::{SweepReport, sweep_tenant_now};

use crate::App;
use crate::worker::{JobFailure, JobRegistry};
use anyhow::Context;
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::{ActionReason, InvoiceFacts, Source, StatusEvent};
use portal_persistence::TenantScope;
use portal_persistence::invoices::{InvoiceSummary, StatusPass, StoredEvent};
use portal_persistence::jobs::{ClaimedJob, NewJob};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// `{"delivery_id"}`: read a stored webhook delivery and apply it.
pub const WEBHOOK_JOB: &str = "billit.webhook";
/// `{"invoice_id","order_id"}`: read the order at Billit and apply it.
pub const SYNC_ORDER_JOB: &str = "billit.sync_order";
/// Periodic, firm-wide: one `billit.sweep_tenant` per connected tenant.
pub const SWEEP_JOB: &str = "billit.sweep";
/// `{}`: list the tenant's orders changed lately, and now and then re-read every open one.
pub const SWEEP_TENANT_JOB: &str = "billit.sweep_tenant";
/// `{"invoice_id","file_id"}`: download a status file and add what it says to its event.
pub const FETCH_FILE_JOB: &str = "billit.fetch_file";
/// `{"invoice_id","dedup_key"}`: email the members who want to know that an invoice needs action.
pub const NOTIFY_JOB: &str = "invoice.notify";

/// The job handlers of this area, and the periodic sweep.
pub fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    let poll_every = Duration::from_secs(state.settings.billit.poll_interval_secs.max(1));
    let purge = state.clone();
    let batch = state.clone();
    let (webhook, sync, sweep, sweep_tenant, fetch, notify) = (
        state.clone(),
        state.clone(),
        state.clone(),
        state.clone(),
        state.clone(),
        state.clone(),
    );
    registry
        .handle(WEBHOOK_JOB, move |job| webhook::run(webhook.clone(), job))
        .handle_batch(WEBHOOK_JOB, webhook::BATCH, move |jobs| {
            webhook::run_batch(batch.clone(), jobs)
        })
        .handle(SYNC_ORDER_JOB, move |job| {
            sync::run_sync_order(sync.clone(), job)
        })
        .handle(SWEEP_JOB, move |job| sync::run_sweep(sweep.clone(), job))
        .handle(SWEEP_TENANT_JOB, move |job| {
            sync::run_sweep_tenant(sweep_tenant.clone(), job)
        })
        .handle(FETCH_FILE_JOB, move |job| files::run(fetch.clone(), job))
        .handle(NOTIFY_JOB, move |job| notify::run(notify.clone(), job))
        .every(poll_every, SWEEP_JOB, serde_json::json!({}))
        .handle(PURGE_DELIVERIES_JOB, move |_job| {
            purge_deliveries(purge.clone())
        })
        .every(
            Duration::from_secs(24 * 3600),
            PURGE_DELIVERIES_JOB,
            serde_json::json!({}),
        )
}

/// Applies claimed `billit.webhook` jobs together, as a worker does when many are due (see
/// `webhook::run_batch`): one result per job, `Ok` when the job was completed with the batch's commit.
pub async fn apply_webhook_batch(
    state: App,
    jobs: Vec<ClaimedJob>,
) -> Vec<crate::worker::JobResult> {
    webhook::run_batch(state, jobs).await
}

/// Daily: raw webhook bodies are kept for 30 days after they were applied.
pub const PURGE_DELIVERIES_JOB: &str = "billit.deliveries_purge";
const DELIVERY_RETENTION_DAYS: i64 = 30;

async fn purge_deliveries(state: App) -> crate::worker::JobResult {
    let deliveries =
        portal_persistence::webhook_deliveries::WebhookDeliveryRepository::new(state.db.clone());
    let before = chrono::Utc::now() - chrono::Duration::days(DELIVERY_RETENTION_DAYS);
    let mut purged = 0;
    for scope in deliveries.tenants_with_deliveries().await? {
        purged += deliveries.purge_processed(&scope, before).await?;
    }
    tracing::debug!(purged, "old webhook deliveries purged");
    Ok(())
}

/// Applies what Billit said about an invoice, in one pass ([`StatusPass`]): its order's facts (when read from the
/// order) and its new events are saved, the events folded once, and the follow-up work of the new events (their
/// status files, the payments they acknowledge, the notifications) enqueued, all in one transaction; then the open
/// pages hear of it once.
pub async fn ingest(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    events: &[StatusEvent],
    facts: Option<InvoiceFacts>,
    via: &str,
) -> anyhow::Result<()> {
    if events.is_empty() && facts.is_none() {
        // Nothing to apply.
        return Ok(());
    }
    let Some(mut pass) = state
        .invoices
        .begin_pass(scope, invoice, facts.as_ref())
        .await
        .context("cannot read the invoice")?
    else {
        return Err(anyhow::anyhow!(
            "invoice {invoice} does not exist for this tenant"
        ))
        .context("cannot append the status events");
    };
    let new = pass
        .append(events, via)
        .await
        .context("cannot append the status events")?;
    if new.is_empty() && facts.is_none() {
        // Nothing the fold has not seen already.
        pass.rollback()
            .await
            .context("cannot release the invoice")?;
        return Ok(());
    }
    conclude(state, scope, pass, Brought::Events(&new)).await
}

/// What a pass brought to the invoice.
#[derive(Clone, Copy)]
pub(crate) enum Brought<'a> {
    /// These events, new to it.
    Events(&'a [StatusEvent]),
    /// What a status file says about one of its events (stored already).
    File(&'a StatusEvent),
}

/// Ends a pass: folds the invoice once, enqueues what follows from what the pass brought (the status files of
/// new events, the payments they acknowledge, the notifications due), commits, and tells the open pages once.
pub(crate) async fn conclude(
    state: &App,
    scope: &TenantScope,
    pass: StatusPass,
    brought: Brought<'_>,
) -> anyhow::Result<()> {
    conclude_quietly(state, scope, pass, brought)
        .await?
        .tell(state);
    Ok(())
}

/// What a concluded pass has to tell once its transaction is committed: the open pages, and this process's idle
/// workers when it enqueued jobs.
#[derive(Debug, Default)]
pub(crate) struct Concluded {
    live: Option<crate::live::LiveEvent>,
    enqueued: bool,
}

impl Concluded {
    pub(crate) fn tell(self, state: &App) {
        if self.enqueued {
            state.jobs.ring();
        }
        if let Some(event) = self.live {
            state.live.publish(event);
        }
    }
}

/// What follows from a fold, decided without I/O (so that a single pass and a batch's passes decide alike): the
/// jobs to enqueue (the status files of new events, the notifications due) and, when new events acknowledge
/// payments, how many acknowledgements the invoice has in all.
pub(crate) struct FollowUps {
    pub(crate) jobs: Vec<NewJob>,
    pub(crate) acknowledged: Option<usize>,
}

/// See [`FollowUps`]: `events` are all the invoice's stored events, `before`/`after` the fold's summaries.
pub(crate) fn follow_ups(
    scope: &TenantScope,
    invoice: InvoiceId,
    events: &[StoredEvent],
    before: &InvoiceSummary,
    after: &InvoiceSummary,
    brought: Brought<'_>,
) -> FollowUps {
    let (new, from_file) = match brought {
        Brought::Events(events) => (events, false),
        Brought::File(event) => (std::slice::from_ref(event), true),
    };
    let mut jobs = Vec::new();
    let mut acknowledged = None;
    if !from_file {
        for event in new {
            if let Some(file_id) = file_worth_reading(event) {
                jobs.push(
                    NewJob::for_tenant(
                        scope,
                        FETCH_FILE_JOB,
                        serde_json::json!({ "invoice_id": invoice, "file_id": file_id }),
                    )
                    .unique_key(bounded_key(&format!("file:{invoice}:"), file_id)),
                );
            }
        }
        if new.iter().any(StatusEvent::is_payment_acknowledgement) {
            // Every acknowledgement stored counts: a repeat changes nothing, and one that came before its payment
            // was marked reported is applied now.
            acknowledged = Some(
                events
                    .iter()
                    .filter(|stored| stored.event.is_payment_acknowledgement())
                    .count(),
            );
        }
    }
    for notice in notifications_due(before, after, new) {
        let key = match notice {
            Notice::Event(key) => key,
            Notice::Reasons(reasons) => key_for_reasons(events, &reasons),
        };
        jobs.push(
            NewJob::for_tenant(
                scope,
                NOTIFY_JOB,
                serde_json::json!({ "invoice_id": invoice, "dedup_key": key }),
            )
            .unique_key(bounded_key(&format!("notify:{invoice}:"), &key)),
        );
    }
    FollowUps { jobs, acknowledged }
}

/// What the open pages hear of a fold: the invoice changed (its new headline, if that changed).
pub(crate) fn live_event(
    scope: &TenantScope,
    invoice: InvoiceId,
    before: &InvoiceSummary,
    after: &InvoiceSummary,
    accepted: u64,
) -> Option<crate::live::LiveEvent> {
    (before != after || accepted > 0).then(|| crate::live::LiveEvent {
        tenant: scope.tenant_id(),
        invoice,
        headline: if before == after {
            None
        } else {
            after.headline.map(|code| code.0)
        },
    })
}

/// [`conclude`] without telling anyone: for a pass inside a batch, whose news waits for the batch's commit.
pub(crate) async fn conclude_quietly(
    state: &App,
    scope: &TenantScope,
    mut pass: StatusPass,
    brought: Brought<'_>,
) -> anyhow::Result<Concluded> {
    let invoice = pass.record().id;
    let (before, after) = pass
        .refold()
        .await
        .context("cannot fold the invoice's events")?;
    let FollowUps { jobs, acknowledged } =
        follow_ups(scope, invoice, pass.events(), &before, &after, brought);
    let accepted = match acknowledged {
        Some(acknowledged) => pass
            .accept_reported_payments(acknowledged)
            .await
            .context("cannot mark the payments accepted")?,
        None => 0,
    };
    let mut enqueued = !jobs.is_empty();
    if enqueued {
        pass.enqueue(state.jobs.queue.now_ms(), jobs)
            .await
            .context("cannot enqueue what follows the statuses")?;
    }
    // The company's own systems hear of it with the same commit (outgoing webhooks).
    let new = match brought {
        Brought::Events(events) => events,
        Brought::File(_) => &[],
    };
    let announce = crate::outgoing_webhooks::status_events(
        scope,
        pass.record(),
        &before,
        &after,
        new,
        accepted,
    );
    if !announce.is_empty() {
        let written = pass
            .emit_webhooks(&announce, crate::outgoing_webhooks::DELIVER_JOB)
            .await
            .context("cannot announce the statuses to the company's systems")?;
        enqueued |= written > 0;
    }
    pass.commit()
        .await
        .context("cannot save the invoice's statuses")?;
    if accepted > 0 {
        tracing::debug!(%invoice, accepted, "payments accepted by the tax authority");
    }
    let live = live_event(scope, invoice, &before, &after, accepted);
    Ok(Concluded { live, enqueued })
}

/// What an email is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Notice {
    /// This event (its dedup key).
    Event(String),
    /// The invoice came to need action, for these reasons, without a new event saying why in this batch.
    Reasons(Vec<ActionReason>),
}

/// What to notify about (one email per invoice and event; the job's unique key makes repeats harmless).
///
/// A new 207/208 is news each time it is still open after the fold. A final rejection is news only the first
/// time its reason appears: Billit reports a tax-data rejection both as a message and on the order, and one
/// email is enough. An event the fold ignores (a 213 DOUBLON on a re-delivery) or that an answer already closed
/// asks nothing. When the invoice comes to need action without such an event in this batch (another ingest
/// appended it and this fold saw it first, or the submission fails at Billit), the reasons say what it is about.
fn notifications_due(
    before: &InvoiceSummary,
    after: &InvoiceSummary,
    new: &[StatusEvent],
) -> Vec<Notice> {
    let mut notices = Vec::new();
    let mut announced = Vec::new();
    for event in new {
        let Some(reason) = event.effective_code().and_then(ActionReason::for_code) else {
            continue;
        };
        if !after.action_reasons.contains(&reason) {
            continue;
        }
        let is_request = matches!(
            reason,
            ActionReason::OpenDispute | ActionReason::OpenSuspension
        );
        if !is_request && (before.action_reasons.contains(&reason) || announced.contains(&reason)) {
            continue;
        }
        announced.push(reason);
        notices.push(Notice::Event(event.dedup_key.clone()));
    }
    if notices.is_empty() && after.needs_action && !before.needs_action {
        notices.push(Notice::Reasons(after.action_reasons.clone()));
    }
    notices
}

/// The key of an email about `reasons`: the stored event behind the first one (the latest open request, or the
/// earliest final rejection, as the fold reads them), so that it is the same key as the ingest that appended
/// that event uses; otherwise the reasons themselves. `events` are the invoice's, by time then dedup key.
fn key_for_reasons(events: &[StoredEvent], reasons: &[ActionReason]) -> String {
    for reason in reasons {
        let mut matching = events.iter().map(|stored| &stored.event).filter(|event| {
            event.effective_code().and_then(ActionReason::for_code) == Some(*reason)
        });
        let chosen = match reason {
            ActionReason::OpenDispute | ActionReason::OpenSuspension => matching.next_back(),
            _ => matching.next(),
        };
        if let Some(event) = chosen {
            return event.dedup_key.clone();
        }
    }
    let names: Vec<String> = reasons
        .iter()
        .filter_map(|reason| serde_json::to_value(reason).ok())
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    format!("needs-action:{}", names.join("+"))
}

/// The file of a new event that may explain it (a CDAR): statuses from the buyer's side, the platforms and the
/// tax authority, and anything that needs action or was not understood. The supplier's own messages carry the
/// invoice itself (UBL) and are left alone.
pub(super) fn file_worth_reading(event: &StatusEvent) -> Option<&str> {
    let file_id = event.file_id.as_deref().map(str::trim)?;
    if file_id.is_empty() {
        return None;
    }
    let needs_action = event.code.and_then(ActionReason::for_code).is_some();
    let from_outside = matches!(
        event.source,
        Source::Buyer | Source::BuyerPlatform | Source::Ppf | Source::Unknown
    );
    (needs_action || from_outside || event.is_unclassified()).then_some(file_id)
}

/// A job unique key (at most 255 characters): `prefix` + `rest`, or `prefix` + a hash of a long `rest`.
fn bounded_key(prefix: &str, rest: &str) -> String {
    let key = format!("{prefix}{rest}");
    if key.len() <= 255 {
        key
    } else {
        format!(
            "{prefix}sha256:{}",
            hex::encode(Sha256::digest(rest.as_bytes()))
        )
    }
}

/// The scope of a tenant job (a job without a tenant cannot touch tenant data).
fn scope_of(job: &ClaimedJob) -> Result<TenantScope, JobFailure> {
    job.tenant_scope()
        .ok_or_else(|| JobFailure::Permanent(anyhow::anyhow!("job {} has no tenant", job.kind)))
}

/// The job's payload, or a permanent failure (no retry will make it readable).
fn payload_of<T: serde::de::DeserializeOwned>(job: &ClaimedJob) -> Result<T, JobFailure> {
    job.payload().map_err(|error| {
        JobFailure::Permanent(anyhow::Error::from(error).context("unreadable job payload"))
    })
}

/// A Billit error as a job outcome: worth retrying when Billit was busy or unreachable (or refused the
/// credentials, which an admin may fix); permanent when the thing does not exist or the request is refused.
fn billit_failure(error: portal_billit::client::BillitError, doing: &str) -> JobFailure {
    use portal_billit::client::BillitError;
    let retry = error.is_transient()
        || matches!(
            error,
            BillitError::Unauthorized { .. } | BillitError::Decode(_)
        );
    let error = anyhow::Error::from(error).context(doing.to_owned());
    if retry {
        JobFailure::Retry(error)
    } else {
        JobFailure::Permanent(error)
    }
}

/// A tenant's Billit connection problem as a job outcome: only a database hiccup is worth retrying.
fn connection_failure(problem: crate::billit_connection::ConnectionProblem) -> JobFailure {
    use crate::billit_connection::ConnectionProblem;
    let retry = matches!(problem, ConnectionProblem::Database(_));
    let error = anyhow::Error::from(problem).context("no usable Billit connection");
    if retry {
        JobFailure::Retry(error)
    } else {
        JobFailure::Permanent(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use portal_domain::status::StatusCode;

    fn event(code: u16, key: &str) -> StatusEvent {
        StatusEvent::status(StatusCode(code), Source::Buyer, Utc::now(), key)
    }

    fn summary(reasons: &[ActionReason]) -> InvoiceSummary {
        InvoiceSummary {
            needs_action: !reasons.is_empty(),
            action_reasons: reasons.to_vec(),
            ..InvoiceSummary::default()
        }
    }

    #[test]
    fn a_new_open_dispute_is_announced_once_per_event() {
        let before = summary(&[]);
        let after = summary(&[ActionReason::OpenDispute]);
        let keys = notifications_due(&before, &after, &[event(203, "a"), event(207, "b")]);
        assert_eq!(keys, vec![Notice::Event("b".to_owned())]);
        // Already needing action for a dispute, a second dispute is still news.
        let keys = notifications_due(&after, &after, &[event(207, "c")]);
        assert_eq!(keys, vec![Notice::Event("c".to_owned())]);
    }

    #[test]
    fn a_final_rejection_is_announced_the_first_time_only() {
        let before = summary(&[]);
        let after = summary(&[ActionReason::TaxDataRejected]);
        let keys = notifications_due(&before, &after, &[event(251, "msg"), event(251, "order")]);
        assert_eq!(keys, vec![Notice::Event("msg".to_owned())]);
        assert!(notifications_due(&after, &after, &[event(251, "later")]).is_empty());
    }

    #[test]
    fn an_ignored_or_answered_request_asks_nothing() {
        let nothing = summary(&[]);
        assert!(notifications_due(&nothing, &nothing, &[event(213, "doublon")]).is_empty());
        assert!(notifications_due(&nothing, &nothing, &[event(207, "answered")]).is_empty());
    }

    #[test]
    fn needing_action_without_a_new_event_is_about_its_reasons() {
        let before = summary(&[]);
        let after = summary(&[ActionReason::SubmissionFailing]);
        assert_eq!(
            notifications_due(&before, &after, &[]),
            vec![Notice::Reasons(vec![ActionReason::SubmissionFailing])]
        );
        // Nothing new to say when it needed action already.
        assert!(notifications_due(&after, &after, &[]).is_empty());
    }

    #[test]
    fn long_keys_are_hashed_to_fit() {
        assert_eq!(bounded_key("file:1:", "abc"), "file:1:abc");
        let long = "x".repeat(400);
        let key = bounded_key("notify:1:", &long);
        assert!(key.len() <= 255 && key.starts_with("notify:1:sha256:"));
    }

    #[test]
    fn only_files_from_outside_or_about_actions_are_read() {
        let ubl = StatusEvent::status(StatusCode(201), Source::SellerPlatform, Utc::now(), "k")
            .with_file_id("ubl");
        assert_eq!(file_worth_reading(&ubl), None);
        let dispute = event(207, "k").with_file_id("cdar");
        assert_eq!(file_worth_reading(&dispute), Some("cdar"));
        let unknown =
            StatusEvent::unclassified(Source::Unknown, Utc::now(), "?", "k").with_file_id("f");
        assert_eq!(file_worth_reading(&unknown), Some("f"));
    }
}
