//! `/firm/staff`: firm administrators invite firm accountants and fill their portfolios (which companies, with
//! which role). Anyone else gets 404.

use crate::emails;
use crate::errors::{WebError, respond};
use crate::extract::{FirmAdmin, client_ip, layout_for};
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_domain::identifiers::Email;
use portal_domain::ids::{TenantId, UserId};
use portal_persistence::audit::AuditEntry;
use portal_persistence::firm::Accountant;
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::Tenant;
use serde::Deserialize;

fn entry(admin: &FirmAdmin, req: &HttpRequest, action: &'static str, target: String) -> AuditEntry {
    AuditEntry::new(action, target)
        .by(Some(admin.0.user.id))
        .from_ip(client_ip(req))
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/firm/staff.html")]
struct StaffPage {
    layout: Layout,
    accountants: Vec<Accountant>,
    companies: Vec<Tenant>,
    notice: Option<String>,
    error: Option<String>,
}

impl StaffPage {
    fn role_label(&self, role: &TenantRole) -> &str {
        self.layout.t.get(match role {
            TenantRole::Admin => "firm.staff.role_admin",
            _ => "firm.staff.role_member",
        })
    }

    fn remove_label(&self, company: &str) -> String {
        self.layout
            .t
            .fill("firm.staff.remove", &[("company", company)])
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn staff_page(
    state: &AppState,
    req: &HttpRequest,
    admin: &FirmAdmin,
    notice: Option<String>,
    error: Option<String>,
) -> Result<StaffPage, WebError> {
    let mut companies: Vec<Tenant> = state
        .tenants
        .list_all()
        .await?
        .into_iter()
        .filter(|tenant| tenant.active)
        .collect();
    companies.sort_by_key(|tenant| tenant.legal_name.to_lowercase());
    Ok(StaffPage {
        layout: layout_for(state, req, &admin.0, None).await?,
        accountants: state.firm.accountants().await?,
        companies,
        notice,
        error,
    })
}

/// `GET /firm/staff`.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let mut page = staff_page(&state, &req, &admin, None, None).await?;
    let t = page.layout.t;
    page.notice = match query.notice.as_deref() {
        Some("invited") => Some(t.get("users.invited").to_owned()),
        Some("added" | "removed") => Some(t.get("users.changed").to_owned()),
        _ => None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    language: Option<String>,
}

/// `POST /firm/staff/invite`: an invitation to be a firm accountant.
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, WebError> {
    let Ok(email) = Email::parse(&form.email) else {
        let lang = admin.0.language();
        let page = staff_page(
            &state,
            &req,
            &admin,
            None,
            Some(Tr::new(lang).get("firm.staff.bad_email").to_owned()),
        )
        .await?;
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    let email = email.to_string();
    let invited = entry(
        &admin,
        &req,
        "firm_accountant.invited",
        format!("email:{email}"),
    );
    let token = state
        .invitations
        .invite_firm_accountant(&email, Some(admin.0.user.id), Utc::now(), invited)
        .await?;
    let lang = form
        .language
        .as_deref()
        .and_then(portal_domain::Language::parse)
        .unwrap_or_default();
    let place = Tr::new(lang).get("invitation.firm").to_owned();
    let message = emails::invitation(&state, lang, &email, &place, &token)?;
    state.outbox.queue_for_firm(message).await?;
    state.jobs.ring();
    Ok(see_other("/firm/staff?notice=invited"))
}

#[derive(Deserialize)]
pub struct AssignForm {
    tenant: String,
    role: String,
}

/// `POST /firm/staff/{user_id}/portfolio`: a company into the accountant's portfolio, with a role (member or
/// admin). An unknown accountant or company is a 404; a role other than those two, a 422 in words.
pub async fn assign(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    path: web::Path<String>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, WebError> {
    let user = UserId::parse(path.trim()).ok_or(WebError::NotFound)?;
    let tenant_id = TenantId::parse(form.tenant.trim()).ok_or(WebError::NotFound)?;
    let tenant = state
        .tenants
        .find_by_id(tenant_id)
        .await?
        .filter(|tenant| tenant.active)
        .ok_or(WebError::NotFound)?;
    let role = match TenantRole::parse(form.role.trim()) {
        Some(role @ (TenantRole::Member | TenantRole::Admin)) => role,
        _ => {
            let lang = admin.0.language();
            let page = staff_page(
                &state,
                &req,
                &admin,
                None,
                Some(Tr::new(lang).get("firm.staff.bad_role").to_owned()),
            )
            .await?;
            return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let assigned = entry(
        &admin,
        &req,
        "firm_portfolio.assigned",
        format!("user:{user}"),
    )
    .details(serde_json::json!({ "tenant": tenant.slug, "role": role.as_str() }));
    if !state.firm.assign(user, tenant.id, role, assigned).await? {
        return Err(WebError::NotFound);
    }
    Ok(see_other("/firm/staff?notice=added"))
}

/// `POST /firm/staff/{user_id}/portfolio/{tenant_id}/remove`.
pub async fn unassign(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (user, tenant) = path.into_inner();
    let user = UserId::parse(user.trim()).ok_or(WebError::NotFound)?;
    let tenant = TenantId::parse(tenant.trim()).ok_or(WebError::NotFound)?;
    let removed = entry(
        &admin,
        &req,
        "firm_portfolio.removed",
        format!("user:{user}"),
    )
    .details(serde_json::json!({ "tenant": tenant.to_string() }));
    if !state.firm.unassign(user, tenant, removed).await? {
        return Err(WebError::NotFound);
    }
    Ok(see_other("/firm/staff?notice=removed"))
}
