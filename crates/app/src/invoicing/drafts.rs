//! Drafts: their computed parts (totals as shown and as stored, the rate set they are checked against, the
//! domain's check before submission) and saving one, with the rules every caller must meet (the editor today,
//! the JSON API next). Shared by the editor, the submission job, the demonstration and the seed.

use crate::App;
use crate::settlements::LinkRefusal;
use chrono::Datelike;
use portal_domain::actions::{Action, Reason, Refusal, decide};
use portal_domain::ids::{CustomerId, InvoiceId, UserId};
use portal_domain::invoice::{
    DocumentType, InvoiceDraft, LineDraft, Problem, check_before_submission,
};
use portal_domain::money::{Totals, VatRateSet};
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceContent, InvoiceError, InvoiceRecord, TotalsCents};

/// The rates a draft is checked against: the overseas and Corsican set when the invoice uses one of its own
/// rates (the territory follows from the rates chosen), the mainland set otherwise.
pub fn rate_set_for(lines: &[LineDraft]) -> VatRateSet {
    VatRateSet::inferred_from(lines)
}

/// The totals of the lines that can be computed (a line still being typed counts for nothing).
pub fn totals_of(lines: &[LineDraft]) -> Option<Totals> {
    portal_domain::invoice::totals_so_far(lines)
}

/// The totals as stored on the invoice (for lists and filters).
pub fn totals_cents(totals: Option<&Totals>) -> TotalsCents {
    totals.map_or_else(TotalsCents::default, |totals| TotalsCents {
        excl: totals.total_excl.cents(),
        vat: totals.total_vat.cents(),
        incl: totals.total_incl.cents(),
    })
}

/// The domain's check of a draft, `number_taken` being the answer of the uniqueness query made beforehand.
pub fn problems_of(draft: &InvoiceDraft, number_taken: bool) -> Vec<Problem> {
    let uniqueness = |_key: &portal_domain::invoice::UniquenessKey| number_taken;
    match check_before_submission(draft, &uniqueness) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// The year whose numbers a draft's number must not repeat (G1.45).
pub fn issue_year(draft: &InvoiceDraft) -> Option<i32> {
    draft.issue_date.map(|date| date.year())
}

/// Who saves a draft, for the audit log.
#[derive(Debug, Clone)]
pub struct Author {
    pub user: UserId,
    pub ip: Option<String>,
}

/// Why a draft was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another document of the tenant has this number in the same year (G1.45).
    #[error("another document of the year has this number")]
    NumberTaken,
    /// The table of actions refuses the change: the invoice is on its way to Billit or sent, or Billit created
    /// the order of its failed submission.
    #[error(transparent)]
    Refused(Refusal),
    #[error("no such invoice")]
    NotFound,
    /// The credit note or corrected invoice may not be linked to its original.
    #[error(transparent)]
    Link(#[from] LinkRefusal),
    #[error("the draft could not be saved")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for SaveError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::Link(refusal) => crate::Failure::kind(refusal),
            Self::NumberTaken | Self::Refused(_) => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            Self::Link(refusal) => crate::Failure::refusal(refusal),
            _ => None,
        }
    }
}

/// The refusal of a change the table allowed but the database no longer did: the document left the draft (or
/// failed) state meanwhile, i.e. it was queued for sending.
pub(crate) fn left_draft(action: Action) -> Refusal {
    Refusal {
        action,
        reason: Reason::OnItsWay,
    }
}

impl From<InvoiceError> for SaveError {
    fn from(error: InvoiceError) -> Self {
        match error {
            InvoiceError::NumberTaken => Self::NumberTaken,
            InvoiceError::NotEditable => Self::Refused(left_draft(Action::Edit)),
            InvoiceError::NotFound => Self::NotFound,
            other => Self::Storage(other.into()),
        }
    }
}

/// Saves a draft as typed, new (`existing` is `None`) or over an existing one (which the table of actions must let
/// be edited: a draft, or a failed submission Billit created no order for): the number must be free in its
/// year, a credit note or corrected invoice must be linkable to `original` (a sent invoice of this tenant, within
/// what remains of it; a credit note's `corrects` becomes the original's number), the customer must be one of
/// this tenant's, and the totals are computed here. A linked document is audited with its creation.
pub async fn save(
    app: &App,
    scope: &TenantScope,
    existing: Option<&InvoiceRecord>,
    mut draft: InvoiceDraft,
    customer: Option<CustomerId>,
    original: Option<&InvoiceRecord>,
    author: &Author,
) -> Result<InvoiceId, SaveError> {
    if let Some(record) = existing {
        decide(Action::Edit, &crate::actions::without_amounts(record))
            .map_err(SaveError::Refused)?;
    }
    if let Some(year) = issue_year(&draft)
        && !draft.number.is_empty()
        && app
            .invoices
            .number_taken(scope, year, &draft.number, existing.map(|record| record.id))
            .await
            .map_err(|error| SaveError::Storage(error.into()))?
    {
        return Err(SaveError::NumberTaken);
    }
    let totals = totals_cents(totals_of(&draft.lines).as_ref());
    if let Some(original) = original {
        crate::settlements::check_link(
            app,
            scope,
            original,
            existing.map(|record| record.id),
            &draft,
            totals.incl,
        )
        .await?;
        if draft.document_type == DocumentType::CreditNote {
            // Billit's `AboutInvoiceNumber`: the number of the invoice it is linked to, whatever was typed.
            draft.corrects = original.number().to_owned();
        }
    }
    // Only a customer of this tenant may be linked.
    let customer_id = match customer {
        Some(customer) => app
            .invoices
            .get_buyer(scope, customer)
            .await
            .map_err(|error| SaveError::Storage(error.into()))?
            .map(|(id, _)| id),
        None => None,
    };
    let content = InvoiceContent {
        customer_id,
        totals,
        draft,
    };
    match existing {
        None => Ok(app
            .invoices
            .create_linked_draft(
                scope,
                &content,
                Some(author.user),
                original.map(|original| original.id),
                |id| original.map(|original| created_entry(id, &content.draft, original, author)),
            )
            .await?),
        Some(record) => {
            app.invoices
                .update_draft(scope, record.id, &content)
                .await?;
            Ok(record.id)
        }
    }
}

/// The audit entry of a new credit note or corrected invoice `id` (written with the document).
fn created_entry(
    id: InvoiceId,
    draft: &InvoiceDraft,
    original: &InvoiceRecord,
    author: &Author,
) -> AuditEntry {
    let (action, settle_as) = match draft.document_type {
        DocumentType::CreditNote => ("invoice.credit_note_created", "credit_note"),
        DocumentType::Invoice => ("invoice.corrected_created", "corrected"),
    };
    AuditEntry::new(action, format!("invoice:{id}"))
        .by(Some(author.user))
        .from_ip(author.ip.clone())
        .details(serde_json::json!({
            "number": draft.number,
            "as": settle_as,
            "original_id": original.id.to_string(),
            "original_number": original.number(),
        }))
}
