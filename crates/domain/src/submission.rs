//! Where a document is on its way to Billit (the portal's own submission state, not the lifecycle statuses
//! that follow once it is sent).
//!
//! The text forms (`draft`, `queued`, `sending`, `sent`, `failed`) are those stored in the
//! `invoices.submission_state` column: the storage maps the column with [`SubmissionState::parse`] and
//! [`SubmissionState::as_str`] once, and every rule below works on the enum instead of comparing strings.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an invoice or credit note is on its way to Billit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubmissionState {
    /// Being written; nothing sent.
    Draft,
    /// Checked and waiting for a worker.
    Queued,
    /// A worker is creating or sending the order at Billit.
    Sending,
    /// Billit accepted the send command; statuses follow.
    Sent,
    /// Billit refused it or kept failing; the user can fix and retry, or delete.
    Failed,
}

impl SubmissionState {
    /// Every state, in the order a document goes through them (failed last).
    pub const ALL: [Self; 5] = [
        Self::Draft,
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Failed,
    ];

    /// The stored text form, e.g. `sent`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    /// Reads the stored text form (exactly, as [`as_str`](Self::as_str) writes it); `None` for anything else,
    /// so the caller decides what an unknown column value means.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(Self::Draft),
            "queued" => Some(Self::Queued),
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// Drafts and failed submissions may be edited and deleted; anything on its way or sent may not, because
    /// Billit may already hold (or be about to hold) what was checked.
    pub const fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::Failed)
    }

    /// Whether the document counts as issued: on its way to Billit (`queued`, `sending`) or `sent`.
    ///
    /// A credit note takes back part of its invoice from the moment it is queued (so that two credit notes
    /// queued one after the other cannot together exceed the invoice); a draft or a failed submission takes
    /// nothing back yet. See [`crate::settlement::credited_cents`].
    pub const fn is_issued(self) -> bool {
        matches!(self, Self::Queued | Self::Sending | Self::Sent)
    }

    /// Whether Billit accepted the send command (the only state in which Billit has the order and lifecycle
    /// statuses follow).
    pub const fn is_sent(self) -> bool {
        matches!(self, Self::Sent)
    }
}

impl fmt::Display for SubmissionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
