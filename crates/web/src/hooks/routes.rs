//! Routes of the statuses area: Billit's webhook endpoint, the live updates, and the members' alert choices.
//!
//! The webhook endpoint checks and stores, nothing more: the delivery is answered at once (Billit retries slow or
//! failing endpoints) and a job applies it.

use crate::errors::WebError;
use crate::state::AppState;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use portal_billit::webhook::{
    MAX_PAYLOAD_BYTES, SIGNATURE_HEADER, compute_signature, parse_signature_header,
    verify_signature,
};
use std::time::Duration;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/hooks/billit/{token}", web::post().to(billit_webhook));
}

/// Why a body was not read.
enum BodyProblem {
    TooLarge,
    Unreadable(actix_web::error::PayloadError),
}

/// The body, up to `limit` bytes (the declared length is not trusted: chunks are counted).
async fn read_limited(payload: &mut web::Payload, limit: usize) -> Result<Vec<u8>, BodyProblem> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(BodyProblem::Unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyProblem::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The signing secrets of a tenant's webhooks: stored as a JSON list (one per registered webhook), or a single
/// secret.
fn secrets_of(decrypted: String) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(&decrypted) {
        Ok(list) => list,
        Err(_) => vec![decrypted],
    }
}

/// `POST /hooks/billit/{token}`: 413 over 1 MiB, 404 for an unknown token, 401 unless signed with the tenant's
/// secret (nothing stored), otherwise stored with its processing job (unless it replays a stored delivery) and
/// answered 200.
pub async fn billit_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, WebError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_PAYLOAD_BYTES) {
        return Ok(HttpResponse::PayloadTooLarge().finish());
    }
    let Some((scope, secrets)) = state.billit.scope_for_webhook(&token).await? else {
        return Err(WebError::NotFound);
    };
    let body = match read_limited(&mut payload, MAX_PAYLOAD_BYTES).await {
        Ok(body) => body,
        Err(BodyProblem::TooLarge) => return Ok(HttpResponse::PayloadTooLarge().finish()),
        Err(BodyProblem::Unreadable(error)) => {
            tracing::info!(error = %error, "unreadable webhook body");
            return Ok(HttpResponse::BadRequest().finish());
        }
    };
    let Some(encrypted) = secrets.webhook_secret else {
        tracing::warn!(tenant = %scope.tenant_id(), "webhook refused: no webhook secret is registered");
        return Ok(HttpResponse::Unauthorized().finish());
    };
    let candidates = match portal_app::crypto::decrypt(
        &state.master_key,
        scope.tenant_id(),
        &encrypted,
    ) {
        Ok(secrets) => secrets_of(secrets),
        Err(error) => {
            // Not this tenant's secret (moved from another row) or damaged: nothing can be verified.
            tracing::error!(tenant = %scope.tenant_id(), error = %error, "webhook refused: the stored secret cannot be read");
            return Ok(HttpResponse::Unauthorized().finish());
        }
    };
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let tolerance = Duration::from_secs(state.settings.billit.webhook_tolerance_secs);
    let now = chrono::Utc::now();
    let mut refusal = None;
    let verified = candidates.iter().find(|secret| {
        match verify_signature(header, &body, secret.as_bytes(), now, tolerance) {
            Ok(()) => true,
            Err(error) => {
                refusal = Some(error);
                false
            }
        }
    });
    let (Some(secret), Some(Ok(signed))) = (verified, header.map(parse_signature_header)) else {
        let reason = refusal.map_or_else(|| "no secret".to_owned(), |error| error.to_string());
        tracing::warn!(tenant = %scope.tenant_id(), reason = %reason, "webhook refused: bad signature");
        return Ok(HttpResponse::Unauthorized().finish());
    };
    // What identifies this delivery: the same body signed at the same second gives the same key, so a replay
    // inside the tolerance window is answered 200 and not stored again.
    let signature = format!(
        "{}:{}",
        signed.timestamp,
        compute_signature(secret.as_bytes(), signed.timestamp, &body)
    );
    let body = match String::from_utf8(body) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    };
    // Stored with its job (together with the deliveries arriving at the same moment), a worker woken.
    let stored = state.webhook_inbox.record(&scope, body, &signature).await?;
    if stored.is_none() {
        tracing::debug!(tenant = %scope.tenant_id(), "webhook replay ignored");
    }
    Ok(HttpResponse::Ok().finish())
}
