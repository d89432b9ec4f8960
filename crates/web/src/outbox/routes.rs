//! The "sent emails" pages of a demonstration: with the embedded Billit sandbox and no SMTP server, emails are only
//! written as files, so whoever tries the portal reads them here instead (an answer to a 208, an invitation…).
//! Firm administrators see every email (`/admin/outbox`), a tenant's administrators their tenant's
//! (`/t/{slug}/settings/outbox`). Anywhere else (a real deployment) these pages do not exist: 404.

use crate::errors::{WebError, respond};
use crate::extract::{Admin, FirmAdmin, client_ip, layout_for};
use crate::format::date_time;
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use portal_app::outbox::{Asker, Owner, Retried};
use portal_domain::ids::TenantId;
use portal_persistence::outbox::{EmailStatus, StoredEmail};
use portal_persistence::tenants::Tenant;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

/// How many emails a list shows (a demonstration sends a few dozen).
const LIST_LIMIT: u64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/outbox", web::get().to(firm_list))
        .route("/admin/outbox/{id}", web::get().to(firm_email))
        .route("/admin/outbox/{id}/retry", web::post().to(firm_retry));
}

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure_tenant(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/outbox", web::get().to(tenant_list))
        .route("/settings/outbox/{id}", web::get().to(tenant_email))
        .route("/settings/outbox/{id}/retry", web::post().to(tenant_retry));
}

/// Whether this deployment is a demonstration whose emails go to files: the embedded (or a local) Billit sandbox,
/// and no SMTP server. A real deployment keeps its emails out of web pages.
pub fn available(state: &AppState) -> bool {
    state.shows_sent_emails()
}

fn ensure_available(state: &AppState) -> Result<(), WebError> {
    if available(state) {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

/// One line of the list.
struct Row {
    href: String,
    to: String,
    subject: String,
    status: &'static str,
    tone: &'static str,
    created: String,
    /// The company the email was sent for; only the firm's list shows it.
    company: Option<String>,
}

fn status_label(t: Tr, status: EmailStatus) -> &'static str {
    match status {
        EmailStatus::Queued => t.get("outbox.state.queued"),
        EmailStatus::Sending => t.get("outbox.state.sending"),
        EmailStatus::Sent => t.get("outbox.state.sent"),
        EmailStatus::Failed => t.get("outbox.state.failed"),
        EmailStatus::Uncertain => t.get("outbox.state.uncertain"),
    }
}

/// The status pill's colour (the classes the invoice pages use).
fn status_tone(status: EmailStatus) -> &'static str {
    match status {
        EmailStatus::Queued | EmailStatus::Sending => "warn",
        EmailStatus::Sent => "good",
        EmailStatus::Failed | EmailStatus::Uncertain => "bad",
    }
}

fn subject_or_placeholder(t: Tr, subject: &str) -> String {
    if subject.trim().is_empty() {
        t.get("outbox.no_subject").to_owned()
    } else {
        subject.to_owned()
    }
}

fn row(t: Tr, base: &str, email: &StoredEmail, company: Option<String>) -> Row {
    Row {
        href: format!("{base}/{}", email.id),
        to: email.email.to.join(", "),
        subject: subject_or_placeholder(t, &email.email.subject),
        status: status_label(t, email.status),
        tone: status_tone(email.status),
        created: date_time(email.created_at, t.lang),
        company,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/outbox/list.html")]
struct ListPage {
    layout: Layout,
    /// The tenant whose settings frame the page; `None` on the firm's page.
    tenant: Option<Tenant>,
    rows: Vec<Row>,
}

/// One email, as it would have arrived.
#[derive(Template, WebTemplate)]
#[template(path = "pages/outbox/email.html")]
struct EmailPage {
    layout: Layout,
    tenant: Option<Tenant>,
    back: String,
    subject: String,
    from: String,
    to: String,
    reply_to: Option<String>,
    status: &'static str,
    tone: &'static str,
    created: String,
    sent: Option<String>,
    attempts: i32,
    last_error: Option<String>,
    /// Why an `uncertain` email is not sent again, and what to do.
    uncertain: bool,
    /// Where "send again" posts, for an email that failed or may have been sent.
    retry_href: Option<String>,
    /// Just queued again by "send again".
    retried: bool,
    text_body: String,
    /// Shown in a sandboxed frame (`srcdoc`, escaped by the template): no script of the email can run, and the
    /// page's CSP applies to it as well.
    html_body: String,
}

impl EmailPage {
    fn new(
        layout: Layout,
        tenant: Option<Tenant>,
        back: String,
        email: StoredEmail,
        retried: bool,
    ) -> Self {
        let t = layout.t;
        let retry_href = matches!(email.status, EmailStatus::Failed | EmailStatus::Uncertain)
            .then(|| format!("{back}/{}/retry", email.id));
        Self {
            retry_href,
            retried,
            back,
            subject: subject_or_placeholder(t, &email.email.subject),
            from: email.email.from,
            to: email.email.to.join(", "),
            reply_to: email.email.reply_to,
            status: status_label(t, email.status),
            tone: status_tone(email.status),
            created: date_time(email.created_at, t.lang),
            sent: email.sent_at.map(|at| date_time(at, t.lang)),
            attempts: email.attempts,
            uncertain: email.status == EmailStatus::Uncertain,
            last_error: email
                .last_error
                .map(|error| portal_app::mailer::failure_sentence(&error, t)),
            text_body: hide_link_tokens(&email.email.text_body),
            html_body: hide_link_tokens(&email.email.html_body),
            layout,
            tenant,
        }
    }
}

/// The single-use links an email carries (invitations, password resets) without their token: whoever reads the
/// "sent emails" pages (a firm or company admin) must not be able to use them, and take over an account.
fn hide_link_tokens(body: &str) -> String {
    const MARKERS: [&str; 2] = ["/invitations/", "/password/reset/"];
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some((at, marker)) = MARKERS
        .iter()
        .filter_map(|marker| rest.find(marker).map(|at| (at, *marker)))
        .min_by_key(|(at, _)| *at)
    {
        let after = at + marker.len();
        out.push_str(&rest[..after]);
        let token_len = rest[after..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len() - after);
        if token_len > 0 {
            out.push('…');
        }
        rest = &rest[after + token_len..];
    }
    out.push_str(rest);
    out
}

fn parse_id(text: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(text).map_err(|_| WebError::NotFound)
}

/// `?retried=1` after "send again" (post/redirect/get).
#[derive(Deserialize)]
pub struct EmailQuery {
    retried: Option<String>,
}

impl EmailQuery {
    fn retried(&self) -> bool {
        self.retried.is_some()
    }
}

fn asker(req: &HttpRequest, user: &crate::extract::CurrentUser) -> Asker {
    Asker {
        user: user.user.id,
        ip: client_ip(req),
    }
}

/// Where "send again" leads: the email's page, saying it is queued again when it was.
fn after_retry(page: &str, retried: Retried) -> HttpResponse {
    match retried {
        Retried::Queued => see_other(&format!("{page}?retried=1")),
        Retried::Unchanged => see_other(page),
    }
}

// ---- the firm's outbox ----

pub async fn firm_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let names: HashMap<TenantId, String> = state
        .tenants
        .list_all()
        .await?
        .into_iter()
        .map(|tenant| (tenant.id, tenant.legal_name))
        .collect();
    let t = layout.t;
    let rows = state
        .outbox
        .recent(LIST_LIMIT)
        .await?
        .iter()
        .map(|email| {
            let company = match email.tenant_id {
                Some(id) => names.get(&id).cloned().unwrap_or_default(),
                None => t.get("outbox.firm").to_owned(),
            };
            row(t, "/admin/outbox", email, Some(company))
        })
        .collect();
    let page = ListPage {
        layout,
        tenant: None,
        rows,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn firm_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
    query: web::Query<EmailQuery>,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let id = parse_id(&id)?;
    let email = state.outbox.get(id).await?.ok_or(WebError::NotFound)?;
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let page = EmailPage::new(
        layout,
        None,
        "/admin/outbox".to_owned(),
        email,
        query.retried(),
    );
    Ok(respond(&req, StatusCode::OK, page))
}

/// "Send again" from the firm's list: a tenant's email through a scope minted for the firm administrator (so the
/// repository's tenant filter applies as for the tenant's own admins), the firm's own emails as the firm's.
pub async fn firm_retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let id = parse_id(&id)?;
    let email = state.outbox.get(id).await?.ok_or(WebError::NotFound)?;
    let asker = asker(&req, &admin.0);
    let retried = match email.tenant_id {
        Some(tenant) => {
            let tenant = state
                .tenants
                .find_by_id(tenant)
                .await?
                .ok_or(WebError::NotFound)?;
            let (_, scope) = state
                .tenants
                .scope_for_firm_admin(&admin.0.user, &tenant.slug)
                .await?
                .ok_or(WebError::NotFound)?;
            portal_app::outbox::retry(&state, Owner::Tenant(&scope), id, asker).await
        }
        None => portal_app::outbox::retry(&state, Owner::Firm, id, asker).await,
    }
    .map_err(WebError::from_failure)?;
    Ok(after_retry(&format!("/admin/outbox/{id}"), retried))
}

// ---- a tenant's outbox ----

pub async fn tenant_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let base = format!("/t/{}/settings/outbox", ctx.tenant.slug);
    let t = layout.t;
    let rows = state
        .outbox
        .recent_for_tenant(&ctx.scope, LIST_LIMIT)
        .await?
        .iter()
        .map(|email| row(t, &base, email, None))
        .collect();
    let page = ListPage {
        layout,
        tenant: Some(ctx.tenant.clone()),
        rows,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn tenant_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
    query: web::Query<EmailQuery>,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let (_, id) = path.into_inner();
    let id = parse_id(&id)?;
    let email = state
        .outbox
        .get_for_tenant(&ctx.scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let back = format!("/t/{}/settings/outbox", ctx.tenant.slug);
    let page = EmailPage::new(
        layout,
        Some(ctx.tenant.clone()),
        back,
        email,
        query.retried(),
    );
    Ok(respond(&req, StatusCode::OK, page))
}

/// "Send again" from a tenant's list: only this tenant's email (another tenant's id is a 404).
pub async fn tenant_retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    ensure_available(&state)?;
    let (_, id) = path.into_inner();
    let id = parse_id(&id)?;
    let asker = asker(&req, &ctx.user);
    let retried = portal_app::outbox::retry(&state, Owner::Tenant(&ctx.scope), id, asker)
        .await
        .map_err(WebError::from_failure)?;
    Ok(after_retry(
        &format!("/t/{}/settings/outbox/{id}", ctx.tenant.slug),
        retried,
    ))
}

#[cfg(test)]
mod tests {
    use super::hide_link_tokens;

    #[test]
    fn link_tokens_are_hidden() {
        assert_eq!(
            hide_link_tokens("Lien : https://p.example/invitations/AbC-123_x.\nFin"),
            "Lien : https://p.example/invitations/….\nFin"
        );
        assert_eq!(
            hide_link_tokens(r#"<a href="https://p/password/reset/zZ9">x</a> /invitations/"#),
            r#"<a href="https://p/password/reset/…">x</a> /invitations/"#
        );
        assert_eq!(hide_link_tokens("nothing to hide"), "nothing to hide");
    }
}
