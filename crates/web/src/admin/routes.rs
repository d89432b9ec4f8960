//! Firm administration: companies (tenants), their first admin, firm administrators, the whole audit log.

use crate::emails;
use crate::errors::{WebError, respond};
use crate::extract::{FirmAdmin, client_ip, layout_for};
use crate::forms::{address_from_form, blank_to_none, see_other};
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_domain::Localized;
use portal_domain::identifiers::{Email, Siren, VatNumber};
use portal_domain::ids::{TenantId, UserId};
use portal_persistence::audit::{self, AuditEntry, AuditRecord};
use portal_persistence::invitations::{Invitation, InvitedAs};
use portal_persistence::tenants::{Tenant, TenantProfile};
use portal_persistence::users::User;
use serde::Deserialize;

/// Domain messages are sentence fragments; next to a field they start with a capital.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn entry(admin: &FirmAdmin, req: &HttpRequest, action: &'static str, target: String) -> AuditEntry {
    AuditEntry::new(action, target)
        .by(Some(admin.0.user.id))
        .from_ip(client_ip(req))
}

// ---- tenants ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/tenants.html")]
struct TenantsPage {
    layout: Layout,
    tenants: Vec<Tenant>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn tenants(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let notice = match query.notice.as_deref() {
        Some("created") => Some(layout.t.get("admin.tenant_created").to_owned()),
        Some("saved") => Some(layout.t.get("settings.saved").to_owned()),
        Some("invited") => Some(layout.t.get("users.invited").to_owned()),
        _ => None,
    };
    let page = TenantsPage {
        layout,
        tenants: state.tenants.list_all().await?,
        notice,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

/// The tenant form, as typed (kept on errors so nothing is lost).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantForm {
    slug: String,
    legal_name: String,
    siren: String,
    vat_number: String,
    street: String,
    postal_code: String,
    city: String,
    country: String,
}

/// One message per field, next to it.
#[derive(Debug, Default)]
struct FieldErrors {
    slug: Option<String>,
    legal_name: Option<String>,
    siren: Option<String>,
    vat_number: Option<String>,
    country: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.slug.is_some()
            || self.legal_name.is_some()
            || self.siren.is_some()
            || self.vat_number.is_some()
            || self.country.is_some()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/tenant_form.html")]
struct TenantFormPage {
    layout: Layout,
    /// `None` when creating.
    tenant: Option<Tenant>,
    form: TenantForm,
    errors: FieldErrors,
    /// The company's pending invitations, which the firm may revoke (a first admin's, or any a company admin
    /// sent).
    invitations: Vec<Invitation>,
    notice: Option<String>,
}

/// The most pending invitations the company's page lists.
const PENDING_SHOWN: u64 = 100;

/// The pending invitations of the company `id`, through a scope minted for the firm administrator.
async fn pending_invitations(
    state: &AppState,
    admin: &FirmAdmin,
    id: TenantId,
) -> Result<Vec<Invitation>, WebError> {
    match state.tenants.scope_for_firm_page(&admin.0.user, id).await? {
        Some((_, scope)) => Ok(state
            .invitations
            .pending_for_tenant(&scope, Utc::now(), PENDING_SHOWN)
            .await?),
        None => Ok(Vec::new()),
    }
}

impl TenantFormPage {
    fn invited_role(&self, invitation: &Invitation) -> &str {
        match invitation.invited_as {
            InvitedAs::Member(role) => self.layout.t.get(crate::layout::role_key(role)),
            InvitedAs::FirmAdmin => self.layout.t.get("role.firm_admin"),
            InvitedAs::FirmAccountant => self.layout.t.get("firm.firm_staff"),
        }
    }

    fn action(&self) -> String {
        match &self.tenant {
            Some(tenant) => format!("/admin/tenants/{}", tenant.id),
            None => "/admin/tenants".to_owned(),
        }
    }
}

impl TenantForm {
    fn from_tenant(tenant: &Tenant) -> Self {
        Self {
            slug: tenant.slug.clone(),
            legal_name: tenant.legal_name.clone(),
            siren: tenant.siren.clone(),
            vat_number: tenant.vat_number.clone().unwrap_or_default(),
            street: tenant.address.street.clone().unwrap_or_default(),
            postal_code: tenant.address.postal_code.clone().unwrap_or_default(),
            city: tenant.address.city.clone().unwrap_or_default(),
            country: tenant.address.country.clone().unwrap_or_default(),
        }
    }

    /// The checked profile, or the message of every field at fault.
    async fn validate(
        &self,
        state: &AppState,
        t: Tr,
        except: Option<TenantId>,
    ) -> Result<Result<TenantProfile, FieldErrors>, WebError> {
        let mut errors = FieldErrors::default();
        let slug = self.slug.trim().to_lowercase();
        let slug_ok = (2..=63).contains(&slug.len())
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if !slug_ok {
            errors.slug = Some(t.get("admin.slug_invalid").to_owned());
        } else if state.tenants.slug_taken(&slug, except).await? {
            errors.slug = Some(t.get("admin.slug_taken").to_owned());
        }
        if self.legal_name.trim().is_empty() {
            errors.legal_name = Some(t.get("profile.legal_name_required").to_owned());
        }
        let siren = match Siren::parse(&self.siren) {
            Ok(siren) => Some(siren),
            Err(error) => {
                errors.siren = Some(capitalized(&error.message(t.lang)));
                None
            }
        };
        let vat = match (siren, blank_to_none(&self.vat_number)) {
            (Some(siren), None) => Some(VatNumber::from_siren(siren)),
            (Some(siren), Some(text)) => match VatNumber::parse_for(&text, siren) {
                Ok(vat) => Some(vat),
                Err(error) => {
                    errors.vat_number = Some(capitalized(&error.message(t.lang)));
                    None
                }
            },
            (None, _) => None,
        };
        let address = address_from_form(&self.street, &self.postal_code, &self.city, &self.country);
        if address.is_none() {
            errors.country = Some(t.get("profile.country_invalid").to_owned());
        }
        if errors.any() {
            return Ok(Err(errors));
        }
        let (Some(siren), Some(vat), Some(address)) = (siren, vat, address) else {
            return Ok(Err(errors));
        };
        Ok(Ok(TenantProfile {
            slug,
            legal_name: self.legal_name.trim().to_owned(),
            siren: siren.to_string(),
            vat_number: Some(vat.to_string()),
            address,
        }))
    }
}

pub async fn new_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
) -> Result<HttpResponse, WebError> {
    let page = TenantFormPage {
        layout: layout_for(&state, &req, &admin.0, None).await?,
        tenant: None,
        form: TenantForm {
            country: "FR".to_owned(),
            ..TenantForm::default()
        },
        errors: FieldErrors::default(),
        invitations: Vec::new(),
        notice: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn create_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    form: web::Form<TenantForm>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let form = form.into_inner();
    let profile = match form.validate(&state, layout.t, None).await? {
        Ok(profile) => profile,
        Err(errors) => {
            let page = TenantFormPage {
                layout,
                tenant: None,
                form,
                errors,
                invitations: Vec::new(),
                notice: None,
            };
            return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let created = entry(
        &admin,
        &req,
        "tenant.created",
        format!("tenant:{}", profile.slug),
    );
    state.tenants.create(profile, Some(created)).await?;
    Ok(see_other("/admin?notice=created"))
}

pub async fn edit_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let id = TenantId::parse(&id).ok_or(WebError::NotFound)?;
    let tenant = state
        .tenants
        .find_by_id(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let notice = (query.notice.as_deref() == Some("revoked"))
        .then(|| layout.t.get("users.revoked").to_owned());
    let page = TenantFormPage {
        layout,
        form: TenantForm::from_tenant(&tenant),
        tenant: Some(tenant),
        errors: FieldErrors::default(),
        invitations: pending_invitations(&state, &admin, id).await?,
        notice,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn update_tenant(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
    form: web::Form<TenantForm>,
) -> Result<HttpResponse, WebError> {
    let id = TenantId::parse(&id).ok_or(WebError::NotFound)?;
    let tenant = state
        .tenants
        .find_by_id(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let form = form.into_inner();
    let profile = match form.validate(&state, layout.t, Some(id)).await? {
        Ok(profile) => profile,
        Err(errors) => {
            let page = TenantFormPage {
                layout,
                tenant: Some(tenant),
                form,
                errors,
                invitations: pending_invitations(&state, &admin, id).await?,
                notice: None,
            };
            return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let updated = entry(
        &admin,
        &req,
        "tenant.updated",
        format!("tenant:{}", tenant.slug),
    );
    if state
        .tenants
        .update_profile(id, profile, updated)
        .await?
        .is_none()
    {
        return Err(WebError::NotFound);
    }
    Ok(see_other("/admin?notice=saved"))
}

#[derive(Deserialize)]
pub struct StatusForm {
    active: String,
}

pub async fn set_tenant_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, WebError> {
    let id = TenantId::parse(&id).ok_or(WebError::NotFound)?;
    let active = form.active == "true";
    let action = if active {
        "tenant.reactivated"
    } else {
        "tenant.suspended"
    };
    let changed = entry(&admin, &req, action, format!("tenant:{id}"));
    if !state.tenants.set_active(id, active, Some(changed)).await? {
        return Err(WebError::NotFound);
    }
    Ok(see_other("/admin?notice=saved"))
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    language: Option<String>,
}

/// Invites a tenant's first administrator.
pub async fn invite_tenant_admin(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, WebError> {
    let id = TenantId::parse(&id).ok_or(WebError::NotFound)?;
    let tenant = state
        .tenants
        .find_by_id(id)
        .await?
        .ok_or(WebError::NotFound)?;
    let Ok(email) = Email::parse(&form.email) else {
        let layout = layout_for(&state, &req, &admin.0, None).await?;
        let page = TenantFormPage {
            errors: FieldErrors::default(),
            form: TenantForm::from_tenant(&tenant),
            tenant: Some(tenant),
            layout,
            invitations: pending_invitations(&state, &admin, id).await?,
            notice: None,
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    let email = email.to_string();
    let now = Utc::now();
    let invited = entry(
        &admin,
        &req,
        "tenant.admin_invited",
        format!("tenant:{}", tenant.slug),
    )
    .details(serde_json::json!({ "email": email }));
    let token = state
        .invitations
        .invite_first_admin(id, &email, Some(admin.0.user.id), now, invited)
        .await?;
    let lang = form
        .language
        .as_deref()
        .and_then(portal_domain::Language::parse)
        .unwrap_or_default();
    let message = emails::invitation(&state, lang, &email, &tenant.legal_name, &token)?;
    state.outbox.queue_for_firm(message).await?;
    state.jobs.ring();
    Ok(see_other("/admin?notice=invited"))
}

/// Revokes a pending invitation of a company from the firm's page of that company (a first admin's invitation
/// sent to the wrong address, or one a company admin sent): the link dies, the company's audit log records it
/// with the firm administrator as its author. Another company's invitation, or one no longer pending, is a 404.
pub async fn revoke_tenant_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, invitation) = path.into_inner();
    let id = TenantId::parse(&id).ok_or(WebError::NotFound)?;
    let invitation = uuid::Uuid::parse_str(&invitation).map_err(|_| WebError::NotFound)?;
    let (_, scope) = state
        .tenants
        .scope_for_firm_page(&admin.0.user, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let revoked = entry(
        &admin,
        &req,
        "invitation.revoked",
        format!("invitation:{invitation}"),
    );
    if !state
        .invitations
        .revoke(&scope, invitation, Utc::now(), revoked)
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(see_other(&format!("/admin/tenants/{id}?notice=revoked")))
}

// ---- firm administrators ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/admins.html")]
struct AdminsPage {
    layout: Layout,
    admins: Vec<User>,
    notice: Option<String>,
    error: Option<String>,
}

pub async fn admins(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let notice = match query.notice.as_deref() {
        Some("invited") => Some(layout.t.get("users.invited").to_owned()),
        Some("revoked") => Some(layout.t.get("users.changed").to_owned()),
        _ => None,
    };
    let error = (query.notice.as_deref() == Some("last"))
        .then(|| layout.t.get("admin.last_admin").to_owned());
    let page = AdminsPage {
        layout,
        admins: state.users.firm_admins().await?,
        notice,
        error,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn invite_admin(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, WebError> {
    let Ok(email) = Email::parse(&form.email) else {
        let layout = layout_for(&state, &req, &admin.0, None).await?;
        let page = AdminsPage {
            error: Some(layout.t.get("users.email_invalid").to_owned()),
            layout,
            admins: state.users.firm_admins().await?,
            notice: None,
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    let email = email.to_string();
    let invited = entry(&admin, &req, "firm_admin.invited", format!("email:{email}"));
    let token = state
        .invitations
        .invite_firm_admin(&email, Some(admin.0.user.id), Utc::now(), invited)
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
    Ok(see_other("/admin/admins?notice=invited"))
}

pub async fn revoke_admin(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id = UserId::parse(&id).ok_or(WebError::NotFound)?;
    let revoked = entry(&admin, &req, "firm_admin.revoked", format!("user:{id}"));
    if !state.users.revoke_firm_admin(id, revoked).await? {
        return Ok(see_other("/admin/admins?notice=last"));
    }
    Ok(see_other("/admin/admins?notice=revoked"))
}

// ---- audit ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditRecord>,
}

pub async fn audit_log(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
) -> Result<HttpResponse, WebError> {
    let page = AuditPage {
        layout: layout_for(&state, &req, &admin.0, None).await?,
        entries: audit::list_all(&state.db, 500).await?,
    };
    Ok(respond(&req, StatusCode::OK, page))
}
