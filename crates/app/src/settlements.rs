//! Settling an invoice with a credit note or a corrected invoice: which original a document may be linked to, and
//! how much a credit note may still take back (the domain's rule, over the credit notes already issued).

use crate::App;
use portal_domain::actions::{Action, Refusal, decide};
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{DocumentType, InvoiceDraft};
use portal_persistence::TenantScope;
use portal_persistence::invoices::InvoiceRecord;

/// The table of actions' decision on starting a document of `document_type` from `original` (a credit note:
/// [`Action::CreditNote`], an invoice: [`Action::CorrectedInvoice`]), with what its credit notes already take
/// back (`credited_cents`, read by the caller for a credit note).
pub fn may_start(
    original: &InvoiceRecord,
    document_type: DocumentType,
    credited_cents: Option<i64>,
) -> Result<(), Refusal> {
    let action = match document_type {
        DocumentType::CreditNote => Action::CreditNote,
        DocumentType::Invoice => Action::CorrectedInvoice,
    };
    decide(action, &original.situation(0, credited_cents))
}

/// [`may_start`] with what the credit notes of `original` already take back read here (for a credit note).
pub async fn may_start_from(
    app: &App,
    scope: &TenantScope,
    original: &InvoiceRecord,
    document_type: DocumentType,
) -> Result<Result<(), Refusal>, portal_persistence::DbErr> {
    let credited = match document_type {
        DocumentType::CreditNote => Some(
            app.invoices
                .credited_cents(scope, original.id, None)
                .await?,
        ),
        DocumentType::Invoice => None,
    };
    Ok(may_start(original, document_type, credited))
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
    /// The table of actions refuses it: the original is not a sent invoice (a draft, a failure, or a credit note),
    /// its lifecycle was cancelled, or credit notes already take all of it back.
    #[error(transparent)]
    Refused(Refusal),
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
            Self::Refused(_) | Self::OverLimit { .. } => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

/// The check before a linked document is saved or sent: a new link must be one the table of actions opens on the
/// original (a credit note or a corrected invoice of a sent invoice, see [`may_start`]), and a credit note may not
/// take back more than what remains (`saved` is the document itself when it exists already: it keeps the link it
/// was created with, and its own total does not count twice).
pub async fn check_link(
    app: &App,
    scope: &TenantScope,
    original: &InvoiceRecord,
    saved: Option<InvoiceId>,
    draft: &InvoiceDraft,
    total_incl_cents: i64,
) -> Result<(), LinkRefusal> {
    let is_credit_note = draft.document_type == DocumentType::CreditNote;
    let credited = if is_credit_note {
        Some(
            app.invoices
                .credited_cents(scope, original.id, saved)
                .await?,
        )
    } else {
        None
    };
    if saved.is_none() {
        may_start(original, draft.document_type, credited).map_err(LinkRefusal::Refused)?;
    }
    if let Some(credited) = credited {
        let remaining = portal_domain::settlement::credit_limit(original.totals.incl, credited);
        if portal_domain::settlement::check_credit(total_incl_cents, remaining).is_err() {
            return Err(LinkRefusal::OverLimit {
                amount_cents: total_incl_cents,
                remaining_cents: remaining,
            });
        }
    }
    Ok(())
}
