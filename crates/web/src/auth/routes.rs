//! Signing in and out, invitations, password resets, the language switch.

use crate::emails;
use crate::errors::{WebError, respond};
use crate::extract::{
    CurrentUser, MaybeUser, client_ip, expired_session_cookie, layout_for, public_layout,
    session_cookie, visitor_language,
};
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_app::password;
use portal_domain::Language;
use portal_persistence::audit::{self, AuditEntry};
use portal_persistence::invitations::{Accepted, InvitedAs};
use portal_persistence::throttle::Admission;
use portal_persistence::tokens::{hash_token, new_token};
use portal_persistence::users::normalize_email;
use serde::Deserialize;

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only paths of this site: a single leading `/` followed by anything but a second `/` or a backslash, and no
/// control character (browsers drop tabs and newlines, so `/\t/evil.example` would become `//evil.example`) nor
/// backslash anywhere (some browsers read it as `/`). Anything else, including a value with CR, LF or NUL that
/// could not go into a `Location` header, is replaced by `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && path.len() <= 2048
        && !path
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace())
}

pub async fn login_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, WebError> {
    if user.0.is_some() {
        return Ok(see_other(&safe_next(query.next.as_deref())));
    }
    let page = LoginPage {
        layout: public_layout(&state, &req),
        email: String::new(),
        next: safe_next(query.next.as_deref()),
        error: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let now = Utc::now();
    let email = normalize_email(&form.email);
    let ip = client_ip(&req);
    let address = ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let layout = public_layout(&state, &req);
    let t = layout.t;
    let refuse = |status: StatusCode, error: String| {
        let page = LoginPage {
            layout: layout.clone(),
            email: form.email.trim().to_owned(),
            next: safe_next(form.next.as_deref()),
            error: Some(error),
        };
        respond(&req, status, page)
    };
    let throttled = |until: chrono::DateTime<Utc>| {
        let seconds = (until - now).num_seconds().max(1).to_string();
        refuse(
            StatusCode::TOO_MANY_REQUESTS,
            t.fill("login.throttled", &[("seconds", &seconds)]),
        )
    };

    // Never hashed: nobody's password is that long.
    if form.password.len() > password::MAX_BYTES {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.fill(
                "password.too_long",
                &[("max", &password::MAX_BYTES.to_string())],
            ),
        ));
    }
    // Counted before the hash (see `LoginThrottle::admit`).
    match state.throttle.admit(&email, &address, now).await? {
        Admission::Wait(until) => return Ok(throttled(until)),
        Admission::Go { pause: Some(pause) } => {
            tokio::time::sleep(pause.to_std().unwrap_or_default()).await;
        }
        Admission::Go { pause: None } => {}
    }

    let user = state.users.find_by_email(&email).await?;
    let stored = match &user {
        Some(user) if user.active => state.users.password_hash(user.id).await?,
        _ => None,
    };
    // The same work whether the email exists or not.
    let hash = stored
        .clone()
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let matches = match password::verify(form.password.clone(), hash).await {
        Ok(matches) => matches && stored.is_some(),
        // Every hashing thread is taken and the queue is full: refused at once (the attempt stays counted).
        Err(error) if error.is::<password::Busy>() => {
            tracing::warn!("sign-in refused: password hashing queue full");
            return Ok(throttled(now));
        }
        Err(error) => return Err(error.into()),
    };
    let Some(user) = user.filter(|_| matches) else {
        state.throttle.failed(&email, &address, now).await?;
        audit::record_for_firm(
            &state.db,
            AuditEntry::new("login.failed", format!("email:{email}")).from_ip(ip.clone()),
        )
        .await?;
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            t.get("login.failed").to_owned(),
        ));
    };

    state.throttle.succeeded(&email, &address).await?;
    let signed_in = AuditEntry::new("login.succeeded", format!("user:{}", user.id))
        .by(Some(user.id))
        .from_ip(ip);
    start_session(
        &state,
        &req,
        user.id,
        signed_in,
        &safe_next(form.next.as_deref()),
    )
    .await
}

/// Opens a new session for the user and sends them to `to`: a new session id at every sign-in (no fixation), the
/// browser's previous session, if any, ended.
async fn start_session(
    state: &AppState,
    req: &HttpRequest,
    user: portal_domain::ids::UserId,
    entry: AuditEntry,
    to: &str,
) -> Result<HttpResponse, WebError> {
    if let Some(old) = req.cookie(crate::extract::SESSION_COOKIE) {
        state.sessions.delete(&hash_token(old.value())).await?;
    }
    let (token, token_hash) = new_token();
    state
        .sessions
        .create(&token_hash, user, Utc::now(), entry)
        .await?;
    let mut response = see_other(to);
    response.add_cookie(&session_cookie(state, &token))?;
    Ok(response)
}

pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    if let Some(cookie) = req.cookie(crate::extract::SESSION_COOKIE) {
        state.sessions.delete(&hash_token(cookie.value())).await?;
    }
    let mut response = see_other("/login");
    response.add_removal_cookie(&expired_session_cookie(&state))?;
    Ok(response)
}

pub async fn logout_everywhere(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, WebError> {
    state
        .sessions
        .delete_all_for_user(user.user.id, |ended| {
            AuditEntry::new(
                "sessions.ended_everywhere",
                format!("user:{}", user.user.id),
            )
            .by(Some(user.user.id))
            .from_ip(client_ip(&req))
            .details(serde_json::json!({ "sessions": ended }))
        })
        .await?;
    let mut response = see_other("/login");
    response.add_removal_cookie(&expired_session_cookie(&state))?;
    Ok(response)
}

#[derive(Deserialize)]
pub struct LanguageForm {
    language: String,
}

/// Switches the language: stored on the user when signed in, in a cookie otherwise.
pub async fn set_language(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
    form: web::Form<LanguageForm>,
) -> Result<HttpResponse, WebError> {
    let lang = Language::parse(&form.language).unwrap_or_default();
    if let Some(user) = &user.0 {
        state.users.set_language(user.user.id, lang.code()).await?;
    }
    let back = req
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| referer.strip_prefix(&state.base_url))
        .map_or_else(|| "/".to_owned(), |path| safe_next(Some(path)));
    let mut response = see_other(&back);
    response.add_cookie(
        &Cookie::build("lang", lang.code())
            .path("/")
            .same_site(SameSite::Lax)
            .http_only(true)
            .secure(state.secure_cookies)
            .finish(),
    )?;
    Ok(response)
}

/// `/`: the landing page, or straight to where a signed-in user works.
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: MaybeUser,
) -> Result<HttpResponse, WebError> {
    let Some(user) = user.0 else {
        let page = crate::layout::HomePage {
            layout: public_layout(&state, &req),
        };
        return Ok(respond(&req, StatusCode::OK, page));
    };
    // Firm staff (administrators and accountants) land on the firm's console; company users on their company.
    if state.firm.is_staff(&user.user).await? {
        return Ok(see_other("/firm"));
    }
    let tenants = state.tenants.tenants_of(user.user.id).await?;
    Ok(match tenants.as_slice() {
        [(tenant, _)] if !user.user.is_firm_admin => see_other(&format!("/t/{}/", tenant.slug)),
        [] if user.user.is_firm_admin => see_other("/admin"),
        _ => see_other("/t"),
    })
}

// ---- invitations ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/invitation.html")]
struct InvitationPage {
    layout: Layout,
    token: String,
    intro: String,
    name: String,
    error: Option<String>,
}

fn place_of(
    t: Tr,
    invited_as: InvitedAs,
    tenant: Option<&portal_persistence::tenants::Tenant>,
) -> String {
    match (invited_as, tenant) {
        (InvitedAs::Member(_), Some(tenant)) => tenant.legal_name.clone(),
        _ => t.get("invitation.firm").to_owned(),
    }
}

fn link_expired(req: &HttpRequest, layout: Layout) -> HttpResponse {
    let t = layout.t;
    let page = NoticePage {
        layout,
        title: t.get("link.expired.title").to_owned(),
        message: t.get("link.expired.text").to_owned(),
        link: Some(("/login".to_owned(), t.get("login.submit").to_owned())),
    };
    respond(req, StatusCode::GONE, page)
}

pub async fn invitation_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let layout = public_layout(&state, &req);
    let Some(invitation) = state.invitations.find_open(&token, Utc::now()).await? else {
        return Ok(link_expired(&req, layout));
    };
    let place = place_of(layout.t, invitation.invited_as, invitation.tenant.as_ref());
    let page = InvitationPage {
        intro: layout.t.fill(
            "invitation.intro",
            &[("place", &place), ("email", &invitation.email)],
        ),
        layout,
        token: token.into_inner(),
        name: String::new(),
        error: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    name: String,
    password: String,
    password_confirmation: String,
}

pub async fn accept_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, WebError> {
    let layout = public_layout(&state, &req);
    let t = layout.t;
    let now = Utc::now();
    let Some(invitation) = state.invitations.find_open(&token, now).await? else {
        return Ok(link_expired(&req, layout));
    };
    let existing = state.users.find_by_email(&invitation.email).await?;
    let error = if existing.is_none() && form.name.trim().is_empty() {
        Some(t.get("invitation.name_required").to_owned())
    } else if existing.is_none() {
        password_problem(t, &form.password, &form.password_confirmation)
    } else {
        None
    };
    if let Some(error) = error {
        let place = place_of(t, invitation.invited_as, invitation.tenant.as_ref());
        let page = InvitationPage {
            intro: t.fill(
                "invitation.intro",
                &[("place", &place), ("email", &invitation.email)],
            ),
            layout,
            token: token.into_inner(),
            name: form.name.trim().to_owned(),
            error: Some(error),
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let hash = password::hash(form.password.clone()).await?;
    let details = match &invitation.tenant {
        Some(tenant) => serde_json::json!({ "email": invitation.email, "tenant": tenant.slug }),
        None => serde_json::json!({ "email": invitation.email }),
    };
    let ip = client_ip(&req);
    let accepted = match state
        .invitations
        .accept(
            &invitation,
            &form.name,
            visitor_language(&req).code(),
            &hash,
            now,
            |user| {
                AuditEntry::new("invitation.accepted", format!("user:{user}"))
                    .by(Some(user))
                    .from_ip(ip)
                    .details(details)
            },
        )
        .await
    {
        Ok(accepted) => accepted,
        Err(portal_persistence::invitations::InvitationError::Invalid) => {
            return Ok(link_expired(&req, layout));
        }
        Err(error) => return Err(error.into()),
    };
    // The person proved they hold the invited address (as a reset link does) and, when new, chose a password:
    // they are signed in and land where they were invited.
    let (Accepted::NewUser(user) | Accepted::ExistingUser(user)) = accepted;
    let place = match &invitation.tenant {
        Some(tenant) => format!("/t/{}/", tenant.slug),
        None => "/".to_owned(),
    };
    let signed_in = AuditEntry::new("login.succeeded", format!("user:{user}"))
        .by(Some(user))
        .from_ip(client_ip(&req))
        .details(serde_json::json!({ "via": "invitation" }));
    start_session(&state, &req, user, signed_in, &place).await
}

fn password_problem(t: Tr, password: &str, confirmation: &str) -> Option<String> {
    if password.len() > password::MAX_BYTES {
        Some(t.fill(
            "password.too_long",
            &[("max", &password::MAX_BYTES.to_string())],
        ))
    } else if password.chars().count() < password::MIN_LENGTH {
        Some(t.fill(
            "password.too_short",
            &[("min", &password::MIN_LENGTH.to_string())],
        ))
    } else if password != confirmation {
        Some(t.get("password.mismatch").to_owned())
    } else {
        None
    }
}

// ---- password reset ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/forgot.html")]
struct ForgotPage {
    layout: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/reset.html")]
struct ResetPage {
    layout: Layout,
    token: String,
    error: Option<String>,
}

pub async fn forgot_form(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let page = ForgotPage {
        layout: public_layout(&state, &req),
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// Always the same answer, whether the email has an account or not.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, WebError> {
    let layout = public_layout(&state, &req);
    let t = layout.t;
    let now = Utc::now();
    let ip = client_ip(&req);
    let key = format!("reset:{}", normalize_email(&form.email));
    let throttled = state
        .throttle
        .blocked_until(std::slice::from_ref(&key), now)
        .await?
        .is_some();
    if let (Some(user), false) = (state.users.find_by_email(&form.email).await?, throttled)
        && user.active
    {
        // Counted like a failure: a few resets are fine, a flood is slowed down.
        state.throttle.record_failure(&key, now).await?;
        let requested =
            AuditEntry::new("password.reset_requested", format!("user:{}", user.id)).from_ip(ip);
        let token = state.resets.create(user.id, now, requested).await?;
        let lang = Language::parse(&user.language).unwrap_or_default();
        let email = emails::password_reset(&state, lang, &user.email, &token)?;
        state.outbox.queue_for_firm(email).await?;
        state.jobs.ring();
    }
    let page = NoticePage {
        layout,
        title: t.get("forgot.sent.title").to_owned(),
        message: t.get("forgot.sent.text").to_owned(),
        link: Some(("/login".to_owned(), t.get("login.submit").to_owned())),
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn reset_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let layout = public_layout(&state, &req);
    if !state.resets.is_valid(&token, Utc::now()).await? {
        return Ok(link_expired(&req, layout));
    }
    let page = ResetPage {
        layout,
        token: token.into_inner(),
        error: None,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
    password_confirmation: String,
}

pub async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, WebError> {
    let layout = public_layout(&state, &req);
    let t = layout.t;
    let now = Utc::now();
    if !state.resets.is_valid(&token, now).await? {
        return Ok(link_expired(&req, layout));
    }
    if let Some(error) = password_problem(t, &form.password, &form.password_confirmation) {
        let page = ResetPage {
            layout,
            token: token.into_inner(),
            error: Some(error),
        };
        return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let hash = password::hash(form.password.clone()).await?;
    let ip = client_ip(&req);
    let reset = |user| {
        AuditEntry::new("password.reset", format!("user:{user}"))
            .by(Some(user))
            .from_ip(ip)
    };
    match state.resets.consume(&token, &hash, now, reset).await {
        Ok(_) => {}
        Err(portal_persistence::invitations::InvitationError::Invalid) => {
            return Ok(link_expired(&req, layout));
        }
        Err(error) => return Err(error.into()),
    }
    let page = NoticePage {
        layout,
        title: t.get("reset.done.title").to_owned(),
        message: t.get("reset.done.text").to_owned(),
        link: Some(("/login".to_owned(), t.get("login.submit").to_owned())),
    };
    Ok(respond(&req, StatusCode::OK, page))
}

/// The account page: sign out everywhere, and the "needs action" email alerts per company.
#[derive(Template, WebTemplate)]
#[template(path = "pages/account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    notifications: Vec<portal_persistence::notifications::NotificationChoice>,
    notifications_saved: bool,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    saved: Option<String>,
}

pub async fn account(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, WebError> {
    let notifications = state.notifications.clone().choices(user.user.id).await?;
    let page = AccountPage {
        layout: layout_for(&state, &req, &user, None).await?,
        email: user.user.email.clone(),
        notifications,
        notifications_saved: query.saved.is_some(),
    };
    Ok(respond(&req, StatusCode::OK, page))
}

/// `POST /account/notifications`: one `notify` field per company whose alerts stay on (an unchecked box sends
/// nothing, so every membership not named is turned off).
pub async fn save_notifications(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let wanted: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(key, _)| key == "notify")
        .map(|(_, slug)| slug.into_owned())
        .collect();
    let repository = state.notifications.clone();
    let choices: Vec<_> = repository
        .choices(user.user.id)
        .await?
        .into_iter()
        .map(|choice| (choice.tenant_id, wanted.contains(&choice.slug)))
        .collect();
    repository.set_choices(user.user.id, &choices).await?;
    Ok(see_other("/account?saved=1#notifications"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_keeps_only_paths_of_this_site() {
        for kept in [
            "/",
            "/t/acme/",
            "/t/acme/invoices?status=sent&page=2",
            "/a%09b",
        ] {
            assert_eq!(safe_next(Some(kept)), kept);
        }
        for refused in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/x\r\nSet-Cookie: a=b",
            "/x\0",
            "/x\\y",
            "https://evil.example/",
            "evil.example",
            "",
            "/ /evil.example",
        ] {
            assert_eq!(safe_next(Some(refused)), "/", "{refused:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
