//! The HTTP server: routes, middleware and security headers over an [`AppState`].

use crate::state::AppState;
use crate::{errors, routes, telemetry};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::Server;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;

/// The security headers every response carries. The CSP allows no inline script or style at all. With `hsts`
/// (the portal is reached over https), browsers are told to never use plain http for it again.
pub fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = if hsts {
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}

/// A form that does not parse (a missing field, a number where text was expected) gets a 400 page, not
/// actix's plain text.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(256 * 1024)
        .error_handler(|error, _req| {
            let page = match &error {
                actix_web::error::UrlencodedError::Overflow { .. } => errors::too_large_page(),
                _ => errors::error_page(actix_web::http::StatusCode::BAD_REQUEST, ""),
            };
            tracing::info!(error = %error, "unreadable form");
            actix_web::error::InternalError::from_response(error, page).into()
        })
}

/// Pages answered to a browser that holds a session are never stored (by the browser's cache, a shared proxy, or
/// the back button after signing out), unless the handler chose its own `Cache-Control` (static files, streams).
async fn no_store_when_signed_in(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let signed_in = req.cookie(crate::extract::SESSION_COOKIE).is_some();
    let mut response = next.call(req).await?.map_into_boxed_body();
    if signed_in && !response.headers().contains_key(CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// The server on `listener`, not yet running; it leaves signals to the program.
pub fn http_server(
    state: AppState,
    listener: TcpListener,
    shutdown_grace_secs: u64,
) -> std::io::Result<Server> {
    let hsts = state.hsts;
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(form_config())
            .wrap(from_fn(crate::extract::csrf_guard))
            .wrap(from_fn(no_store_when_signed_in))
            .wrap(from_fn(telemetry::request_span))
            .wrap(security_headers(hsts))
            .configure(routes::configure)
            .default_service(web::to(errors::not_found))
    })
    .disable_signals()
    .shutdown_timeout(shutdown_grace_secs)
    .listen(listener)?
    .run())
}
