//! How a status reads everywhere: the headline (official code and label) or where the submission stands, with a
//! colour hint.

use crate::i18n::Tr;
use portal_domain::Language;
use portal_domain::status::StatusCode;
use portal_persistence::invoices::SubmissionState;

/// The catalogue key of a submission state.
pub fn state_key(state: SubmissionState) -> &'static str {
    match state {
        SubmissionState::Draft => "views.state.draft",
        SubmissionState::Queued => "views.state.queued",
        SubmissionState::Sending => "views.state.sending",
        SubmissionState::Sent => "views.state.sent",
        SubmissionState::Failed => "views.state.failed",
    }
}

/// A status as the user reads it, with a colour hint (`good`, `warn`, `bad`, `neutral`, `muted`).
#[derive(Debug, Clone)]
pub struct StatusBadge {
    pub text: String,
    pub tone: &'static str,
}

pub fn tone_of(code: StatusCode) -> &'static str {
    match code.0 {
        210 | 213 | 221 | 251 | 501 | 601 => "bad",
        207 | 208 => "warn",
        203 | 205 | 206 | 209 | 211 | 212 => "good",
        220 => "muted",
        _ => "neutral",
    }
}

pub fn coded(code: StatusCode, lang: Language) -> String {
    format!("{} · {}", code.0, code.label(lang))
}

/// The headline status (official code and label), or where the submission stands when there is none yet.
pub fn status_badge(
    headline: Option<StatusCode>,
    submission: SubmissionState,
    t: Tr,
) -> StatusBadge {
    match headline {
        Some(code) => StatusBadge {
            text: coded(code, t.lang),
            tone: tone_of(code),
        },
        None => StatusBadge {
            text: t.get(state_key(submission)).to_owned(),
            tone: match submission {
                SubmissionState::Failed => "bad",
                SubmissionState::Draft => "muted",
                _ => "neutral",
            },
        },
    }
}
