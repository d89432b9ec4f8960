//! The domain's table of actions ([`portal_domain::actions`]) over what the portal stores: the situation of a
//! stored document (its payments and credit notes read), and the typed refusal every use case returns when the
//! table closes what it was asked to do.

use crate::App;
use anyhow::Context;
pub use portal_domain::actions::{Action, Reason, Refusal, Situation, decide, open_actions};
use portal_domain::invoice::DocumentType;
use portal_persistence::TenantScope;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::PaymentRecord;
use portal_persistence::settlements::RelatedDocument;

/// A use case the table of actions refused: nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Refused(#[from] pub Refusal);

impl crate::Failure for Refused {
    fn kind(&self) -> crate::FailureKind {
        crate::FailureKind::Refused
    }

    fn refusal(&self) -> Option<Refusal> {
        Some(self.0)
    }
}

/// A stored document's situation and its payments (a page shows them too).
#[derive(Debug, Clone)]
pub struct Known {
    pub situation: Situation,
    pub payments: Vec<PaymentRecord>,
}

/// The situation of `record` with what its payments add up to and what its issued credit notes take back: the
/// invoice's payments (one query, bounded by the invoice) and, for an invoice, the sum of its credit notes (one
/// indexed query).
pub async fn known(
    app: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
) -> anyhow::Result<Known> {
    let payments = payments_of(app, scope, record).await?;
    let credited = match record.draft.document_type {
        DocumentType::Invoice => Some(
            app.invoices
                .credited_cents(scope, record.id, None)
                .await
                .context("cannot read what the credit notes take back")?,
        ),
        DocumentType::CreditNote => None,
    };
    Ok(known_from(record, payments, credited))
}

/// [`known`] for a page that read the invoice's related documents already (`related`, as
/// `related_documents` returns them): what its credit notes take back is added up from them, one query fewer.
pub async fn known_with_related(
    app: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
    related: &[RelatedDocument],
) -> anyhow::Result<Known> {
    let payments = payments_of(app, scope, record).await?;
    let credited = (record.draft.document_type == DocumentType::Invoice)
        .then(|| portal_persistence::settlements::credited_by(related));
    Ok(known_from(record, payments, credited))
}

async fn payments_of(
    app: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
) -> anyhow::Result<Vec<PaymentRecord>> {
    app.payments
        .list(scope, record.id)
        .await
        .context("cannot read the invoice's payments")
}

/// `credited`: `None` for a credit note (nothing credits it).
fn known_from(
    record: &InvoiceRecord,
    payments: Vec<PaymentRecord>,
    credited: Option<i64>,
) -> Known {
    let paid = portal_domain::payments::paid_cents(
        payments
            .iter()
            .map(|payment| (payment.state, payment.amount_cents)),
    );
    Known {
        situation: record.situation(paid, credited),
        payments,
    }
}

/// The situation of `record` for the actions that neither payments nor credit notes decide (send, retry, delete,
/// edit, answer, a corrected invoice): what was paid and credited is left out (zero, and not read).
pub fn without_amounts(record: &InvoiceRecord) -> Situation {
    record.situation(0, None)
}

/// Asks the table, as a use case's error.
pub fn check(action: Action, situation: &Situation) -> Result<(), Refused> {
    decide(action, situation).map_err(Refused)
}
