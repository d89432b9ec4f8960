//! Settling an invoice with a credit note or a corrected invoice: which original a document may be linked to, and
//! how much a credit note may still take back (the domain's rule, over the credit notes already issued).

use crate::App;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{DocumentType, InvoiceDraft};
use portal_persistence::TenantScope;
use portal_persistence::invoices::InvoiceRecord;

/// Whether a document may be linked to `original` from now on: a sent invoice (not a credit note).
pub fn settleable(original: &InvoiceRecord) -> bool {
    portal_domain::settlement::is_settleable(original.draft.document_type, original.submission)
}

/// What remains to credit on `original` (cents, incl. VAT), the credit note `except` left out.
pub async fn credit_limit(
    app: &App,
    scope: &TenantScope,
    original: &InvoiceRecord,
    except: Option<InvoiceId>,
) -> Result<i64, portal_persistence::DbErr> {
    let credited = app
        .invoices
        .credited_cents(scope, original.id, except)
        .await?;
    Ok(portal_domain::settlement::credit_limit(
        original.totals.incl,
        credited,
    ))
}

/// Why a document may not be linked to its original.
#[derive(Debug, thiserror::Error)]
pub enum LinkRefusal {
    /// The original is not a sent invoice (a draft, a failure, or a credit note).
    #[error("only a sent invoice can be credited or corrected")]
    NotSettleable,
    /// The credit note takes back more than what remains of the original's total.
    #[error("the credit note takes back {amount_cents} cents; {remaining_cents} remain")]
    OverLimit {
        amount_cents: i64,
        remaining_cents: i64,
    },
    #[error("the credits already issued could not be read")]
    Storage(#[from] portal_persistence::DbErr),
}

impl crate::Failure for LinkRefusal {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::NotSettleable | Self::OverLimit { .. } => crate::FailureKind::Refused,
        }
    }
}

/// The check before a linked document is saved or sent: a new link must name a sent invoice, and a credit note
/// may not take back more than what remains (`saved` is the document itself when it exists already: it keeps the
/// link it was created with, and its own total does not count twice).
pub async fn check_link(
    app: &App,
    scope: &TenantScope,
    original: &InvoiceRecord,
    saved: Option<InvoiceId>,
    draft: &InvoiceDraft,
    total_incl_cents: i64,
) -> Result<(), LinkRefusal> {
    if saved.is_none() && !settleable(original) {
        return Err(LinkRefusal::NotSettleable);
    }
    if draft.document_type == DocumentType::CreditNote {
        let remaining = credit_limit(app, scope, original, saved).await?;
        if portal_domain::settlement::check_credit(total_incl_cents, remaining).is_err() {
            return Err(LinkRefusal::OverLimit {
                amount_cents: total_incl_cents,
                remaining_cents: remaining,
            });
        }
    }
    Ok(())
}
