//! Payments received (status 212): the supplier records what its customer paid, the portal reports each payment
//! to Billit (`POST /v1/orders/{id}/payments`, a `payment.report` job per payment) and follows it until the tax
//! authority accepts it (Billit's `CashCollected: Recevable` message, seen by the status ingestion).
//!
//! The checks a person can fix (amount, date, method, reference) happen here, before anything is stored; the one
//! that depends on the other payments (no more than what remains) happens in the repository's transaction.

mod report;

pub use report::{REPORT_JOB, failure_sentence, job as report_job};

use crate::App;
use crate::live::LiveEvent;
use crate::worker::JobRegistry;
use anyhow::Context;
use chrono::NaiveDate;
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::StatusEvent;
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

/// Tells the invoice's open pages that something changed.
pub fn publish(state: &App, scope: &TenantScope, invoice: InvoiceId) {
    state.live.publish(LiveEvent {
        tenant: scope.tenant_id(),
        invoice,
        headline: None,
    });
}

// ---- the tax authority's acknowledgements ----

/// Billit's acknowledgement of a reported payment by the tax authority (`CashCollected: Recevable`), which its
/// classification files as a 212 from the supplier like the report itself.
fn is_acknowledgement(event: &StatusEvent) -> bool {
    let description = event.description.to_ascii_lowercase();
    event.effective_code().is_some_and(|code| code.0 == 212)
        && description.contains("cashcollected")
        && description.contains("recevable")
}

/// Called by the status ingestion with the events it just stored for an invoice: when one of them is the tax
/// authority's acknowledgement of a payment, the oldest reported payment not yet accepted becomes accepted.
pub async fn note_acceptances(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    new: &[StatusEvent],
) -> anyhow::Result<()> {
    if !new.iter().any(is_acknowledgement) {
        return Ok(());
    }
    reconcile_acceptances(state, scope, invoice).await
}

/// Makes the accepted payments match every acknowledgement stored for the invoice (a repeat changes nothing; an
/// acknowledgement that came before its payment was marked reported is applied once it is).
pub async fn reconcile_acceptances(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
) -> anyhow::Result<()> {
    let acknowledged = state
        .invoices
        .events(scope, invoice)
        .await
        .context("cannot read the invoice's events")?
        .iter()
        .filter(|stored| is_acknowledgement(&stored.event))
        .count();
    if acknowledged == 0 {
        return Ok(());
    }
    let accepted = repository(state)
        .accept_reported(scope, invoice, acknowledged)
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn only_the_acknowledgement_counts_as_acceptance() {
        use portal_domain::lifecycle::Source;
        use portal_domain::status::StatusCode;
        let mut report = StatusEvent::status(StatusCode(212), Source::Supplier, Utc::now(), "a");
        report.description = "CashCollected".to_owned();
        let mut answer = report.clone();
        answer.description = "CashCollected: Recevable".to_owned();
        assert!(!is_acknowledgement(&report));
        assert!(is_acknowledgement(&answer));
        let mut other = answer.clone();
        other.code = Some(StatusCode(500));
        assert!(!is_acknowledgement(&other));
    }
}
