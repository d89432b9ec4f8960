//! Every route, each handled by its feature's module (the only module that knows every feature).

use crate::{
    admin, answers, api, auth, console, customers, firm, health, hooks, invoices, live, onboarding,
    outbox, payments, reminders, tenant, webhooks,
};
use actix_web::web;

/// Every route of the application (contracts.md: `/t/{slug}/…` for tenants, `/admin/…` for the firm).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth::routes::home))
        .route("/healthz", web::get().to(health::routes::healthz))
        .route("/readyz", web::get().to(health::routes::readyz))
        .route(
            "/static/{path:.*}",
            web::get().to(crate::statics::routes::serve),
        )
        // A company's routes, one scope: a request for a company's page is compared with its routes only (actix
        // tries each route's pattern in turn, a regular expression for each pattern with a variable; the ~150
        // routes in one list cost about 9% of the server's time under the load bench's PostgreSQL pages). No
        // route outside it starts with `/t/{slug}`, so moving them here changes no request's route.
        .service(web::scope("/t/{slug}").configure(tenant))
        .route("/login", web::get().to(auth::routes::login_form))
        .route("/login", web::post().to(auth::routes::login))
        .route("/logout", web::post().to(auth::routes::logout))
        .route("/account", web::get().to(auth::routes::account))
        .route(
            "/account/logout-everywhere",
            web::post().to(auth::routes::logout_everywhere),
        )
        .route(
            "/account/language",
            web::post().to(auth::routes::set_language),
        )
        .route(
            "/invitations/{token}",
            web::get().to(auth::routes::invitation_form),
        )
        .route(
            "/invitations/{token}",
            web::post().to(auth::routes::accept_invitation),
        )
        .route("/password/forgot", web::get().to(auth::routes::forgot_form))
        .route("/password/forgot", web::post().to(auth::routes::forgot))
        .route(
            "/password/reset/{token}",
            web::get().to(auth::routes::reset_form),
        )
        .route(
            "/password/reset/{token}",
            web::post().to(auth::routes::reset),
        )
        .route("/t", web::get().to(tenant::routes::switcher))
        .route("/admin", web::get().to(admin::routes::tenants))
        .route(
            "/admin/tenants/new",
            web::get().to(admin::routes::new_tenant),
        )
        .route(
            "/admin/tenants",
            web::post().to(admin::routes::create_tenant),
        )
        .route(
            "/admin/tenants/{id}",
            web::get().to(admin::routes::edit_tenant),
        )
        .route(
            "/admin/tenants/{id}",
            web::post().to(admin::routes::update_tenant),
        )
        .route(
            "/admin/tenants/{id}/status",
            web::post().to(admin::routes::set_tenant_status),
        )
        .route(
            "/admin/tenants/{id}/invite",
            web::post().to(admin::routes::invite_tenant_admin),
        )
        .route(
            "/admin/tenants/{id}/invitations/{invitation}/revoke",
            web::post().to(admin::routes::revoke_tenant_invitation),
        )
        .route("/admin/admins", web::get().to(admin::routes::admins))
        .route(
            "/admin/admins/invite",
            web::post().to(admin::routes::invite_admin),
        )
        .route(
            "/admin/admins/{id}/revoke",
            web::post().to(admin::routes::revoke_admin),
        )
        .route("/admin/audit", web::get().to(admin::routes::audit_log))
        .configure(outbox::routes::configure)
        // The import's fixed paths before anything that could read `/firm/companies/{…}`.
        .configure(onboarding::routes::configure)
        .configure(console::routes::configure)
        .configure(hooks::routes::configure)
        .configure(api::routes::configure)
        .route(
            "/account/notifications",
            web::post().to(auth::routes::save_notifications),
        )
        .configure(firm::routes::configure);
}

/// A company's routes, relative to `/t/{slug}`, in the order they had in the application's one list (where a fixed
/// path must come before a pattern that would take it).
fn tenant(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(invoices::dashboard::dashboard))
        .route("/", web::get().to(invoices::dashboard::dashboard))
        .route("/settings", web::get().to(tenant::routes::profile))
        .route(
            "/settings/profile",
            web::post().to(tenant::routes::save_profile),
        )
        .route("/settings/users", web::get().to(tenant::routes::users))
        .route(
            "/settings/users/invite",
            web::post().to(tenant::routes::invite),
        )
        .route(
            "/settings/users/invitations/{id}/revoke",
            web::post().to(tenant::routes::revoke_invitation),
        )
        .route(
            "/settings/users/{user_id}",
            web::post().to(tenant::routes::change_member),
        )
        .route("/settings/billit", web::get().to(tenant::routes::billit))
        .route(
            "/settings/billit",
            web::post().to(tenant::routes::save_billit),
        )
        .route(
            "/settings/billit/test",
            web::post().to(tenant::routes::test_billit),
        )
        .route(
            "/settings/billit/webhook",
            web::post().to(tenant::routes::register_webhook),
        )
        .route(
            "/settings/email",
            web::get().to(tenant::routes::email_settings),
        )
        .route(
            "/settings/email",
            web::post().to(tenant::routes::save_email_settings),
        )
        .route("/settings/audit", web::get().to(tenant::routes::audit_log))
        .configure(outbox::routes::configure_tenant)
        .configure(customers::routes::configure)
        // The exports' and the editor's fixed paths (`/invoices/export.csv`, `/invoices/new`) before the views'
        // `/invoices/{id}`.
        .configure(invoices::export::configure)
        .configure(invoices::editor::configure)
        .configure(payments::routes::configure)
        .configure(invoices::views::configure)
        .configure(answers::routes::configure)
        .configure(reminders::routes::configure)
        .configure(webhooks::routes::configure)
        .configure(api::routes::configure_tenant)
        .configure(live::routes::configure);
}
