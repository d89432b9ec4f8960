//! Sending an invoice to Billit.
//!
//! The request queues the invoice and enqueues its job in one transaction. The worker then creates the order with
//! the invoice's idempotency key (stable for the invoice's whole life), saves the order id at once, and sends it.
//! A crash anywhere leaves a job that resumes: before the id was saved, creating again with the same key makes
//! Billit answer with the order it already has; after, creation is skipped; a send that already went through
//! answers `OrderAlreadySent`, which counts as done. So no submission is lost and no second order is created.

use super::billit_order::order_for;
use super::drafts::{issue_year, problems_of, rate_set_for};
use crate::App;
use crate::billit_connection::{ConnectionProblem, client_for};
use crate::i18n::Tr;
use crate::live::LiveEvent;
use crate::worker::{JobFailure, JobRegistry, JobResult};
use chrono::Utc;
use portal_billit::client::{ApiErrorDetail, BillitClient, BillitError};
use portal_domain::identifiers::Siren;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{DocumentType, InvoiceDraft, Problem, check_before_submission};
use portal_domain::{Language, Localized};
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceRecord, SubmissionState};
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::settlements::{CreditNoteQueue, InvoiceRelation};
use serde::{Deserialize, Serialize};

/// The job that creates and sends the order.
pub const SUBMIT_JOB: &str = "invoice.submit";
/// The statuses area's job that reads the order back after it was sent.
pub const SYNC_JOB: &str = "billit.sync_order";

/// `{"invoice_id": "<uuid>"}`, plus the language of whoever sent it, for the sentences the job writes.
#[derive(Debug, Serialize, Deserialize)]
struct SubmitPayload {
    invoice_id: String,
    #[serde(default)]
    language: Option<String>,
}

/// The draft as the check needs it: the seller's SIREN, and the rates of the territory its lines use.
pub fn draft_for_check(record: &InvoiceRecord, seller_siren: &str) -> InvoiceDraft {
    let mut draft = record.draft.clone();
    draft.seller_siren = Siren::parse(seller_siren).ok();
    draft.vat_rate_set = rate_set_for(&draft.lines);
    draft
}

/// What asking to send an invoice did.
#[derive(Debug)]
pub enum QueueOutcome {
    /// Queued; a worker sends it.
    Queued,
    /// Not sent: the check found problems (they are shown next to the fields).
    Problems(Vec<Problem>),
    /// Not a draft or a failed submission (already on its way, or sent).
    NotSubmittable,
    /// A credit note taking back more than the `remaining_cents` of its original (checked under the original's
    /// lock, so another credit note queued at the same moment counts).
    OverCreditLimit { remaining_cents: i64 },
}

/// Checks the stored invoice again and, if nothing is wrong, queues it with its job and the audit entry `audit`
/// when there is one (the demo has none), in one transaction: nothing queued, no entry.
pub async fn queue(
    state: &App,
    scope: &TenantScope,
    seller_siren: &str,
    record: &InvoiceRecord,
    language: Language,
    audit: Option<AuditEntry>,
) -> anyhow::Result<QueueOutcome> {
    if !record.submission.is_editable() {
        return Ok(QueueOutcome::NotSubmittable);
    }
    let draft = draft_for_check(record, seller_siren);
    let taken = match issue_year(&draft) {
        Some(year) => {
            state
                .invoices
                .number_taken(scope, year, &draft.number, Some(record.id))
                .await?
        }
        None => false,
    };
    let problems = problems_of(&draft, taken);
    if !problems.is_empty() {
        return Ok(QueueOutcome::Problems(problems));
    }
    let id = record.id;
    let payload = serde_json::json!({
        "invoice_id": id.to_string(),
        "language": language.code(),
    });
    let job = |attempts: i32| {
        NewJob::for_tenant(scope, SUBMIT_JOB, payload).unique_key(format!("submit:{id}:{attempts}"))
    };
    let now_ms = state.jobs.queue.now_ms();
    match record.related {
        Some((original, InvoiceRelation::CreditNoteFor))
            if record.draft.document_type == DocumentType::CreditNote =>
        {
            match state
                .invoices
                .queue_credit_note_submission(scope, id, original, now_ms, job, audit)
                .await?
            {
                CreditNoteQueue::Queued(_) => {}
                CreditNoteQueue::OverLimit { remaining_cents } => {
                    return Ok(QueueOutcome::OverCreditLimit { remaining_cents });
                }
                CreditNoteQueue::NotQueued => return Ok(QueueOutcome::NotSubmittable),
            }
        }
        _ => {
            if state
                .invoices
                .queue_submission(scope, id, now_ms, job, audit)
                .await?
                .is_none()
            {
                return Ok(QueueOutcome::NotSubmittable);
            }
        }
    }
    // The job was committed with the invoice: wake a worker of this process.
    state.jobs.ring();
    publish(state, scope, id);
    Ok(QueueOutcome::Queued)
}

/// The job handlers of this area.
pub fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    let state = state.clone();
    registry.handle(SUBMIT_JOB, move |job: ClaimedJob| {
        let state = state.clone();
        async move { run(&state, job).await }
    })
}

fn publish(state: &App, scope: &TenantScope, invoice: InvoiceId) {
    state.live.publish(LiveEvent {
        tenant: scope.tenant_id(),
        invoice,
        headline: None,
    });
}

/// Why a submission did not go through.
enum Failure {
    /// Worth trying again (Billit busy or unreachable): the sentence says so.
    Transient(String),
    /// Billit refused it, or the portal cannot talk to Billit: the user must act.
    Definitive(String),
    /// The portal's own failure (database): retried like any job.
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::Internal(error.into())
    }
}

async fn run(state: &App, job: ClaimedJob) -> JobResult {
    let scope = job.tenant_scope().ok_or_else(|| {
        JobFailure::Permanent(anyhow::anyhow!("{SUBMIT_JOB} job without a tenant"))
    })?;
    let payload: SubmitPayload = job
        .payload()
        .map_err(|error| JobFailure::Permanent(error.into()))?;
    let id = InvoiceId::parse(&payload.invoice_id).ok_or_else(|| {
        JobFailure::Permanent(anyhow::anyhow!("not an invoice id: {}", payload.invoice_id))
    })?;
    let t = Tr::new(
        payload
            .language
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or_default(),
    );
    let Some(invoice) = state.invoices.get(&scope, id).await? else {
        tracing::info!(invoice = %id, "the invoice was deleted before it was sent");
        return Ok(());
    };
    if !matches!(
        invoice.submission,
        SubmissionState::Queued | SubmissionState::Sending
    ) {
        // Sent by an earlier run, or given back to the user since: nothing to do.
        tracing::info!(invoice = %id, state = invoice.submission.as_str(), "submission job has nothing to do");
        return Ok(());
    }
    state.invoices.mark_sending(&scope, id).await?;
    publish(state, &scope, id);
    match submit(state, &scope, &invoice, t).await {
        Ok(order_id) => {
            state.invoices.mark_sent(&scope, id, Utc::now()).await?;
            publish(state, &scope, id);
            let sync = NewJob::for_tenant(
                &scope,
                SYNC_JOB,
                serde_json::json!({ "invoice_id": id.to_string(), "order_id": order_id }),
            )
            .unique_key(format!("sync-after-send:{id}:{order_id}"));
            state.jobs.enqueue(sync).await?;
            tracing::info!(invoice = %id, order_id, "invoice sent to Billit");
            Ok(())
        }
        Err(Failure::Transient(message)) if job.is_last_attempt() => {
            let message = t.fill("editor.billit_gave_up", &[("reason", &message)]);
            state.invoices.mark_failed(&scope, id, &message).await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(anyhow::anyhow!(message)))
        }
        Err(Failure::Transient(message)) => {
            let sentence = t.fill("editor.billit_retrying", &[("reason", &message)]);
            state.invoices.note_retry(&scope, id, &sentence).await?;
            publish(state, &scope, id);
            Err(JobFailure::Retry(anyhow::anyhow!(message)))
        }
        Err(Failure::Definitive(message)) => {
            state.invoices.mark_failed(&scope, id, &message).await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(anyhow::anyhow!(message)))
        }
        Err(Failure::Internal(error)) if job.is_last_attempt() => {
            state
                .invoices
                .mark_failed(&scope, id, t.get("editor.submit_internal"))
                .await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(error))
        }
        Err(Failure::Internal(error)) => Err(JobFailure::Retry(error)),
    }
}

/// Creates the order unless the invoice already has one, then sends it. Returns the order id.
async fn submit(
    state: &App,
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    t: Tr,
) -> Result<i64, Failure> {
    let client = match client_for(state, scope).await {
        Ok((client, _)) => client,
        Err(ConnectionProblem::Database(error)) => return Err(Failure::Internal(error.into())),
        Err(
            problem @ (ConnectionProblem::NotConfigured
            | ConnectionProblem::Incomplete
            | ConnectionProblem::NoEmbeddedSandbox),
        ) => {
            tracing::info!(problem = %problem, "no usable Billit connection");
            return Err(Failure::Definitive(
                t.get("editor.billit_not_configured").to_owned(),
            ));
        }
        Err(problem) => {
            tracing::error!(problem = %problem, "the Billit connection cannot be used");
            return Err(Failure::Definitive(
                t.get("editor.billit_connection_broken").to_owned(),
            ));
        }
    };
    let order_id = match invoice.billit_order_id {
        Some(order_id) => order_id,
        None => {
            let tenant = state
                .tenants
                .find_by_id(scope.tenant_id())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the invoice's tenant is gone"))?;
            let draft = draft_for_check(invoice, &tenant.siren);
            // Uniqueness was checked when it was queued; the database's unique index keeps it so.
            let checked = check_before_submission(&draft, &|_: &_| false).map_err(|problems| {
                let list: Vec<String> = problems
                    .iter()
                    .map(|problem| format!("{} · {}", problem.term, problem.message(t.lang)))
                    .collect();
                Failure::Definitive(
                    t.fill("editor.submit_problems", &[("problems", &list.join(" ; "))]),
                )
            })?;
            let order = order_for(&checked);
            let order_id = client
                .create_order(&order, &invoice.idempotency_key)
                .await
                .map_err(|error| failure_of(&error, invoice, t))?;
            state
                .invoices
                .set_order_id(scope, invoice.id, order_id)
                .await?;
            order_id
        }
    };
    match client.send_orders(&[order_id], "Peppol").await {
        Ok(()) => Ok(order_id),
        Err(error) if has_code(&error, "OrderAlreadySent") => {
            tracing::info!(
                order_id,
                "the order was already sent (an earlier run got that far)"
            );
            Ok(order_id)
        }
        Err(error) => Err(failure_of(&error, invoice, t)),
    }
}

fn codes(error: &BillitError) -> &[ApiErrorDetail] {
    match error {
        BillitError::Validation { errors, .. } | BillitError::Conflict { errors } => errors,
        _ => &[],
    }
}

fn has_code(error: &BillitError, code: &str) -> bool {
    codes(error)
        .iter()
        .any(|detail| detail.code.as_deref() == Some(code))
}

/// Billit's refusal as a sentence the user can act on.
fn failure_of(error: &BillitError, invoice: &InvoiceRecord, t: Tr) -> Failure {
    tracing::info!(error = %error, invoice = %invoice.id, "Billit did not take the invoice");
    let reason = error.message(t.lang);
    if error.is_transient() {
        return Failure::Transient(reason);
    }
    if matches!(error, BillitError::Unauthorized { .. }) {
        return Failure::Definitive(t.get("editor.billit_unauthorized").to_owned());
    }
    let known = codes(error).iter().find_map(|detail| {
        let key = match detail.code.as_deref()? {
            "OrderNumberAlreadyExists" => "editor.billit_number_exists",
            "InvalidOrderNumber" | "OrderNumberIsRequired" => "editor.billit_number_invalid",
            "InvalidVATPercentage" | "VATPercentageIsRequired" => "editor.billit_vat_invalid",
            "TheCustomerIsNotActiveOnPeppol" => "editor.billit_customer_not_on_network",
            "AboutInvoiceNumberIsRequired" => "editor.billit_corrects_missing",
            "CustomerIsRequired" | "CustomerNameIsRequired" => "editor.billit_customer_missing",
            "OrderLinesAreRequired" | "UnitPriceIsRequired" => "editor.billit_lines_missing",
            "AmountOutOfRange" => "editor.billit_amount_out_of_range",
            _ => return None,
        };
        Some(key)
    });
    Failure::Definitive(match known {
        Some(key) => t.fill(key, &[("number", invoice.number()), ("reason", &reason)]),
        None => t.fill("editor.billit_refused", &[("reason", &reason)]),
    })
}
