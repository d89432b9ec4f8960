//! Failures kept on a row (an invoice's submission, an email of the outbox) as stable codes, put into words in
//! the reader's language only when a page shows them.
//!
//! A stored failure is `<code>` or `<code>:<parameter>`: the code is dotted lowercase words
//! (`billit.unreachable`, `connection.not_configured`), the parameter whatever the code needs and is not a
//! sentence of ours (Billit's own error code and text, an HTTP status, a mail server's answer). Each area maps the
//! codes it writes to its catalogue's sentences. Rows written before the codes hold a sentence instead: a text
//! that is not a code the area knows is shown as it is.
//!
//! The codes shared by the areas that talk to Billit:
//! - `connection.not_configured`: the tenant has no usable Billit connection (none, incomplete, or the embedded
//!   sandbox it names is not running);
//! - `connection.broken`: the saved connection cannot be used (its key cannot be decrypted, a bad header value);
//! - `billit.unauthorized`: Billit refused the credentials;
//! - `billit.unreachable:<cause>`: Billit busy or unreachable, tried again later (cause below);
//! - `billit.gave_up:<cause>`: the same after the last attempt;
//! - `billit.not_found`: Billit does not know the order;
//! - `billit.unexpected_answer`: Billit's answer could not be read;
//! - `billit.refused:<details>`: Billit refused it; `<details>` is Billit's own `Code: description; …` (its
//!   codes in its order), empty when Billit gave none;
//! - `portal.internal`: the portal's own failure (database), after the last attempt.
//!
//! A `<cause>` is `transport` (no connection), `rate_limited`, `http_<status>` (Billit's server error) or
//! `unexpected_answer` (an answer that could not be read, which the payments' reports try again).

use crate::i18n::Tr;
use portal_billit::client::{ApiErrorDetail, BillitError};

pub const NOT_CONFIGURED: &str = "connection.not_configured";
pub const CONNECTION_BROKEN: &str = "connection.broken";
pub const UNAUTHORIZED: &str = "billit.unauthorized";
pub const UNREACHABLE: &str = "billit.unreachable";
pub const GAVE_UP: &str = "billit.gave_up";
pub const NOT_FOUND: &str = "billit.not_found";
pub const UNEXPECTED_ANSWER: &str = "billit.unexpected_answer";
pub const REFUSED: &str = "billit.refused";
pub const INTERNAL: &str = "portal.internal";

/// A failure read back from its column: its code and its parameter (empty when it has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    pub code: &'a str,
    pub param: &'a str,
}

impl<'a> Failure<'a> {
    /// The code and parameter of a stored text, if it is written as a code (`word.word[:parameter]`); `None`
    /// for a sentence (a row written before the codes).
    pub fn parse(stored: &'a str) -> Option<Self> {
        let (code, param) = stored.split_once(':').unwrap_or((stored, ""));
        let words: Vec<&str> = code.split('.').collect();
        let is_code = words.len() >= 2
            && words.iter().all(|word| {
                !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        is_code.then_some(Self { code, param })
    }
}

/// The text to store for `code` with `param` (none when empty).
pub fn encode(code: &str, param: &str) -> String {
    if param.is_empty() {
        code.to_owned()
    } else {
        format!("{code}:{param}")
    }
}

/// Why Billit was busy or unreachable (the `<cause>` of `billit.unreachable` and `billit.gave_up`).
pub fn cause_of(error: &BillitError) -> String {
    match error {
        BillitError::RateLimited { .. } => "rate_limited".to_owned(),
        BillitError::Server { status } => format!("http_{status}"),
        BillitError::Decode(_) => "unexpected_answer".to_owned(),
        _ => "transport".to_owned(),
    }
}

/// A `<cause>` in words.
pub fn cause_words(cause: &str, t: Tr) -> String {
    match cause {
        "transport" => t.get("failure.cause.transport").to_owned(),
        "rate_limited" => t.get("failure.cause.rate_limited").to_owned(),
        "unexpected_answer" => t.get("failure.cause.unexpected_answer").to_owned(),
        other => match other.strip_prefix("http_") {
            Some(status) => t.fill("failure.cause.server", &[("status", status)]),
            None if other.is_empty() => t.get("failure.no_detail").to_owned(),
            None => other.to_owned(),
        },
    }
}

/// Billit's codes and descriptions, as Billit wrote them: `Code: description; Code: description`.
pub fn billit_details(errors: &[ApiErrorDetail]) -> String {
    errors
        .iter()
        .filter_map(|error| {
            let code = error.code.as_deref().map(str::trim).unwrap_or_default();
            let text = error
                .description
                .as_deref()
                .map(str::trim)
                .unwrap_or_default();
            match (code.is_empty(), text.is_empty()) {
                (false, false) => Some(format!("{code}: {text}")),
                (false, true) => Some(code.to_owned()),
                (true, false) => Some(text.to_owned()),
                (true, true) => None,
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Billit's error details, if it gave any.
pub fn errors_of(error: &BillitError) -> &[ApiErrorDetail] {
    match error {
        BillitError::Validation { errors, .. } | BillitError::Conflict { errors } => errors,
        _ => &[],
    }
}

/// Billit's codes in a `billit.refused` parameter (`Code: description; …`), in Billit's order.
pub fn billit_codes(details: &str) -> impl Iterator<Item = &str> {
    details.split(';').filter_map(|part| {
        let code = part.split(':').next()?.trim();
        (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    #[test]
    fn codes_are_told_from_sentences() {
        assert_eq!(
            Failure::parse("billit.refused:OrderNumberAlreadyExists: taken"),
            Some(Failure {
                code: "billit.refused",
                param: "OrderNumberAlreadyExists: taken"
            })
        );
        assert_eq!(
            Failure::parse("connection.not_configured"),
            Some(Failure {
                code: "connection.not_configured",
                param: ""
            })
        );
        for sentence in [
            "Billit a refusé le numéro de facture.",
            "Billit était en maintenance.",
            "the SMTP server refused the email: 550",
            "",
            "billit",
            "Billit.refused:x",
            "billit..refused",
        ] {
            assert_eq!(Failure::parse(sentence), None, "{sentence:?}");
        }
        assert_eq!(
            encode(UNREACHABLE, "http_503"),
            "billit.unreachable:http_503"
        );
        assert_eq!(encode(UNAUTHORIZED, ""), "billit.unauthorized");
    }

    #[test]
    fn billit_words_are_kept_as_billit_wrote_them() {
        let errors = [
            ApiErrorDetail {
                code: Some("InvalidVATPercentage".into()),
                description: Some("VAT 19 is not valid".into()),
            },
            ApiErrorDetail {
                code: Some("AmountOutOfRange".into()),
                description: None,
            },
            ApiErrorDetail {
                code: None,
                description: None,
            },
        ];
        let details = billit_details(&errors);
        assert_eq!(
            details,
            "InvalidVATPercentage: VAT 19 is not valid; AmountOutOfRange"
        );
        assert_eq!(
            billit_codes(&details).collect::<Vec<_>>(),
            ["InvalidVATPercentage", "AmountOutOfRange"]
        );
        assert_eq!(billit_codes("a sentence, not a code").count(), 0);
        assert_eq!(billit_codes("").count(), 0);
    }

    #[test]
    fn causes_read_in_each_language() {
        let fr = Tr::new(Language::Fr);
        let en = Tr::new(Language::En);
        assert_eq!(cause_of(&BillitError::Server { status: 503 }), "http_503");
        assert_eq!(
            cause_of(&BillitError::Transport("reset".into())),
            "transport"
        );
        assert_eq!(cause_words("http_503", fr), "erreur du serveur, HTTP 503");
        assert_eq!(cause_words("http_503", en), "server error, HTTP 503");
        assert_eq!(cause_words("transport", en), "no connection");
        assert_eq!(cause_words("something else", en), "something else");
    }
}
