//! One log span per HTTP request, carrying its id (the program installs the subscriber).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The route pattern a request matches (`/invitations/{token}`), never its path: paths carry invitation, reset
/// and webhook tokens, which must not reach the logs. A path that matches no route is logged as `(unmatched)`.
pub fn route_of(req: &ServiceRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned())
}

/// Requests that would drown a newcomer's console: static files, webhooks (Billit sends many), health probes and
/// the live stream. Logged at debug when they succeed.
fn is_noisy(route: &str) -> bool {
    route.starts_with("/static/")
        || route.starts_with("/hooks/")
        || matches!(route, "/healthz" | "/readyz" | "/t/{slug}/live")
}

/// Logs every request once with its outcome and time, under a span that every log line of the request inherits.
/// The id comes from a trusted proxy's `X-Request-Id` when it is short and plain, otherwise it is new. The span
/// carries the route pattern, not the path (see [`route_of`]).
///
/// Every 500 leaves with the same opaque page, whatever produced it, so no internal detail ever reaches a user.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let route = route_of(&req);
    let noisy = is_noisy(&route);
    // The JSON API answers its own opaque problem document (the request id is in the header).
    let is_api = req.path().starts_with("/api/");
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        route = %route,
    );
    let started = std::time::Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| match &result {
        Ok(response) => {
            let status = response.status().as_u16();
            if status >= 500 {
                tracing::error!(status, elapsed_ms, "request failed");
            } else if noisy {
                tracing::debug!(status, elapsed_ms, "request");
            } else {
                tracing::info!(status, elapsed_ms, "request");
            }
        }
        Err(error) => tracing::error!(error = %error, elapsed_ms, "request failed"),
    });
    let response = result?;
    let mut response = if response.status() == StatusCode::INTERNAL_SERVER_ERROR && !is_api {
        response.into_response(crate::errors::server_error_page(&request_id))
    } else {
        response.map_into_boxed_body()
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}
