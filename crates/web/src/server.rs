//! The HTTP server: routes, middleware and security headers over an [`AppState`].

use crate::state::AppState;
use crate::{errors, routes, telemetry};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;

/// The security headers every response carries. The CSP allows no inline script or style at all.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
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
            tracing::info!(error = %error, "unreadable form");
            actix_web::error::InternalError::from_response(
                error,
                errors::error_page(actix_web::http::StatusCode::BAD_REQUEST, ""),
            )
            .into()
        })
}

/// The server on `listener`, not yet running; it leaves signals to the program.
pub fn http_server(
    state: AppState,
    listener: TcpListener,
    shutdown_grace_secs: u64,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(form_config())
            .wrap(from_fn(crate::extract::csrf_guard))
            .wrap(from_fn(telemetry::request_span))
            .wrap(security_headers())
            .configure(routes::configure)
            .default_service(web::to(errors::not_found))
    })
    .disable_signals()
    .shutdown_timeout(shutdown_grace_secs)
    .listen(listener)?
    .run())
}
