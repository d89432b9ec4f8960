//! The API's errors as RFC 9457 problem details (`application/problem+json`): a machine-readable `code`, the
//! title and detail in English and French, and for bad input the list of every problem with its field path, its
//! business term (`BT-47`) when the rule has one, and the sentences the pages show.

use crate::i18n::Tr;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use portal_domain::Language;
use portal_domain::Localized;
use portal_domain::actions::Refusal;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldProblem {
    /// Where in the request, as a path: `buyer.siren`, `lines[2].vat_rate`; empty for the whole request.
    pub field: String,
    /// The business term (EN 16931) the rule is about, e.g. `BT-47`, when it has one.
    pub term: Option<String>,
    /// A stable code for programs (`buyer_siren_invalid`, `required`…).
    pub code: String,
    pub message_fr: String,
    pub message_en: String,
}

impl FieldProblem {
    pub fn new(
        field: impl Into<String>,
        term: Option<&str>,
        code: &str,
        fr: String,
        en: String,
    ) -> Self {
        Self {
            field: field.into(),
            term: term.map(str::to_owned),
            code: code.to_owned(),
            message_fr: fr,
            message_en: en,
        }
    }

    /// A problem whose words are a catalogue key (with `{name}` values).
    pub fn keyed(
        field: impl Into<String>,
        term: Option<&str>,
        code: &str,
        key: &str,
        values: &[(&str, &str)],
    ) -> Self {
        Self::new(
            field,
            term,
            code,
            Tr::new(Language::Fr).fill(key, values),
            Tr::new(Language::En).fill(key, values),
        )
    }

    /// A problem the domain put into words.
    pub fn localized(
        field: impl Into<String>,
        term: Option<&str>,
        code: &str,
        error: &impl Localized,
    ) -> Self {
        Self::new(
            field,
            term,
            code,
            capitalised(&error.message(Language::Fr)),
            capitalised(&error.message(Language::En)),
        )
    }
}

/// A sentence starting with a capital letter (the domain's messages are fragments).
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// A URI reference naming the kind of problem (`/api/v1/docs#problem-<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The kind of problem, in English.
    pub title: String,
    pub status: u16,
    /// What happened, in English.
    pub detail: String,
    /// What happened, in French.
    pub detail_fr: String,
    /// A stable code for programs: `not_found`, `unauthorized`, `forbidden`, `rate_limited`, `invalid_body`,
    /// `invalid_query`, `validation`, `refused`, `idempotency_key_missing`, `idempotency_key_reused`,
    /// `idempotency_in_progress`, `internal`.
    pub code: String,
    /// For a refusal of the table of actions: which action was refused and why (`send`, `on_its_way`).
    pub refusal: Option<RefusalInfo>,
    /// Every problem with the request's content (empty otherwise).
    pub problems: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalInfo {
    pub action: String,
    pub reason: String,
}

/// The ways an API request fails.
#[derive(Debug)]
pub enum ApiError {
    NotFound,
    Unauthorized,
    Forbidden,
    RateLimited {
        retry_after_secs: u64,
    },
    InvalidBody(String),
    InvalidQuery(String),
    Validation(Vec<FieldProblem>),
    /// A rule refuses it in the state things are in: the sentence (catalogue key and values, or a refusal).
    Refused(Refused),
    IdempotencyMissing,
    IdempotencyMismatch,
    IdempotencyInProgress,
    Internal(anyhow::Error),
}

#[derive(Debug, Clone)]
pub enum Refused {
    Table(Refusal),
    Words {
        key: &'static str,
        values: Vec<(&'static str, String)>,
    },
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self::Internal(error.into())
    }
}

impl ApiError {
    pub fn refused(key: &'static str, values: Vec<(&'static str, String)>) -> Self {
        Self::Refused(Refused::Words { key, values })
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidQuery(_) => "invalid_query",
            Self::Validation(_) => "validation",
            Self::Refused(_) => "refused",
            Self::IdempotencyMissing => "idempotency_key_missing",
            Self::IdempotencyMismatch => "idempotency_key_reused",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::Internal(_) => "internal",
        }
    }

    /// A use case's error: not found, a refusal of the table of actions (409), or an internal failure.
    pub fn from_failure(failure: impl portal_app::Failure) -> Self {
        match failure.kind() {
            portal_app::FailureKind::NotFound => Self::NotFound,
            portal_app::FailureKind::Refused => match failure.refusal() {
                Some(refusal) => Self::Refused(Refused::Table(refusal)),
                None => Self::refused("api.conflict", Vec::new()),
            },
            portal_app::FailureKind::Internal => Self::Internal(failure.into()),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let words = |key: &str, values: &[(&str, &str)]| {
            (
                Tr::new(Language::En).fill(key, values),
                Tr::new(Language::Fr).fill(key, values),
            )
        };
        let (detail, detail_fr) = match self {
            Self::NotFound => words("api.not_found", &[]),
            Self::Unauthorized => words("api.unauthorized", &[]),
            Self::Forbidden => words("api.forbidden", &[]),
            Self::RateLimited { retry_after_secs } => words(
                "api.rate_limited",
                &[("seconds", &retry_after_secs.to_string())],
            ),
            Self::InvalidBody(reason) => words("api.invalid_body", &[("reason", reason)]),
            Self::InvalidQuery(reason) => words("api.query_invalid", &[("reason", reason)]),
            Self::Validation(_) => words("api.validation", &[]),
            Self::Refused(Refused::Table(refusal)) => (
                capitalised(&refusal.message(Language::En)),
                capitalised(&refusal.message(Language::Fr)),
            ),
            Self::Refused(Refused::Words { key, values }) => {
                let values: Vec<(&str, &str)> = values
                    .iter()
                    .map(|(name, value)| (*name, value.as_str()))
                    .collect();
                words(key, &values)
            }
            Self::IdempotencyMissing => words("api.idempotency_missing", &[]),
            Self::IdempotencyMismatch => words("api.idempotency_mismatch", &[]),
            Self::IdempotencyInProgress => words("api.idempotency_in_progress", &[]),
            Self::Internal(_) => words("api.internal", &[]),
        };
        let status = self.status_code();
        let code = self.code();
        Problem {
            kind: format!("/api/v1/docs#problem-{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            detail_fr,
            code: code.to_owned(),
            refusal: match self {
                Self::Refused(Refused::Table(refusal)) => Some(RefusalInfo {
                    action: snake(&refusal.action),
                    reason: snake(&refusal.reason),
                }),
                _ => None,
            },
            problems: match self {
                Self::Validation(problems) => problems.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// The serde name of a domain value (its variants are `snake_case` there).
pub fn snake(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        // A tagged variant (`{"reason": "…", "code": …}`): its tag.
        Ok(serde_json::Value::Object(map)) => map
            .get("reason")
            .and_then(|reason| reason.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidBody(_) | Self::InvalidQuery(_) | Self::IdempotencyMissing => {
                StatusCode::BAD_REQUEST
            }
            Self::Validation(_) | Self::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Refused(_) | Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(error) = self {
            // `{:#}` prints the whole chain of causes on one line; the client gets an opaque problem.
            tracing::error!(error = format!("{error:#}"), "internal error in the API");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"portal\""));
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}
