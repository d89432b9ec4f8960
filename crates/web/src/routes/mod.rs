//! HTTP handlers: thin, they parse, call a repository or service with a scope, and render.

pub mod admin;
pub mod answers;
pub mod auth;
pub mod customers;
pub mod health;
pub mod hooks;
pub mod invoice_views;
pub mod invoices;
pub mod live;
pub mod outbox;
pub mod payments;
pub mod tenant;

use actix_web::HttpResponse;
use actix_web::http::header::LOCATION;
use actix_web::web;

/// 303 to `location`: what every successful form post answers (post/redirect/get).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

/// The address fields of a company form, or `None` when the country is not an ISO 3166 code (empty means none).
pub(crate) fn address_from_form(
    street: &str,
    postal_code: &str,
    city: &str,
    country: &str,
) -> Option<portal_persistence::tenants::TenantAddress> {
    let country = match blank_to_none(country) {
        None => None,
        Some(text) => Some(portal_domain::identifiers::country_code(&text)?),
    };
    Some(portal_persistence::tenants::TenantAddress {
        street: blank_to_none(street),
        postal_code: blank_to_none(postal_code),
        city: blank_to_none(city),
        country,
    })
}

/// The tenant's invoice named by a URL segment; an id that does not parse, or names no invoice of this tenant, is
/// the same 404.
pub(crate) async fn find_invoice(
    state: &crate::state::AppState,
    ctx: &crate::auth::TenantContext,
    id: &str,
) -> Result<portal_persistence::invoices::InvoiceRecord, crate::errors::WebError> {
    let id =
        portal_domain::ids::InvoiceId::parse(id.trim()).ok_or(crate::errors::WebError::NotFound)?;
    state
        .invoices
        .get(&ctx.scope, id)
        .await?
        .ok_or(crate::errors::WebError::NotFound)
}

/// `2026-11-30` (what a date input sends) or `30/11/2026` (what people type without a date picker).
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

/// A form field left empty (or only spaces) means "none".
pub(crate) fn blank_to_none(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Every route of the application (contracts.md: `/t/{slug}/…` for tenants, `/admin/…` for the firm).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth::home))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{path:.*}", web::get().to(crate::assets::serve))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/account", web::get().to(auth::account))
        .route(
            "/account/logout-everywhere",
            web::post().to(auth::logout_everywhere),
        )
        .route("/account/language", web::post().to(auth::set_language))
        .route("/invitations/{token}", web::get().to(auth::invitation_form))
        .route(
            "/invitations/{token}",
            web::post().to(auth::accept_invitation),
        )
        .route("/password/forgot", web::get().to(auth::forgot_form))
        .route("/password/forgot", web::post().to(auth::forgot))
        .route("/password/reset/{token}", web::get().to(auth::reset_form))
        .route("/password/reset/{token}", web::post().to(auth::reset))
        .route("/t", web::get().to(tenant::switcher))
        .route("/t/{slug}", web::get().to(tenant::dashboard))
        .route("/t/{slug}/", web::get().to(tenant::dashboard))
        .route("/t/{slug}/settings", web::get().to(tenant::profile))
        .route(
            "/t/{slug}/settings/profile",
            web::post().to(tenant::save_profile),
        )
        .route("/t/{slug}/settings/users", web::get().to(tenant::users))
        .route(
            "/t/{slug}/settings/users/invite",
            web::post().to(tenant::invite),
        )
        .route(
            "/t/{slug}/settings/users/{user_id}",
            web::post().to(tenant::change_member),
        )
        .route("/t/{slug}/settings/billit", web::get().to(tenant::billit))
        .route(
            "/t/{slug}/settings/billit",
            web::post().to(tenant::save_billit),
        )
        .route(
            "/t/{slug}/settings/billit/test",
            web::post().to(tenant::test_billit),
        )
        .route(
            "/t/{slug}/settings/billit/webhook",
            web::post().to(tenant::register_webhook),
        )
        .route(
            "/t/{slug}/settings/email",
            web::get().to(tenant::email_settings),
        )
        .route(
            "/t/{slug}/settings/email",
            web::post().to(tenant::save_email_settings),
        )
        .route("/t/{slug}/settings/audit", web::get().to(tenant::audit_log))
        .route("/admin", web::get().to(admin::tenants))
        .route("/admin/tenants/new", web::get().to(admin::new_tenant))
        .route("/admin/tenants", web::post().to(admin::create_tenant))
        .route("/admin/tenants/{id}", web::get().to(admin::edit_tenant))
        .route("/admin/tenants/{id}", web::post().to(admin::update_tenant))
        .route(
            "/admin/tenants/{id}/status",
            web::post().to(admin::set_tenant_status),
        )
        .route(
            "/admin/tenants/{id}/invite",
            web::post().to(admin::invite_tenant_admin),
        )
        .route("/admin/admins", web::get().to(admin::admins))
        .route("/admin/admins/invite", web::post().to(admin::invite_admin))
        .route(
            "/admin/admins/{id}/revoke",
            web::post().to(admin::revoke_admin),
        )
        .route("/admin/audit", web::get().to(admin::audit_log))
        .configure(outbox::configure)
        .configure(customers::configure)
        // The editor's fixed paths (`/invoices/new`) before the views' `/invoices/{id}`.
        .configure(invoices::configure)
        .configure(payments::configure)
        .configure(invoice_views::configure)
        .configure(answers::configure)
        .configure(hooks::configure);
}
