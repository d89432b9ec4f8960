//! The API's routes: the token settings page (a page of the company's settings, with the session and CSRF), and
//! `/api/v1` (bearer tokens only, JSON, never cached, every refusal a problem document).

use super::problem::ApiError;
use super::{customers, docs, events, invoices, payments, tokens};
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|error, _req| ApiError::InvalidQuery(error.to_string()).into()),
            )
            .app_data(web::PayloadConfig::new(1024 * 1024))
            .route("/openapi.json", web::get().to(docs::openapi_json))
            .route("/docs", web::get().to(docs::page))
            .route("/customers", web::post().to(customers::create))
            .route("/customers", web::get().to(customers::list))
            .route("/customers/{id}", web::get().to(customers::get))
            .route("/customers/{id}", web::put().to(customers::update))
            .route("/invoices", web::post().to(invoices::create))
            .route("/invoices", web::get().to(invoices::list))
            .route("/invoices/lookup", web::get().to(invoices::by_number))
            .route("/invoices/{id}", web::get().to(invoices::get))
            .route("/invoices/{id}", web::put().to(invoices::update))
            .route("/invoices/{id}/submit", web::post().to(invoices::submit))
            .route("/invoices/{id}/payments", web::post().to(payments::record))
            .route("/invoices/{id}/payments", web::get().to(payments::list))
            .route("/events", web::get().to(events::feed))
            .default_service(web::to(not_found)),
    );
}

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`): the tokens' settings page.
pub fn configure_tenant(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/api-tokens", web::get().to(tokens::page))
        .route("/settings/api-tokens", web::post().to(tokens::create))
        .route(
            "/settings/api-tokens/{id}/revoke",
            web::post().to(tokens::revoke),
        );
}
