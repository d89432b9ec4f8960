//! A tenant's own pages: the switcher, the dashboard and the settings (company, users, Billit, email, audit).

use crate::emails;
use crate::errors::{WebError, respond};
use crate::extract::{Admin, CurrentUser, TenantContext, client_ip, layout_for};
use crate::forms::{address_from_form, blank_to_none, see_other};
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_app::crypto;
use portal_domain::Language;
use portal_domain::identifiers::Email;
use portal_persistence::audit::{self, AuditEntry, AuditRecord};
use portal_persistence::billit_connections::{
    BillitConnection, BillitEnvironment, ConnectionSettings,
};
use portal_persistence::invitations::{Invitation, InvitedAs};
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::{EmailSettings, Member, MembershipError, Tenant, TenantAddress};
use serde::Deserialize;

fn entry(
    ctx: &TenantContext,
    req: &HttpRequest,
    action: &'static str,
    target: String,
) -> AuditEntry {
    AuditEntry::new(action, target)
        .by(Some(ctx.user.user.id))
        .from_ip(client_ip(req))
}

/// The audit entry of an action on the tenant itself (settings, connection).
fn on_tenant(
    ctx: &TenantContext,
    req: &HttpRequest,
    action: &'static str,
    details: serde_json::Value,
) -> AuditEntry {
    entry(ctx, req, action, format!("tenant:{}", ctx.tenant.slug)).details(details)
}

// ---- the switcher and the dashboard ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/tenants.html")]
struct TenantsPage {
    layout: Layout,
}

pub async fn switcher(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, WebError> {
    let page = TenantsPage {
        layout: layout_for(&state, &req, &user, None).await?,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

// ---- company profile ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/profile.html")]
struct ProfilePage {
    layout: Layout,
    tenant: Tenant,
    saved: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let page = ProfilePage {
        layout: layout_for(&state, &req, &ctx.user, Some(&ctx)).await?,
        tenant: ctx.tenant.clone(),
        saved: query.saved.is_some(),
        error: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ProfileForm {
    legal_name: String,
    street: String,
    postal_code: String,
    city: String,
    country: String,
}

pub async fn save_profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, WebError> {
    let address = address_from_form(&form.street, &form.postal_code, &form.city, &form.country);
    let error = if form.legal_name.trim().is_empty() {
        Some("profile.legal_name_required")
    } else if address.is_none() {
        Some("profile.country_invalid")
    } else {
        None
    };
    let (None, Some(address)) = (error, address) else {
        // Shown again as typed, with the message: nothing the user entered is lost.
        let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
        let mut tenant = ctx.tenant.clone();
        tenant.legal_name = form.legal_name.trim().to_owned();
        tenant.address = TenantAddress {
            street: blank_to_none(&form.street),
            postal_code: blank_to_none(&form.postal_code),
            city: blank_to_none(&form.city),
            country: blank_to_none(&form.country),
        };
        let page = ProfilePage {
            error: error.map(|key| layout.t.get(key).to_owned()),
            layout,
            tenant,
            saved: false,
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    state
        .tenants
        .update_own_profile(
            &ctx.scope,
            form.legal_name.trim().to_owned(),
            address,
            on_tenant(
                &ctx,
                &req,
                "tenant.profile_changed",
                serde_json::Value::Null,
            ),
        )
        .await?;
    Ok(see_other(&format!(
        "/t/{}/settings?saved=1",
        ctx.tenant.slug
    )))
}

// ---- users and invitations ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/users.html")]
struct UsersPage {
    layout: Layout,
    tenant: Tenant,
    members: Vec<Member>,
    /// Firm accountants whose portfolio holds the company: shown, managed by the firm's administrators only.
    firm_staff: Vec<portal_persistence::firm::FirmStaffMember>,
    invitations: Vec<Invitation>,
    notice: Option<String>,
    error: Option<String>,
}

impl UsersPage {
    fn role_label(&self, role: &TenantRole) -> &str {
        self.layout.t.get(crate::layout::role_key(*role))
    }

    fn invited_role(&self, invitation: &Invitation) -> &str {
        match invitation.invited_as {
            InvitedAs::Member(role) => self.layout.t.get(crate::layout::role_key(role)),
            InvitedAs::FirmAdmin => self.layout.t.get("role.firm_admin"),
            InvitedAs::FirmAccountant => self.layout.t.get("firm.firm_staff"),
        }
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// The most pending invitations the users page lists.
const PENDING_SHOWN: u64 = 100;

async fn users_page(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    notice: Option<String>,
    error: Option<String>,
) -> Result<UsersPage, WebError> {
    Ok(UsersPage {
        layout: layout_for(state, req, &ctx.user, Some(ctx)).await?,
        tenant: ctx.tenant.clone(),
        members: state.tenants.members(&ctx.scope).await?,
        firm_staff: state.firm.staff_of(&ctx.scope).await?,
        invitations: state
            .invitations
            .pending_for_tenant(&ctx.scope, Utc::now(), PENDING_SHOWN)
            .await?,
        notice,
        error,
    })
}

pub async fn users(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let mut page = users_page(&state, &req, &ctx, None, None).await?;
    page.notice = match query.notice.as_deref() {
        Some("invited") => Some(page.layout.t.get("users.invited").to_owned()),
        Some("changed") => Some(page.layout.t.get("users.changed").to_owned()),
        Some("revoked") => Some(page.layout.t.get("users.revoked").to_owned()),
        _ => None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

/// `POST /t/{slug}/settings/users/invitations/{id}/revoke`: the invitation's link dies (an admin of this tenant;
/// another tenant's or an unknown invitation is a 404).
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let id = uuid::Uuid::parse_str(&id).map_err(|_| WebError::NotFound)?;
    let revoked = entry(&ctx, &req, "invitation.revoked", format!("invitation:{id}"));
    if !state
        .invitations
        .revoke(&ctx.scope, id, Utc::now(), revoked)
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(see_other(&format!(
        "/t/{}/settings/users?notice=revoked",
        ctx.tenant.slug
    )))
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    role: String,
    language: Option<String>,
}

pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, WebError> {
    let t = crate::i18n::Tr::new(ctx.user.language());
    let email = match Email::parse(&form.email) {
        Ok(email) => email.to_string(),
        Err(_) => {
            let page = users_page(
                &state,
                &req,
                &ctx,
                None,
                Some(t.get("users.email_invalid").to_owned()),
            )
            .await?;
            return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let Some(role) = TenantRole::parse(&form.role) else {
        let page = users_page(
            &state,
            &req,
            &ctx,
            None,
            Some(t.get("users.role_invalid").to_owned()),
        )
        .await?;
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    };
    let now = Utc::now();
    let invited = entry(&ctx, &req, "user.invited", format!("email:{email}"))
        .details(serde_json::json!({ "role": role.as_str() }));
    let token = state
        .invitations
        .invite_to_tenant(
            &ctx.scope,
            &email,
            role,
            Some(ctx.user.user.id),
            now,
            invited,
        )
        .await?;
    let lang = form
        .language
        .as_deref()
        .and_then(Language::parse)
        .unwrap_or_default();
    let message = emails::invitation(&state, lang, &email, &ctx.tenant.legal_name, &token)?;
    state.outbox.queue_for_tenant(&ctx.scope, message).await?;
    state.jobs.ring();
    Ok(see_other(&format!(
        "/t/{}/settings/users?notice=invited",
        ctx.tenant.slug
    )))
}

#[derive(Deserialize)]
pub struct MemberForm {
    role: String,
    active: Option<String>,
}

pub async fn change_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, WebError> {
    let (_, user_id) = path.into_inner();
    let user = portal_domain::ids::UserId::parse(&user_id).ok_or(WebError::NotFound)?;
    let role = TenantRole::parse(&form.role).ok_or(WebError::NotFound)?;
    let active = form.active.as_deref() != Some("false");
    let changed = entry(&ctx, &req, "user.role_changed", format!("user:{user}"))
        .details(serde_json::json!({ "role": role.as_str(), "active": active }));
    match state
        .tenants
        .change_member(&ctx.scope, user, role, active, changed)
        .await
    {
        Ok(()) => {}
        Err(MembershipError::NotFound) => return Err(WebError::NotFound),
        Err(MembershipError::LastAdmin) => {
            let t = crate::i18n::Tr::new(ctx.user.language());
            let page = users_page(
                &state,
                &req,
                &ctx,
                None,
                Some(t.get("users.last_admin").to_owned()),
            )
            .await?;
            return Ok(respond(&req, StatusCode::CONFLICT, page));
        }
        Err(MembershipError::Database(error)) => return Err(error.into()),
    }
    Ok(see_other(&format!(
        "/t/{}/settings/users?notice=changed",
        ctx.tenant.slug
    )))
}

// ---- Billit connection ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/billit.html")]
struct BillitPage {
    layout: Layout,
    tenant: Tenant,
    connection: Option<BillitConnection>,
    webhook_url: Option<String>,
    saved: bool,
    error: Option<String>,
    /// The outcome of "test the connection" or "register the webhook": success, and the sentence.
    outcome: Option<(bool, String)>,
    /// An embedded Billit sandbox runs (a demonstration): only then is the "embedded" environment offered, and
    /// its choice explained.
    embedded_available: bool,
}

impl BillitPage {
    fn environment_is(&self, name: &str) -> bool {
        let default = if self.embedded_available {
            "embedded"
        } else {
            "sandbox"
        };
        self.connection
            .as_ref()
            .map_or(name == default, |connection| {
                connection.environment.as_str() == name
            })
    }

    /// The "embedded" choice is shown while a sandbox runs, or to a company already connected to it.
    fn offers_embedded(&self) -> bool {
        self.embedded_available || self.environment_is("embedded")
    }

    fn party_id(&self) -> String {
        self.connection
            .as_ref()
            .and_then(|connection| connection.party_id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    }

    fn context_party_id(&self) -> String {
        self.connection
            .as_ref()
            .and_then(|connection| connection.context_party_id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    }
}

pub async fn billit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    if query.saved.as_deref() == Some("embedded") {
        // Just provisioned in the embedded sandbox: say it with the account's PartyID.
        let t = crate::i18n::Tr::new(ctx.user.language());
        let party = state
            .billit
            .get(&ctx.scope)
            .await?
            .and_then(|connection| connection.party_id)
            .map(|id| id.to_string())
            .unwrap_or_default();
        let outcome = (true, t.fill("billit.embedded_ready", &[("party", &party)]));
        return billit_page_with(&state, &req, &ctx, outcome).await;
    }
    let saved = query.saved.is_some();
    render_billit(&state, &req, &ctx, StatusCode::OK, saved, None, None).await
}

/// The Billit settings page, with whatever the last action has to say.
async fn render_billit(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    status: StatusCode,
    saved: bool,
    error: Option<String>,
    outcome: Option<(bool, String)>,
) -> Result<HttpResponse, WebError> {
    let connection = state.billit.get(&ctx.scope).await?;
    let page = BillitPage {
        webhook_url: connection.as_ref().map(|connection| {
            portal_app::billit_connection::webhook_url(state, &connection.webhook_token)
        }),
        layout: layout_for(state, req, &ctx.user, Some(ctx)).await?,
        tenant: ctx.tenant.clone(),
        connection,
        saved,
        error,
        outcome,
        embedded_available: state.embedded_sandbox.is_some(),
    };
    Ok(respond(req, status, page))
}

async fn billit_page_with(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    outcome: (bool, String),
) -> Result<HttpResponse, WebError> {
    render_billit(state, req, ctx, StatusCode::OK, false, None, Some(outcome)).await
}

/// "Test the connection": asks Billit who we are, and shows the company it knows.
pub async fn test_billit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
) -> Result<HttpResponse, WebError> {
    use portal_app::billit_connection::ConnectionTestError;
    use portal_domain::Localized;
    let t = crate::i18n::Tr::new(ctx.user.language());
    let outcome = match portal_app::billit_connection::test(&state, &ctx.scope).await {
        Ok(name) => {
            let name = name.unwrap_or_else(|| t.get("billit.test_unnamed").to_owned());
            (true, t.fill("billit.test_ok", &[("company", &name)]))
        }
        Err(ConnectionTestError::Connection(problem)) => {
            tracing::info!(problem = %problem, "Billit connection cannot be tested");
            (false, t.get(problem.message_key()).to_owned())
        }
        Err(ConnectionTestError::Billit(error)) => {
            tracing::info!(error = %error, "Billit connection test failed");
            (
                false,
                t.fill(
                    "billit.test_failed",
                    &[("reason", &error.message(ctx.user.language()))],
                ),
            )
        }
    };
    // Testing changes nothing: the entry is all it writes.
    audit::record_for_tenant(
        &state.db,
        &ctx.scope,
        on_tenant(
            &ctx,
            &req,
            "billit.connection_tested",
            serde_json::json!({ "ok": outcome.0 }),
        ),
    )
    .await?;
    billit_page_with(&state, &req, &ctx, outcome).await
}

/// Registers the portal's endpoint with Billit for messages and orders; the signing secrets are stored encrypted
/// and shown nowhere.
pub async fn register_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
) -> Result<HttpResponse, WebError> {
    use portal_app::billit_connection::RegistrationProblem;
    use portal_domain::Localized;
    let t = crate::i18n::Tr::new(ctx.user.language());
    let registered = |ids: &[String]| {
        Some(on_tenant(
            &ctx,
            &req,
            "billit.webhook_registered",
            serde_json::json!({ "webhooks": ids }),
        ))
    };
    match portal_app::billit_connection::register_webhooks(&state, &ctx.scope, registered).await {
        Ok(_) => {}
        Err(RegistrationProblem::Connection(problem)) => {
            return billit_page_with(
                &state,
                &req,
                &ctx,
                (false, t.get(problem.message_key()).to_owned()),
            )
            .await;
        }
        Err(RegistrationProblem::Billit(error)) => {
            tracing::info!(error = %error, "webhook registration failed");
            let message = t.fill(
                "billit.webhook_failed",
                &[("reason", &error.message(ctx.user.language()))],
            );
            return billit_page_with(&state, &req, &ctx, (false, message)).await;
        }
        Err(RegistrationProblem::NoSecret) => {
            let message = t.fill(
                "billit.webhook_failed",
                &[("reason", t.get("billit.webhook_no_secret"))],
            );
            return billit_page_with(&state, &req, &ctx, (false, message)).await;
        }
        Err(RegistrationProblem::Storage(error)) => return Err(error.into()),
    }
    billit_page_with(
        &state,
        &req,
        &ctx,
        (true, t.get("billit.webhook_ok").to_owned()),
    )
    .await
}

#[derive(Deserialize)]
pub struct BillitForm {
    environment: String,
    api_key: String,
    party_id: String,
    context_party_id: String,
}

pub async fn save_billit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<BillitForm>,
) -> Result<HttpResponse, WebError> {
    let t = crate::i18n::Tr::new(ctx.user.language());
    let environment = BillitEnvironment::parse(&form.environment);
    let party_id = parse_party_id(&form.party_id);
    let context_party_id = parse_party_id(&form.context_party_id);
    let embedded_available = state.settings.billit.embedded_url.is_some();
    let error = if environment.is_none() {
        Some(t.get("billit.environment_invalid"))
    } else if environment == Some(BillitEnvironment::Embedded) && !embedded_available {
        Some(t.get("billit.embedded_unavailable"))
    } else if party_id.is_err() || context_party_id.is_err() {
        Some(t.get("billit.party_invalid"))
    } else if form.api_key.trim().len() > 512 {
        Some(t.get("billit.api_key_invalid"))
    } else {
        None
    };
    let (Some(environment), Ok(party_id), Ok(context_party_id), None) =
        (environment, party_id, context_party_id, error)
    else {
        let error = error.map(str::to_owned);
        return render_billit(
            &state,
            &req,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            error,
            None,
        )
        .await;
    };
    // The embedded sandbox chosen without an account there: the portal opens one for the company; chosen again
    // with the fields left empty, the account it has there is kept.
    let mut party_id = party_id;
    if environment == BillitEnvironment::Embedded
        && blank_to_none(&form.api_key).is_none()
        && party_id.is_none()
        && state.embedded_sandbox.is_some()
    {
        let existing = state.billit.get(&ctx.scope).await?;
        let account = existing
            .as_ref()
            .filter(|connection| {
                connection.environment == BillitEnvironment::Embedded && connection.has_api_key
            })
            .and_then(|connection| connection.party_id);
        match account {
            Some(existing_party) => party_id = Some(existing_party),
            None => return provision_embedded(&state, &req, &ctx).await,
        }
    }
    if blank_to_none(&form.api_key).is_none()
        && portal_app::billit_connection::key_needed_again(
            state.billit.get(&ctx.scope).await?.as_ref(),
            party_id,
            context_party_id,
        )
    {
        return render_billit(
            &state,
            &req,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            Some(t.get("billit.key_needed_for_party").to_owned()),
            None,
        )
        .await;
    }
    // A new key (with its PartyID and ContextPartyID) is saved only once Billit has said it opens this company.
    if let Some(key) = blank_to_none(&form.api_key) {
        use portal_app::billit_connection::{self, ProposedConnection};
        let proposed = ProposedConnection {
            environment,
            api_key: &key,
            party_id,
            context_party_id,
        };
        if let Err(refusal) =
            billit_connection::check_pair(&state, &ctx.tenant.siren, &proposed).await
        {
            let message = refusal.message(&t);
            tracing::info!(
                error = format!("{:#}", anyhow::Error::from(refusal)),
                "new Billit credentials refused"
            );
            return render_billit(
                &state,
                &req,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                Some(message),
                None,
            )
            .await;
        }
    }
    let api_key_encrypted = match blank_to_none(&form.api_key) {
        Some(key) => Some(crypto::encrypt(
            &state.master_key,
            ctx.scope.tenant_id(),
            &key,
        )?),
        None => None,
    };
    let changed_key = api_key_encrypted.is_some();
    state
        .billit
        .save(
            &ctx.scope,
            ConnectionSettings {
                environment,
                api_key_encrypted,
                party_id,
                context_party_id,
            },
            Some(on_tenant(
                &ctx,
                &req,
                "billit.settings_changed",
                serde_json::json!({ "environment": environment.as_str(), "api_key_changed": changed_key }),
            )),
        )
        .await?;
    Ok(see_other(&format!(
        "/t/{}/settings/billit?saved=1",
        ctx.tenant.slug
    )))
}

/// Opens the company's account at the embedded sandbox, stores the connection and registers the webhooks there.
async fn provision_embedded(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
) -> Result<HttpResponse, WebError> {
    use portal_app::billit_connection::{self, ProvisionError};
    let vat_number = ctx.tenant.vat_number.clone().unwrap_or_else(|| {
        portal_domain::identifiers::Siren::parse(&ctx.tenant.siren)
            .map(|siren| portal_domain::identifiers::VatNumber::from_siren(siren).to_string())
            .unwrap_or_default()
    });
    let settings_changed = on_tenant(
        ctx,
        req,
        "billit.settings_changed",
        serde_json::json!({ "environment": "embedded", "api_key_changed": true, "provisioned": true }),
    );
    let registered = |ids: &[String]| {
        Some(on_tenant(
            ctx,
            req,
            "billit.webhook_registered",
            serde_json::json!({ "webhooks": ids }),
        ))
    };
    match billit_connection::provision_embedded(
        state,
        &ctx.scope,
        &ctx.tenant.legal_name,
        &vat_number,
        Some(settings_changed),
        registered,
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/t/{}/settings/billit?saved=embedded",
            ctx.tenant.slug
        ))),
        Err(error @ ProvisionError::NoEmbeddedSandbox) => Err(WebError::from_failure(error)),
        Err(error) => {
            tracing::error!(
                error = format!("{:#}", anyhow::Error::from(error)),
                "the embedded sandbox account could not be opened"
            );
            let t = crate::i18n::Tr::new(ctx.user.language());
            render_billit(
                state,
                req,
                ctx,
                StatusCode::SERVICE_UNAVAILABLE,
                false,
                Some(t.get("billit.embedded_failed").to_owned()),
                None,
            )
            .await
        }
    }
}

fn parse_party_id(text: &str) -> Result<Option<i64>, ()> {
    match blank_to_none(text) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or(()),
    }
}

// ---- email settings ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/email.html")]
struct EmailSettingsPage {
    layout: Layout,
    tenant: Tenant,
    saved: bool,
    error: Option<String>,
}

pub async fn email_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let page = EmailSettingsPage {
        layout: layout_for(&state, &req, &ctx.user, Some(&ctx)).await?,
        tenant: ctx.tenant.clone(),
        saved: query.saved.is_some(),
        error: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct EmailSettingsForm {
    sender_name: String,
    reply_to: String,
    signature: String,
}

pub async fn save_email_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<EmailSettingsForm>,
) -> Result<HttpResponse, WebError> {
    if let Some(problem) = portal_app::answers::sender_name_problem(&form.sender_name) {
        let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
        let mut tenant = ctx.tenant.clone();
        tenant.email = EmailSettings {
            sender_name: blank_to_none(&form.sender_name),
            reply_to: blank_to_none(&form.reply_to),
            signature: blank_to_none(&form.signature),
        };
        let page = EmailSettingsPage {
            error: Some(layout.t.fill(
                problem,
                &[("max", &portal_app::answers::MAX_SENDER_NAME.to_string())],
            )),
            layout,
            tenant,
            saved: false,
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let reply_to = match blank_to_none(&form.reply_to) {
        None => None,
        Some(text) => match Email::parse(&text) {
            Ok(email) => Some(email.to_string()),
            Err(_) => {
                let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
                let mut tenant = ctx.tenant.clone();
                tenant.email = EmailSettings {
                    sender_name: blank_to_none(&form.sender_name),
                    reply_to: Some(text),
                    signature: blank_to_none(&form.signature),
                };
                let page = EmailSettingsPage {
                    error: Some(layout.t.get("email_settings.reply_to_invalid").to_owned()),
                    layout,
                    tenant,
                    saved: false,
                };
                return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
            }
        },
    };
    state
        .tenants
        .update_email_settings(
            &ctx.scope,
            EmailSettings {
                sender_name: blank_to_none(&form.sender_name),
                reply_to,
                signature: blank_to_none(&form.signature),
            },
            on_tenant(
                &ctx,
                &req,
                "tenant.email_settings_changed",
                serde_json::Value::Null,
            ),
        )
        .await?;
    Ok(see_other(&format!(
        "/t/{}/settings/email?saved=1",
        ctx.tenant.slug
    )))
}

// ---- audit ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/audit.html")]
struct AuditPage {
    layout: Layout,
    tenant: Tenant,
    entries: Vec<AuditRecord>,
}

pub async fn audit_log(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
) -> Result<HttpResponse, WebError> {
    let page = AuditPage {
        layout: layout_for(&state, &req, &ctx.user, Some(&ctx)).await?,
        tenant: ctx.tenant.clone(),
        entries: audit::list_for_tenant(&state.db, &ctx.scope, 200).await?,
    };
    Ok(respond(&req, StatusCode::OK, page))
}
