//! Payments received against a sent invoice (status 212): which invoices can be paid, what a payment's state
//! means for what was paid, what remains, and whether a new payment fits.
//!
//! Amounts are in cents, including VAT, as the storage keeps them (`total_incl_cents`, `amount_cents`). The
//! sums saturate instead of overflowing: a corrupt row must not panic a page or a transaction.
//!
//! The rule, in one place:
//! - only an invoice (never a credit note) that was sent to Billit and has its Billit order id can be paid
//!   ([`is_payable`]): the payment is reported to that order;
//! - every payment counts in what was paid except a cancelled one ([`PaymentState::counts_towards_paid`]);
//!   a failed payment still counts until a user cancels it, so its amount cannot be recorded a second time
//!   while it may yet be retried;
//! - what remains is the total minus what was paid, never below zero ([`remaining_cents`]);
//! - a new payment must be more than zero and at most what remains ([`check_payment`]).

use crate::invoice::DocumentType;
use crate::lang::Localized;
use crate::submission::SubmissionState;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a payment's report to Billit stands.
///
/// The text forms (`queued`, `reported`, `accepted`, `failed`, `cancelled`) are those stored in the
/// `payments.state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentState {
    /// Waiting for the job that reports it (or for its next try).
    Queued,
    /// Billit took it (its `CashCollected` message went to the tax authority).
    Reported,
    /// The tax authority acknowledged it (`CashCollected: Recevable`).
    Accepted,
    /// Billit refused it, or the portal cannot reach Billit for this tenant: a user must retry or cancel it.
    Failed,
    /// A member cancelled it after it failed: it no longer counts, and cannot be retried.
    Cancelled,
}

impl PaymentState {
    /// Every state, in the order a payment goes through them.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Reported,
        Self::Accepted,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The stored text form, e.g. `reported`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Reported => "reported",
            Self::Accepted => "accepted",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Reads the stored text form (exactly, as [`as_str`](Self::as_str) writes it); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "reported" => Some(Self::Reported),
            "accepted" => Some(Self::Accepted),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// Whether the payment counts in what was paid: every payment but a cancelled one.
    ///
    /// A failed payment still counts: it was received, only its report did not go through, and it stays
    /// retryable; counting it keeps the same money from being recorded twice. Cancelling it is what gives its
    /// amount back to what remains.
    pub const fn counts_towards_paid(self) -> bool {
        !matches!(self, Self::Cancelled)
    }

    /// Whether a user may report it again: only a failed payment (a queued one is already on its way, a
    /// reported or accepted one is done, a cancelled one was given up).
    pub const fn can_be_retried(self) -> bool {
        matches!(self, Self::Failed)
    }

    /// Whether a user may cancel it: only a failed payment (one that Billit took cannot be taken back here).
    pub const fn can_be_cancelled(self) -> bool {
        matches!(self, Self::Failed)
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether payments may be recorded against a document: an invoice (not a credit note) whose submission is
/// [`SubmissionState::Sent`] and that has its Billit order id (`has_billit_order`), since each payment is
/// reported to that order.
pub fn is_payable(
    document_type: DocumentType,
    submission: SubmissionState,
    has_billit_order: bool,
) -> bool {
    document_type == DocumentType::Invoice && submission.is_sent() && has_billit_order
}

/// What was paid, in cents: the sum of the payments that count ([`PaymentState::counts_towards_paid`]),
/// saturating rather than overflowing.
pub fn paid_cents<I>(payments: I) -> i64
where
    I: IntoIterator<Item = (PaymentState, i64)>,
{
    payments
        .into_iter()
        .filter(|(state, _)| state.counts_towards_paid())
        .map(|(_, cents)| cents)
        .fold(0, i64::saturating_add)
}

/// What remains to be paid, in cents: the total (incl. VAT) minus what was paid, never below zero (an
/// invoice paid too much, e.g. before a credit note, simply has nothing left to pay).
pub fn remaining_cents(total_cents: i64, paid_cents: i64) -> i64 {
    Ord::max(total_cents.saturating_sub(paid_cents), 0)
}

/// Whether nothing remains to be paid.
pub fn is_fully_paid(remaining_cents: i64) -> bool {
    remaining_cents <= 0
}

/// Why a payment cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefusal {
    /// Nothing remains to be paid (checked first: whatever the amount, nothing can be recorded).
    #[error("nothing remains to be paid")]
    NothingDue,
    /// The amount is zero or negative.
    #[error("the amount must be greater than zero")]
    NotPositive,
    /// The amount is more than what remains.
    #[error("the amount is more than what remains to be paid")]
    Exceeds {
        /// What remains, in cents.
        remaining_cents: i64,
    },
}

impl Localized for PaymentRefusal {
    fn message_fr(&self) -> String {
        match self {
            Self::NothingDue => "il ne reste rien à payer".to_owned(),
            Self::NotPositive => "le montant doit être supérieur à zéro".to_owned(),
            Self::Exceeds { .. } => "le montant dépasse ce qui reste à payer".to_owned(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Checks a payment of `amount_cents` against what remains (see [`remaining_cents`]): refused when nothing
/// remains, when the amount is not positive, or when it is more than what remains. Paying exactly what
/// remains is accepted.
///
/// For "mark as fully paid", pass the remaining amount itself as `amount_cents`: it is accepted unless nothing
/// remains.
pub fn check_payment(amount_cents: i64, remaining_cents: i64) -> Result<(), PaymentRefusal> {
    if remaining_cents <= 0 {
        Err(PaymentRefusal::NothingDue)
    } else if amount_cents <= 0 {
        Err(PaymentRefusal::NotPositive)
    } else if amount_cents > remaining_cents {
        Err(PaymentRefusal::Exceeds { remaining_cents })
    } else {
        Ok(())
    }
}
