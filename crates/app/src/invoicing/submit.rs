//! Sending an invoice to Billit.
//!
//! The request queues the invoice and enqueues its job in one transaction. The worker then creates the order with
//! the invoice's idempotency key (stable for the invoice's whole life), saves the order id at once, and sends it.
//! A crash anywhere leaves a job that resumes: before the id was saved, creating again with the same key makes
//! Billit answer with the order it already has; after, creation is skipped; a send that already went through
//! answers `OrderAlreadySent`, which counts as done. So no submission is lost and no second order is created.

use super::billit_order::{order_for, paid_at_issue};
use super::directory::{DirectoryError, check_buyer};
use super::drafts::{issue_year, problems_of, rate_set_for};
use crate::App;
use crate::billit_connection::{ConnectionProblem, client_for};
use crate::failures::{self, Failure as StoredFailure};
use crate::i18n::Tr;
use crate::live::LiveEvent;
use crate::worker::{JobFailure, JobRegistry, JobResult};
use chrono::Utc;
use portal_billit::client::{BillitClient, BillitError};
use portal_domain::actions::{Action, Refusal, decide};
use portal_domain::identifiers::Siren;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{DocumentType, InvoiceDraft, Problem, check_before_submission};
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

/// `{"invoice_id": "<uuid>"}`. (Jobs queued before the failures were stored as codes also carry the sender's
/// `language`, no longer needed: the page puts the failure into its reader's words.)
#[derive(Debug, Serialize, Deserialize)]
struct SubmitPayload {
    invoice_id: String,
}

/// The code of a submission that no longer passes the check when the job runs: `invoice.problems:<terms>`,
/// the business terms concerned (`BT-1, BT-9`); the editor shows each problem next to its field.
pub const PROBLEMS: &str = "invoice.problems";

/// The draft as the check needs it: the seller's SIREN, and the rates of the territory its lines use.
pub fn draft_for_check(record: &InvoiceRecord, seller_siren: &str) -> InvoiceDraft {
    let mut draft = record.draft.clone();
    draft.seller_siren = Siren::parse(seller_siren).ok();
    draft.vat_rate_set = rate_set_for(&draft.lines);
    draft
}

/// Why an invoice was not queued for sending.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The check found problems (they are shown next to the fields).
    #[error("the invoice does not pass the checks before submission ({} problems)", .0.len())]
    Problems(Vec<Problem>),
    /// The table of actions refuses it: sending a draft, or retrying a failed submission, and nothing else
    /// (already on its way, or sent).
    #[error(transparent)]
    Refused(Refusal),
    /// No longer a draft or a failed submission when it was to be queued (queued meanwhile by someone else).
    #[error("only a draft or a failed submission can be sent")]
    NotSubmittable,
    /// The directory says the buyer's electronic address cannot receive e-invoices: nothing is sent (Billit would
    /// refuse the strict send, or fall back to email).
    #[error("the buyer's address {address} cannot receive e-invoices")]
    BuyerUnreachable { address: String },
    /// The directory could not be asked, so whether the buyer can receive the invoice is unknown: nothing is sent.
    #[error("the directory could not be asked before sending")]
    DirectoryUnavailable(#[source] BillitError),
    /// A credit note taking back more than the `remaining_cents` of its original (checked under the original's
    /// lock, so another credit note queued at the same moment counts).
    #[error("the credit note takes back more than the {remaining_cents} cents that remain")]
    OverCreditLimit { remaining_cents: i64 },
    #[error("the submission could not be stored")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for QueueError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::Problems(_)
            | Self::Refused(_)
            | Self::NotSubmittable
            | Self::OverCreditLimit { .. }
            | Self::BuyerUnreachable { .. }
            | Self::DirectoryUnavailable(_) => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

/// What queueing `record` is, for the table of actions: retrying a failed submission, else sending.
pub fn queue_action(record: &InvoiceRecord) -> Action {
    if record.submission == SubmissionState::Failed {
        Action::Retry
    } else {
        Action::Send
    }
}

fn storage(error: impl Into<anyhow::Error>) -> QueueError {
    QueueError::Storage(error.into())
}

/// Checks the stored invoice again and, if the table of actions lets it be sent (a draft) or retried (a failed
/// submission, see [`queue_action`]) and nothing is wrong, queues it with its job and the audit entry `audit`
/// when there is one (the demo has none), in one transaction: nothing queued, no entry. Returns the invoice as
/// queued.
pub async fn queue(
    state: &App,
    scope: &TenantScope,
    seller_siren: &str,
    record: &InvoiceRecord,
    audit: Option<AuditEntry>,
) -> Result<InvoiceRecord, QueueError> {
    decide(
        queue_action(record),
        &crate::actions::without_amounts(record),
    )
    .map_err(QueueError::Refused)?;
    let draft = draft_for_check(record, seller_siren);
    let taken = match issue_year(&draft) {
        Some(year) => state
            .invoices
            .number_taken(scope, year, &draft.number, Some(record.id))
            .await
            .map_err(storage)?,
        None => false,
    };
    let problems = problems_of(&draft, taken);
    if !problems.is_empty() {
        return Err(QueueError::Problems(problems));
    }
    check_directory(state, scope, record).await?;
    let id = record.id;
    let payload = serde_json::json!({ "invoice_id": id.to_string() });
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
                .await
                .map_err(storage)?
            {
                CreditNoteQueue::Queued(_) => {}
                CreditNoteQueue::OverLimit { remaining_cents } => {
                    return Err(QueueError::OverCreditLimit { remaining_cents });
                }
                CreditNoteQueue::NotQueued => return Err(QueueError::NotSubmittable),
            }
        }
        _ => {
            if state
                .invoices
                .queue_submission(scope, id, now_ms, job, audit)
                .await
                .map_err(storage)?
                .is_none()
            {
                return Err(QueueError::NotSubmittable);
            }
        }
    }
    // The invoice as queued, read before a worker is woken: one woken first could already be sending it, and the
    // answer to "queue it" would then depend on the race.
    let queued = state
        .invoices
        .get(scope, id)
        .await
        .map_err(storage)?
        .ok_or(QueueError::NotSubmittable)?;
    // The job was committed with the invoice: wake a worker of this process.
    state.jobs.ring();
    publish(state, scope, id);
    Ok(queued)
}

/// The directory check before queueing (see [`directory`](super::directory)). Without a usable Billit connection
/// there is nothing to ask: the submission job then says what is missing, as it always did.
async fn check_directory(
    state: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
) -> Result<(), QueueError> {
    let client = match client_for(state, scope).await {
        Ok((client, _)) => client,
        Err(ConnectionProblem::Database(error)) => return Err(storage(error)),
        Err(problem) => {
            tracing::debug!(problem = %problem, "no Billit connection to ask the directory with");
            return Ok(());
        }
    };
    match check_buyer(state, scope, &client, record, Utc::now()).await {
        Ok(()) => Ok(()),
        Err(DirectoryError::Unreachable { address }) => {
            Err(QueueError::BuyerUnreachable { address })
        }
        Err(DirectoryError::Unavailable(error)) => Err(QueueError::DirectoryUnavailable(error)),
        Err(DirectoryError::Database(error)) => Err(storage(error)),
    }
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
    /// Worth trying again (Billit busy or unreachable), with its cause (see [`failures::cause_of`]).
    Transient(String),
    /// Billit refused it, or the portal cannot talk to Billit: the user must act. The failure as stored (its
    /// code, see [`failures`]).
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
    let Some(invoice) = state.invoices.get(&scope, id).await? else {
        tracing::debug!(invoice = %id, "the invoice was deleted before it was sent");
        return Ok(());
    };
    if !matches!(
        invoice.submission,
        SubmissionState::Queued | SubmissionState::Sending
    ) {
        // Sent by an earlier run, or given back to the user since: nothing to do.
        tracing::debug!(invoice = %id, state = invoice.submission.as_str(), "submission job has nothing to do");
        return Ok(());
    }
    state.invoices.mark_sending(&scope, id).await?;
    publish(state, &scope, id);
    match submit(state, &scope, &invoice).await {
        Ok(order_id) => {
            if let Some(paid_on) = invoice.draft.paid_at_issue {
                // Billit reports this payment itself (the order was created paid): the portal records it as
                // reported, so it is neither reported again nor recorded twice.
                state
                    .payments
                    .record_paid_at_issue(&scope, id, invoice.totals.incl, paid_on)
                    .await?;
            }
            state.invoices.mark_sent(&scope, id, Utc::now()).await?;
            publish(state, &scope, id);
            let sync = NewJob::for_tenant(
                &scope,
                SYNC_JOB,
                serde_json::json!({ "invoice_id": id.to_string(), "order_id": order_id }),
            )
            .unique_key(format!("sync-after-send:{id}:{order_id}"));
            state.jobs.enqueue(sync).await?;
            tracing::debug!(invoice = %id, order_id, "invoice sent to Billit");
            Ok(())
        }
        Err(Failure::Transient(cause)) if job.is_last_attempt() => {
            let stored = failures::encode(failures::GAVE_UP, &cause);
            mark_failed(state, &scope, &invoice, &stored).await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(anyhow::anyhow!(stored)))
        }
        Err(Failure::Transient(cause)) => {
            let stored = failures::encode(failures::UNREACHABLE, &cause);
            state.invoices.note_retry(&scope, id, &stored).await?;
            publish(state, &scope, id);
            Err(JobFailure::Retry(anyhow::anyhow!(stored)))
        }
        Err(Failure::Definitive(stored)) => {
            mark_failed(state, &scope, &invoice, &stored).await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(anyhow::anyhow!(stored)))
        }
        Err(Failure::Internal(error)) if job.is_last_attempt() => {
            mark_failed(state, &scope, &invoice, failures::INTERNAL).await?;
            publish(state, &scope, id);
            Err(JobFailure::Permanent(error))
        }
        Err(Failure::Internal(error)) => Err(JobFailure::Retry(error)),
    }
}

/// The submission failed for good: the invoice says so, and the company's systems hear of it (outgoing webhooks),
/// in one transaction.
async fn mark_failed(
    state: &App,
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    stored: &str,
) -> anyhow::Result<()> {
    let announce = crate::outgoing_webhooks::failure_events(scope, invoice, stored);
    state
        .invoices
        .mark_failed_announcing(
            scope,
            invoice.id,
            stored,
            &announce,
            crate::outgoing_webhooks::DELIVER_JOB,
        )
        .await?;
    state.jobs.ring();
    Ok(())
}

/// Creates the order unless the invoice already has one, then sends it. Returns the order id.
async fn submit(state: &App, scope: &TenantScope, invoice: &InvoiceRecord) -> Result<i64, Failure> {
    let client = match client_for(state, scope).await {
        Ok((client, _)) => client,
        Err(ConnectionProblem::Database(error)) => return Err(Failure::Internal(error.into())),
        Err(
            problem @ (ConnectionProblem::NotConfigured
            | ConnectionProblem::Incomplete
            | ConnectionProblem::NoEmbeddedSandbox),
        ) => {
            tracing::debug!(problem = %problem, "no usable Billit connection");
            return Err(Failure::Definitive(failures::NOT_CONFIGURED.to_owned()));
        }
        Err(problem) => {
            tracing::error!(problem = %problem, "the Billit connection cannot be used");
            return Err(Failure::Definitive(failures::CONNECTION_BROKEN.to_owned()));
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
                let mut terms: Vec<&str> = problems.iter().map(|problem| problem.term).collect();
                terms.dedup();
                Failure::Definitive(failures::encode(PROBLEMS, &terms.join(", ")))
            })?;
            let order = paid_at_issue(order_for(&checked), invoice.draft.paid_at_issue);
            let order_id = client
                .create_order(&order, &invoice.idempotency_key)
                .await
                .map_err(|error| failure_of(&error, invoice.id))?;
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
            tracing::debug!(
                order_id,
                "the order was already sent (an earlier run got that far)"
            );
            Ok(order_id)
        }
        Err(error) => Err(failure_of(&error, invoice.id)),
    }
}

fn has_code(error: &BillitError, code: &str) -> bool {
    failures::errors_of(error)
        .iter()
        .any(|detail| detail.code.as_deref() == Some(code))
}

/// Billit's answer as the failure the invoice keeps.
fn failure_of(error: &BillitError, invoice: InvoiceId) -> Failure {
    tracing::debug!(error = %error, invoice = %invoice, "Billit did not take the invoice");
    if error.is_transient() {
        return Failure::Transient(failures::cause_of(error));
    }
    let code = match error {
        BillitError::Unauthorized { .. } => failures::UNAUTHORIZED.to_owned(),
        BillitError::NotFound => failures::NOT_FOUND.to_owned(),
        BillitError::Decode(_) => failures::UNEXPECTED_ANSWER.to_owned(),
        BillitError::Invalid(_) => failures::CONNECTION_BROKEN.to_owned(),
        _ => failures::encode(
            failures::REFUSED,
            &failures::billit_details(failures::errors_of(error)),
        ),
    };
    Failure::Definitive(code)
}

/// The sentence for a Billit code the user can act on (`{number}` is the invoice's).
fn refusal_key(billit_code: &str) -> Option<&'static str> {
    Some(match billit_code {
        "OrderNumberAlreadyExists" => "editor.billit_number_exists",
        "InvalidOrderNumber" | "OrderNumberIsRequired" => "editor.billit_number_invalid",
        "InvalidVATPercentage" | "VATPercentageIsRequired" => "editor.billit_vat_invalid",
        "TheCustomerIsNotActiveOnPeppol" => "editor.billit_customer_not_on_network",
        "AboutInvoiceNumberIsRequired" => "editor.billit_corrects_missing",
        "CustomerIsRequired" | "CustomerNameIsRequired" => "editor.billit_customer_missing",
        "OrderLinesAreRequired" | "UnitPriceIsRequired" => "editor.billit_lines_missing",
        "AmountOutOfRange" => "editor.billit_amount_out_of_range",
        _ => return None,
    })
}

/// Why the invoice's submission failed (or is late), in the reader's words; `None` when nothing is wrong.
/// A row written before the failures were codes holds a sentence, shown as it is.
pub fn failure_sentence(invoice: &InvoiceRecord, t: Tr) -> Option<String> {
    let stored = invoice
        .submission_error
        .as_deref()
        .map(str::trim)
        .filter(|stored| !stored.is_empty())?;
    Some(failure_words(stored, invoice.number(), t))
}

pub(crate) fn failure_words(stored: &str, number: &str, t: Tr) -> String {
    let Some(StoredFailure { code, param }) = StoredFailure::parse(stored) else {
        return stored.to_owned();
    };
    let key = match code {
        failures::NOT_CONFIGURED => "editor.billit_not_configured",
        failures::CONNECTION_BROKEN => "editor.billit_connection_broken",
        failures::UNAUTHORIZED => "editor.billit_unauthorized",
        failures::NOT_FOUND => "editor.billit_not_found",
        failures::UNEXPECTED_ANSWER => "editor.billit_unexpected_answer",
        failures::INTERNAL => "editor.submit_internal",
        failures::UNREACHABLE | failures::GAVE_UP => {
            let key = if code == failures::GAVE_UP {
                "editor.billit_gave_up"
            } else {
                "editor.billit_retrying"
            };
            return t.fill(key, &[("reason", &failures::cause_words(param, t))]);
        }
        PROBLEMS => return t.fill("editor.failure_problems", &[("problems", param)]),
        failures::REFUSED => {
            return match failures::billit_codes(param).find_map(refusal_key) {
                Some(key) => t.fill(key, &[("number", number)]),
                None if param.trim().is_empty() => t.fill(
                    "editor.billit_refused",
                    &[("reason", t.get("failure.no_detail"))],
                ),
                None => t.fill("editor.billit_refused", &[("reason", param)]),
            };
        }
        // A code of a later version, or a text that only looks like one: shown as it is.
        _ => return stored.to_owned(),
    };
    t.get(key).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    const FR: Tr = Tr { lang: Language::Fr };
    const EN: Tr = Tr { lang: Language::En };

    #[test]
    fn a_stored_failure_reads_in_the_readers_language() {
        let stored = "billit.refused:OrderNumberAlreadyExists: Order number F-1 already exists";
        assert_eq!(
            failure_words(stored, "F-1", FR),
            "Billit a déjà une facture numérotée F-1 cette année : changez le numéro, puis envoyez à nouveau."
        );
        assert_eq!(
            failure_words(stored, "F-1", EN),
            "Billit already has an invoice numbered F-1 this year: change the number, then send again."
        );
        // A known code after an unknown one still finds its sentence.
        assert!(
            failure_words("billit.refused:Other: x; AmountOutOfRange", "F-1", EN)
                .starts_with("Billit refuses an amount that is too large")
        );
        assert_eq!(
            failure_words("billit.refused:SomethingNew: Billit's own words", "F-1", FR),
            "Billit a refusé la facture : SomethingNew: Billit's own words"
        );
        assert_eq!(
            failure_words("billit.refused", "F-1", EN),
            "Billit refused the invoice: no detail"
        );
        assert_eq!(
            failure_words("billit.unreachable:http_503", "F-1", FR),
            "Billit ne répond pas pour l’instant (erreur du serveur, HTTP 503) : le portail réessaiera automatiquement."
        );
        assert_eq!(
            failure_words("billit.gave_up:transport", "F-1", EN),
            "Billit did not answer after several attempts (no connection). Send it again later."
        );
        assert!(
            failure_words("connection.not_configured", "F-1", FR)
                .contains("configurer la connexion Billit")
        );
        assert!(
            failure_words("connection.not_configured", "F-1", EN)
                .contains("configure the Billit connection")
        );
        assert!(failure_words("invoice.problems:BT-1, BT-9", "F-1", EN).contains("(BT-1, BT-9)"));
        for code in [
            failures::NOT_CONFIGURED,
            failures::CONNECTION_BROKEN,
            failures::UNAUTHORIZED,
            failures::NOT_FOUND,
            failures::UNEXPECTED_ANSWER,
            failures::INTERNAL,
        ] {
            for t in [FR, EN] {
                let words = failure_words(code, "F-1", t);
                assert!(
                    !words.starts_with("editor.") && words != code,
                    "{code}: {words}"
                );
            }
        }
    }

    #[test]
    fn a_sentence_written_before_the_codes_is_shown_as_it_is() {
        for old in [
            "Billit a refusé le numéro de facture.",
            "Billit ne répond pas pour l’instant (Billit est injoignable) : le portail réessaiera automatiquement.",
            "billit.something_new",
        ] {
            assert_eq!(failure_words(old, "F-1", EN), old);
        }
    }

    #[test]
    fn billit_refusals_are_stored_as_codes_with_billits_words() {
        let invoice_error = |error: BillitError| match failure_of(&error, InvoiceId::new()) {
            Failure::Definitive(stored) => stored,
            Failure::Transient(cause) => format!("transient {cause}"),
            Failure::Internal(error) => format!("internal {error}"),
        };
        assert_eq!(
            invoice_error(BillitError::Validation {
                status: 400,
                errors: vec![portal_billit::client::ApiErrorDetail {
                    code: Some("OrderNumberAlreadyExists".into()),
                    description: Some("taken".into()),
                }],
            }),
            "billit.refused:OrderNumberAlreadyExists: taken"
        );
        assert_eq!(
            invoice_error(BillitError::Unauthorized { status: 401 }),
            "billit.unauthorized"
        );
        assert_eq!(
            invoice_error(BillitError::Server { status: 503 }),
            "transient http_503"
        );
        assert_eq!(invoice_error(BillitError::NotFound), "billit.not_found");
    }
}
