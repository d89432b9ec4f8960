//! Settling a sent invoice with a credit note (taking back all or part of it) or a corrected invoice
//! (replacing it), and the limit on what credit notes may take back.
//!
//! Amounts are in cents, including VAT, as the storage keeps them (`total_incl_cents`). The sums saturate
//! instead of overflowing.
//!
//! The rule, in one place:
//! - only an invoice (never a credit note) that was sent to Billit can be settled ([`is_settleable`]): a draft
//!   is simply edited, and a credit note is not credited again;
//! - the credit notes that count against the invoice are the issued ones, i.e. queued, being sent or sent
//!   ([`SubmissionState::is_issued`], [`credited_cents`]);
//! - a credit note's total may not exceed the invoice's total minus what the other issued credit notes already
//!   take back ([`credit_limit`], [`check_credit`]); exactly the limit is accepted.

use crate::invoice::DocumentType;
use crate::lang::Localized;
use crate::submission::SubmissionState;
use serde::{Deserialize, Serialize};

/// How a document relates to the invoice it names.
///
/// The text forms (`credit_note_for`, `corrects`) are those stored in the `invoices.relation` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceRelation {
    /// A credit note taking back all or part of the invoice.
    CreditNoteFor,
    /// A corrected invoice replacing it.
    Corrects,
}

impl InvoiceRelation {
    /// The stored text form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreditNoteFor => "credit_note_for",
            Self::Corrects => "corrects",
        }
    }

    /// Reads the stored text form (exactly); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "credit_note_for" => Some(Self::CreditNoteFor),
            "corrects" => Some(Self::Corrects),
            _ => None,
        }
    }

    /// The relation a linked document has, given its type: the type decides, so that the two never disagree
    /// (a credit note credits, an invoice corrects).
    pub const fn for_document(document_type: DocumentType) -> Self {
        match document_type {
            DocumentType::CreditNote => Self::CreditNoteFor,
            DocumentType::Invoice => Self::Corrects,
        }
    }
}

/// Whether a credit note or a corrected invoice may be started from (linked to) this document: an invoice
/// (not a credit note) whose submission is [`SubmissionState::Sent`].
///
/// Unlike [`crate::payments::is_payable`], the Billit order id is not required: the new document names the
/// original by its number. The check applies when the link is made; a saved document keeps its link whatever
/// becomes of the original afterwards.
pub fn is_settleable(document_type: DocumentType, submission: SubmissionState) -> bool {
    document_type == DocumentType::Invoice && submission.is_sent()
}

/// What the credit notes of an invoice already take back, in cents: the sum of the totals of the issued ones
/// ([`SubmissionState::is_issued`]: queued, sending or sent), saturating. A draft or a failed credit note takes
/// nothing back yet.
///
/// The caller passes the credit notes linked to the invoice (relation [`InvoiceRelation::CreditNoteFor`]),
/// leaving out the one being checked.
pub fn credited_cents<I>(credit_notes: I) -> i64
where
    I: IntoIterator<Item = (SubmissionState, i64)>,
{
    credit_notes
        .into_iter()
        .filter(|(state, _)| state.is_issued())
        .map(|(_, cents)| cents)
        .fold(0, i64::saturating_add)
}

/// The most a new credit note may take back, in cents: the original's total (incl. VAT) minus what is already
/// credited, never below zero.
pub fn credit_limit(original_total_cents: i64, already_credited_cents: i64) -> i64 {
    Ord::max(
        original_total_cents.saturating_sub(already_credited_cents),
        0,
    )
}

/// A credit note that takes back more than what remains of its invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the credit note takes back more than what remains of the invoice")]
pub struct OverLimit {
    /// The most it may take back, in cents (see [`credit_limit`]).
    pub limit_cents: i64,
}

impl Localized for OverLimit {
    fn message_fr(&self) -> String {
        "l'avoir reprend plus que ce qui reste de la facture".to_owned()
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Checks a credit note of `amount_cents` against the limit of its invoice (see [`credit_limit`]): refused when
/// it takes back more; exactly the limit is accepted.
///
/// Only the limit is checked here: a credit note with a zero total is refused by the pre-submission check
/// ([`crate::invoice::check_before_submission`], BT-112).
pub fn check_credit(amount_cents: i64, limit_cents: i64) -> Result<(), OverLimit> {
    if amount_cents > limit_cents {
        Err(OverLimit { limit_cents })
    } else {
        Ok(())
    }
}

/// Whether a credit note takes back the whole invoice (its total is at least the original's), rather than a
/// part of it.
pub fn is_full_credit(credit_total_cents: i64, original_total_cents: i64) -> bool {
    credit_total_cents >= original_total_cents
}
