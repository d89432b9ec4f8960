//! Payments received (status 212): the supplier records what its customer paid, the portal reports each payment
//! to Billit (`POST /v1/orders/{id}/payments`, a `payment.report` job per payment) and follows it until the tax
//! authority accepts it (Billit's `CashCollected: Recevable` message, seen by the status ingestion).
//!
//! The checks a person can fix (amount, date, method, reference) happen here, before anything is stored; the one
//! that depends on the other payments (no more than what remains) happens in the repository's transaction.

mod report;

pub use report::{REPORT_JOB, job as report_job};

use crate::App;
use crate::live::LiveEvent;
use crate::worker::JobRegistry;
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::{NewPayment, PaymentAmount, PaymentMethod, PaymentRepository};

/// The longest reference accepted (Billit's `Reference`).
pub const REFERENCE_MAX: usize = 140;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    report::register(registry, state)
}

pub fn repository(state: &App) -> PaymentRepository {
    PaymentRepository::new(state.db.clone())
}

/// Today in France, the day a payment may be dated at the latest.
pub fn today() -> NaiveDate {
    portal_billit::time::utc_to_brussels(Utc::now()).date()
}

/// Whether payments may be recorded against this invoice: an invoice (not a credit note) that Billit has.
pub fn is_payable(invoice: &InvoiceRecord) -> bool {
    portal_domain::payments::is_payable(
        invoice.draft.document_type,
        invoice.submission,
        invoice.billit_order_id.is_some(),
    )
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
        tracing::info!(%invoice, accepted, "payments accepted by the tax authority");
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
