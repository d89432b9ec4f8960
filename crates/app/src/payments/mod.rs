//! Payments received (status 212): the supplier records what its customer paid, the portal reports each payment
//! to Billit (`POST /v1/orders/{id}/payments`, a `payment.report` job per payment) and follows it until the tax
//! authority accepts it (Billit's `CashCollected: Recevable` message, seen by the status ingestion).
//!
//! The checks a person can fix (amount, date, method, reference) happen here, before anything is stored; the one
//! that depends on the other payments (no more than what remains) happens in the repository's transaction.

pub(crate) mod report;

pub use report::{REPORT_JOB, failure_sentence, job as report_job};

use crate::App;
use crate::live::LiveEvent;
use crate::worker::JobRegistry;
use anyhow::Context;
use chrono::NaiveDate;
use portal_domain::actions::{Action, Refusal, decide};
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::{
    CancelOutcome, NewPayment, PaymentAmount, PaymentError, PaymentMethod, PaymentRecord,
    PaymentRepository, PaymentState, RecordOutcome, RecordedBy,
};
use uuid::Uuid;

/// The longest reference accepted (Billit's `Reference`).
pub const REFERENCE_MAX: usize = 140;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    report::register(registry, state)
}

pub fn repository(state: &App) -> PaymentRepository {
    state.payments.clone()
}

/// Today in France, the day a payment may be dated at the latest.
pub fn today() -> NaiveDate {
    crate::dates::today()
}

/// Whether payments may be recorded against this invoice: an invoice (not a credit note) that Billit has.
pub fn is_payable(invoice: &InvoiceRecord) -> bool {
    portal_domain::payments::is_payable(
        invoice.draft.document_type,
        invoice.submission,
        invoice.billit_order_id.is_some(),
    )
}

/// The table of actions' early answer on recording a payment (`action`: [`Action::RecordPayment`] or
/// [`Action::MarkFullyPaid`]) with what the invoice row says, before its payments are read (no query): a draft,
/// a credit note, a refused, rejected or cancelled invoice, one the payment track says paid. What the payments
/// recorded leave to pay is decided by [`record`], under the invoice's lock.
pub fn precheck(invoice: &InvoiceRecord, action: Action) -> Result<(), Refusal> {
    decide(action, &invoice.situation(0, None))
}

/// Tells the invoice's open pages that something changed.
pub fn publish(state: &App, scope: &TenantScope, invoice: InvoiceId) {
    state.live.publish(LiveEvent {
        tenant: scope.tenant_id(),
        invoice,
        headline: None,
    });
}

// ---- the tax authority's acknowledgements ----

/// Makes the accepted payments match every acknowledgement stored for the invoice (a repeat changes nothing; an
/// acknowledgement that came before its payment was marked reported is applied once it is). The status ingestion
/// does the same in its own pass when it stores an acknowledgement (Billit's `CashCollected: Recevable`, which
/// the classification marks).
pub async fn reconcile_acceptances(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
) -> anyhow::Result<()> {
    let acknowledged = state
        .invoices
        .payment_acknowledgements(scope, invoice)
        .await
        .context("cannot count the payments' acknowledgements")?;
    if acknowledged == 0 {
        return Ok(());
    }
    let accepted = repository(state)
        .accept_reported(
            scope,
            invoice,
            usize::try_from(acknowledged).unwrap_or(usize::MAX),
        )
        .await
        .context("cannot mark the payments accepted")?;
    if accepted > 0 {
        tracing::debug!(%invoice, accepted, "payments accepted by the tax authority");
        publish(state, scope, invoice);
    }
    Ok(())
}

/// "Mark as fully paid": what remains, today, by transfer.
pub fn remaining_today() -> NewPayment {
    NewPayment {
        amount: PaymentAmount::Remaining,
        paid_on: today(),
        method: PaymentMethod::Transfer,
        reference: None,
    }
}

// ---- the use cases: record, retry, cancel ----

/// Why a payment was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The table of actions refuses it (a credit note, an invoice not sent or that Billit does not have, a refused
    /// or rejected invoice, nothing remaining to be paid).
    #[error(transparent)]
    Refused(Refusal),
    #[error("the amount is more than the {remaining_cents} cents that remain")]
    Exceeds { remaining_cents: i64 },
    #[error("no such invoice")]
    NotFound,
    #[error("the payment could not be stored")]
    Storage(#[source] PaymentError),
}

/// Why a failed payment's report was not tried again.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// Reported, accepted, cancelled, or already waiting for its report.
    #[error("only a payment whose report failed can be reported again")]
    NotFailed,
    #[error("no such payment on this invoice")]
    NotFound,
    #[error("the retry could not be stored")]
    Storage(#[source] PaymentError),
}

/// Why a payment was not cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// Only a payment whose report failed may be cancelled (its state is given).
    #[error("only a payment whose report failed can be cancelled (this one is {0})")]
    NotFailed(PaymentState),
    #[error("no such payment on this invoice")]
    NotFound,
    #[error("the cancellation could not be stored")]
    Storage(#[source] PaymentError),
}

impl From<PaymentError> for RecordError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::NotFound => Self::NotFound,
            other => Self::Storage(other),
        }
    }
}

impl From<PaymentError> for RetryError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::NotFound => Self::NotFound,
            other => Self::Storage(other),
        }
    }
}

impl From<PaymentError> for CancelError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::NotFound => Self::NotFound,
            other => Self::Storage(other),
        }
    }
}

impl crate::Failure for RecordError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::Refused(_) | Self::Exceeds { .. } => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

impl crate::Failure for RetryError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::NotFailed => crate::FailureKind::Refused,
        }
    }
}

impl crate::Failure for CancelError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::NotFailed(_) => crate::FailureKind::Refused,
        }
    }
}

/// Records a payment received on `invoice` (or, with [`PaymentAmount::Remaining`], marks it fully paid) and its
/// report to Billit (a job, committed with the payment and the audit entry in one transaction). The table of
/// actions ([`crate::actions`]: [`crate::actions::Action::RecordPayment`] or
/// [`crate::actions::Action::MarkFullyPaid`]) is asked first (a page asks [`precheck`] before that), inside
/// that transaction under the invoice's row lock with the payments read there, and what remains is checked there
/// too, so two payments recorded at once cannot exceed it. The invoice's open pages hear of it.
pub async fn record(
    app: &App,
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    payment: NewPayment,
    by: RecordedBy,
) -> Result<PaymentRecord, RecordError> {
    let outcome = repository(app)
        .record(
            scope,
            invoice.id,
            &payment,
            by,
            app.jobs.queue.now_ms(),
            |payment| report_job(scope, invoice.id, payment, 0),
        )
        .await?;
    match outcome {
        RecordOutcome::Recorded(recorded) => {
            // The report's job was committed with the payment: wake a worker of this process.
            app.jobs.ring();
            publish(app, scope, invoice.id);
            Ok(*recorded)
        }
        RecordOutcome::Exceeds { remaining_cents } => Err(RecordError::Exceeds { remaining_cents }),
        RecordOutcome::Refused(refusal) => Err(RecordError::Refused(refusal)),
    }
}

/// Reports a failed payment again (a new job, and the audit entry, with the state change).
pub async fn retry(
    app: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    payment: Uuid,
    by: RecordedBy,
) -> Result<(), RetryError> {
    let repository = repository(app);
    let enqueued = repository
        .retry(
            scope,
            invoice,
            payment,
            by,
            app.jobs.queue.now_ms(),
            |retries| report_job(scope, invoice, payment, retries),
        )
        .await?;
    if enqueued.is_none() {
        let known = repository
            .get(scope, payment)
            .await
            .map_err(|error| RetryError::Storage(error.into()))?
            .is_some_and(|stored| stored.invoice_id == invoice);
        return Err(if known {
            RetryError::NotFailed
        } else {
            RetryError::NotFound
        });
    }
    app.jobs.ring();
    publish(app, scope, invoice);
    Ok(())
}

/// Cancels a payment whose report failed: it stays listed, struck out, and no longer counts in what remains.
pub async fn cancel(
    app: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    payment: Uuid,
    by: RecordedBy,
) -> Result<(), CancelError> {
    match repository(app).cancel(scope, invoice, payment, by).await? {
        CancelOutcome::Cancelled => {
            publish(app, scope, invoice);
            Ok(())
        }
        CancelOutcome::NotFailed(state) => Err(CancelError::NotFailed(state)),
    }
}
