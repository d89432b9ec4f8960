//! The JSON API (`/api/v1`): a company's software creates customers and invoices, submits them, records payments
//! and reads statuses, through the same `portal-app` use cases and rules as the pages. Bearer tokens only (made on
//! the settings page `/t/{slug}/settings/api-tokens`, also here); errors are RFC 9457 problem details; the OpenAPI
//! 3.1 document is generated from these handlers and their types (`docs`).

pub mod auth;
pub mod customers;
pub mod docs;
pub mod events;
pub mod invoices;
pub mod payments;
pub mod problem;
pub mod routes;
pub mod tokens;

use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use auth::Caller;
use portal_persistence::api::Idempotent;
use portal_persistence::audit::AuditEntry;
use problem::{ApiError, PROBLEM_JSON};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// The most items a list answers at once (and the default).
pub const MAX_LIMIT: u64 = 100;
pub const DEFAULT_LIMIT: u64 = 50;

/// Reads a JSON body into `T`; what does not parse is a 400 problem naming where.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        ApiError::InvalidBody(if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
}

/// A JSON answer.
pub fn json(status: StatusCode, value: &impl Serialize) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_string(value)?;
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(body))
}

/// The page size asked for: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when not given.
pub fn limit_of(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

/// An audit entry of an action through a token: attributed to the token's creator, with the token named.
pub fn audit(
    req: &HttpRequest,
    caller: &Caller,
    action: &'static str,
    target: String,
) -> AuditEntry {
    AuditEntry::new(action, target)
        .by(Some(caller.author()))
        .from_ip(crate::extract::client_ip(req))
}

/// The token's name and prefix, for an audit entry's details.
pub fn via_token(caller: &Caller) -> serde_json::Value {
    serde_json::json!({ "name": caller.token.name, "prefix": caller.token.prefix })
}

/// Runs `run` once per `Idempotency-Key` of the company: the first request's answer (success or problem) is stored
/// in the database, and any later request with the key gets it again (`Idempotent-Replayed: true`), even after a
/// restart. The key used for another `request` is a 422; while the first still runs, a 409. An internal failure
/// stores nothing, so the same key may be tried again.
pub async fn once<F, Fut>(
    state: &AppState,
    caller: &Caller,
    key: &str,
    request: String,
    run: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    match state
        .api
        .begin_idempotent(&caller.scope, key, &request)
        .await?
    {
        Idempotent::Started => {}
        Idempotent::InProgress => return Err(ApiError::IdempotencyInProgress),
        Idempotent::Mismatch => return Err(ApiError::IdempotencyMismatch),
        Idempotent::Done { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(stored(status, body, true));
        }
    }
    let (status, body) = match run().await {
        Ok((status, value)) => (status, serde_json::to_string(&value)?),
        Err(error @ ApiError::Internal(_)) => {
            if let Err(release) = state.api.abandon_idempotent(&caller.scope, key).await {
                tracing::error!(error = %release, "cannot release an idempotency key");
            }
            return Err(error);
        }
        Err(error) => (
            error.status_code(),
            serde_json::to_string(&error.problem())?,
        ),
    };
    state
        .api
        .finish_idempotent(&caller.scope, key, status.as_u16(), &body)
        .await?;
    Ok(stored(status, body, false))
}

fn stored(status: StatusCode, body: String, replayed: bool) -> HttpResponse {
    let content_type = if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    };
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, content_type));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.body(body)
}
