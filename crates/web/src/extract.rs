//! Who is asking: server-side sessions behind an HttpOnly cookie, CSRF tokens bound to the session, and the
//! extractors that turn a request into a signed-in user or a tenant scope.

use crate::errors::WebError;
use crate::layout::{Layout, Nav, NavTenant};
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use portal_app::crypto;
use portal_domain::Language;
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::Tenant;
use portal_persistence::tokens::{hash_token, new_token};
use portal_persistence::users::User;
use std::future::Future;
use std::pin::Pin;

pub const SESSION_COOKIE: &str = "portal_session";
/// Before signing in, forms (the login form itself) are bound to this random cookie instead.
pub const PRESESSION_COOKIE: &str = "portal_presession";
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_PURPOSE: &str = "csrf";
/// Forms are small; anything larger is not a form this portal renders.
const FORM_LIMIT: usize = 256 * 1024;

/// What CSRF tokens of this request are derived from (the session cookie, or the pre-session cookie).
#[derive(Debug, Clone)]
struct CsrfBase(String);

/// The client's address, for throttling and the audit log: the direct peer, unless the peer is one of the
/// configured trusted proxies (`server.trusted_proxies`), whose `X-Forwarded-For` then names it.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(peer.to_string());
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect();
    Some(forwarded_client(peer, &forwarded.join(","), &state.trusted_proxies).to_string())
}

/// Who sent a request that reached us from `peer` through the proxies of `forwarded` (an `X-Forwarded-For`
/// value): read from the right, the first address that is not a trusted proxy. Nothing is read when `peer` is
/// not trusted (anyone can send the header), and reading stops at the first entry that is not an address.
pub fn forwarded_client(
    peer: std::net::IpAddr,
    forwarded: &str,
    trusted: &[ipnet::IpNet],
) -> std::net::IpAddr {
    let trusted = |address: &std::net::IpAddr| {
        // A proxy reached over IPv6 as an IPv4-mapped address (`::ffff:10.0.0.2`) is the IPv4 one.
        let address = address.to_canonical();
        trusted.iter().any(|net| net.contains(&address))
    };
    if !trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
    {
        let Ok(address) = hop.parse::<std::net::IpAddr>() else {
            return client;
        };
        client = address;
        if !trusted(&address) {
            return address;
        }
    }
    client
}

pub fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let policy = state.sessions.policy();
    Cookie::build(SESSION_COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .max_age(CookieDuration::seconds(policy.absolute.num_seconds()))
        .finish()
}

pub fn expired_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .finish();
    cookie.make_removal();
    cookie
}

/// Checks the CSRF token of every state-changing request (except Billit's webhooks, which are signed), and makes
/// sure every visitor has something to bind tokens to.
pub async fn csrf_guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // The JSON API takes bearer tokens only and never reads a cookie (`api::auth`), so a browser's session
    // cannot be used against it from another site: CSRF tokens do not apply, and it gets no pre-session cookie.
    if req.path().starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if declared_length(&req).is_some_and(|length| length > body_limit(&req)) {
        return Ok(req.into_response(crate::errors::too_large_page()));
    }
    let existing = req
        .cookie(SESSION_COOKIE)
        .or_else(|| req.cookie(PRESESSION_COOKIE))
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty());
    let (base, new_presession) = match existing {
        Some(base) => (base, None),
        None => {
            let (fresh, _) = new_token();
            (fresh.clone(), Some(fresh))
        }
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !req.path().starts_with("/hooks/") {
        let from_header = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let submitted = match from_header {
            Some(token) => Some(token),
            None if is_multipart(&req) => multipart_field(&mut req, CSRF_FIELD).await,
            None => match form_field(&mut req, CSRF_FIELD).await {
                Ok(value) => value,
                Err(TooLarge) => {
                    tracing::info!(route = %crate::telemetry::route_of(&req), "form over the size limit refused");
                    return Ok(req.into_response(crate::errors::too_large_page()));
                }
            },
        };
        let valid = submitted.is_some_and(|token| {
            crypto::verify_tag(&state.master_key, CSRF_PURPOSE, &base, &token)
        });
        if !valid {
            tracing::warn!(route = %crate::telemetry::route_of(&req), "state-changing request refused: missing or wrong CSRF token");
            return Ok(req.into_response(crate::errors::csrf_refused_page()));
        }
    }
    req.extensions_mut().insert(CsrfBase(base));
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(value) = new_presession {
        let cookie = Cookie::build(PRESESSION_COOKIE, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.secure_cookies)
            .finish();
        response.response_mut().add_cookie(&cookie)?;
    }
    Ok(response)
}

/// A body over the limit of its kind.
struct TooLarge;

fn is_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
}

/// The `Content-Length` a request announces.
fn declared_length(req: &ServiceRequest) -> Option<usize> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

/// The largest body of a url-encoded form (uploads, multipart, have their own limits in their handlers).
fn body_limit(req: &ServiceRequest) -> usize {
    if is_form(req) { FORM_LIMIT } else { usize::MAX }
}

/// Reads one field of a url-encoded form body and puts the body back for the handler; a body over
/// [`FORM_LIMIT`] is `TooLarge` (a 413 page, not a CSRF refusal).
async fn form_field(req: &mut ServiceRequest, name: &str) -> Result<Option<String>, TooLarge> {
    if !is_form(req) {
        return Ok(None);
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    use futures_util::StreamExt;
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return Ok(None);
        };
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let value = form_urlencoded::parse(&body)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned());
    req.set_payload(Payload::from(body));
    Ok(value)
}

/// How much of a multipart body is read to find the token: forms put `csrf_token` first.
const MULTIPART_HEAD: usize = 16 * 1024;

fn is_multipart(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"))
}

/// Reads one text field from the start of a multipart body (file uploads), then gives the handler the whole
/// body back as a stream, so a large upload is never held here.
async fn multipart_field(req: &mut ServiceRequest, name: &str) -> Option<String> {
    use futures_util::StreamExt;
    let mut payload = req.take_payload();
    let mut head = web::BytesMut::new();
    while head.len() < MULTIPART_HEAD {
        match payload.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return None,
            None => break,
        }
    }
    let head = head.freeze();
    let value = multipart_value(&head, name);
    let rest = futures_util::stream::once(async move { Ok(head) }).chain(payload);
    let boxed: Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(rest);
    req.set_payload(Payload::from(boxed));
    value
}

/// The value of the part named `name` in the start of a multipart body. Loose on purpose: whatever it finds
/// must still verify as this session's token.
fn multipart_value(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let marker = format!("name=\"{name}\"");
    let after_name = &text[text.find(&marker)? + marker.len()..];
    let value = &after_name[after_name.find("\r\n\r\n")? + 4..];
    let end = value.find("\r\n")?;
    Some(value[..end].trim().to_owned())
}

/// The CSRF token for the forms of this request's page.
pub fn csrf_token(req: &HttpRequest, state: &AppState) -> String {
    let base = req
        .extensions()
        .get::<CsrfBase>()
        .map(|base| base.0.clone())
        .unwrap_or_default();
    crypto::tag(&state.master_key, CSRF_PURPOSE, &base)
}

/// A signed-in user (the page redirects to the login page otherwise).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session_hash: String,
}

impl CurrentUser {
    pub fn language(&self) -> Language {
        Language::parse(&self.user.language).unwrap_or_default()
    }
}

async fn current_user(req: &HttpRequest) -> Result<Option<CurrentUser>, WebError> {
    if let Some(user) = req.extensions().get::<CurrentUser>() {
        return Ok(Some(user.clone()));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(WebError::Internal(anyhow::anyhow!("no application state")));
    };
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = hash_token(cookie.value());
    let Some(session) = state.sessions.find_valid(&hash, chrono::Utc::now()).await? else {
        return Ok(None);
    };
    let user = CurrentUser {
        user: session.user,
        session_hash: session.id_hash,
    };
    req.extensions_mut().insert(user.clone());
    Ok(Some(user))
}

fn sign_in_error(req: &HttpRequest) -> WebError {
    let next = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{query}", req.path()),
    };
    // Only pages are worth coming back to; a form post would be replayed without its data.
    let next = if req.method() == Method::GET {
        next
    } else {
        "/".to_owned()
    };
    WebError::SignIn { next }
}

impl FromRequest for CurrentUser {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current_user(&req).await?.ok_or_else(|| sign_in_error(&req)) })
    }
}

/// The signed-in user if any (public pages).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(current_user(&req).await?)) })
    }
}

/// A firm administrator (403 for anyone else signed in).
#[derive(Debug, Clone)]
pub struct FirmAdmin(pub CurrentUser);

impl FromRequest for FirmAdmin {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = current_user(&req)
                .await?
                .ok_or_else(|| sign_in_error(&req))?;
            if user.user.is_firm_admin {
                Ok(Self(user))
            } else {
                Err(WebError::NotFound)
            }
        })
    }
}

/// A signed-in user inside the tenant named by the URL's `{slug}`, with the scope that proves it. Anyone who is
/// not a member (and not a firm administrator) gets the same 404 as for a tenant that does not exist.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub user: CurrentUser,
    pub tenant: Tenant,
    pub scope: TenantScope,
}

impl TenantContext {
    /// 403 unless the user's role in this tenant is at least `role`.
    pub fn require(&self, role: TenantRole) -> Result<(), WebError> {
        if self.scope.allows(role) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

/// Extractors that check the user's role in the tenant before the handler runs, so that a handler never loads
/// a record for someone who may not act on it (a viewer gets the same 403 whether the id exists or not).
macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub TenantContext);

        impl FromRequest for $name {
            type Error = WebError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let context = TenantContext::from_request(req, payload);
                Box::pin(async move {
                    let context = context.await?;
                    context.require($role)?;
                    Ok(Self(context))
                })
            }
        }
    };
}

role_extractor!(
    Member,
    TenantRole::Member,
    "The tenant's context for a member or an admin (403 for a viewer)."
);
role_extractor!(
    Admin,
    TenantRole::Admin,
    "The tenant's context for an admin of the tenant (403 otherwise)."
);

impl FromRequest for TenantContext {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = current_user(&req)
                .await?
                .ok_or_else(|| sign_in_error(&req))?;
            let Some(state) = req.app_data::<web::Data<AppState>>() else {
                return Err(WebError::Internal(anyhow::anyhow!("no application state")));
            };
            let slug = req.match_info().get("slug").unwrap_or_default().to_owned();
            let found = state.tenants.scope_for(&user.user, &slug).await?;
            let (tenant, scope) = found.ok_or(WebError::NotFound)?;
            if scope.is_firm() {
                // Entering a company as the firm is audited once per session and company.
                let entry = AuditEntry::new("firm.enter", format!("tenant:{}", tenant.slug))
                    .by(Some(user.user.id))
                    .from_ip(client_ip(&req));
                state
                    .firm
                    .record_visit(&scope, &user.session_hash, entry)
                    .await?;
            }
            Ok(Self {
                user,
                tenant,
                scope,
            })
        })
    }
}

/// The frame of a signed-in page: menu, tenant switcher, language.
pub async fn layout_for(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    current: Option<&TenantContext>,
) -> Result<Layout, WebError> {
    let tenants = state.tenants.tenants_of(user.user.id).await?;
    let nav = Nav {
        user_name: user.user.name.clone(),
        is_firm_admin: user.user.is_firm_admin,
        is_firm_staff: user.user.is_firm_admin || state.firm.is_accountant(user.user.id).await?,
        current: current.map(|ctx| NavTenant {
            slug: ctx.tenant.slug.clone(),
            name: ctx.tenant.legal_name.clone(),
            is_admin: ctx.scope.allows(TenantRole::Admin),
        }),
        tenants: tenants
            .into_iter()
            .map(|(tenant, role)| NavTenant {
                slug: tenant.slug,
                name: tenant.legal_name,
                is_admin: role == TenantRole::Admin,
            })
            .collect(),
    };
    let mut layout = Layout::anonymous(user.language())
        .with_csrf(&csrf_token(req, state))
        .with_nav(nav);
    layout.outbox = state.shows_sent_emails();
    Ok(layout)
}

/// The frame of a public page, in the visitor's language (the `lang` cookie, else the browser's first choice).
pub fn public_layout(state: &AppState, req: &HttpRequest) -> Layout {
    Layout::anonymous(visitor_language(req)).with_csrf(&csrf_token(req, state))
}

pub fn visitor_language(req: &HttpRequest) -> Language {
    if let Some(cookie) = req.cookie("lang")
        && let Some(lang) = Language::parse(cookie.value())
    {
        return lang;
    }
    req.headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .and_then(Language::parse)
        .unwrap_or_default()
}

/// The tenant's invoice named by a URL segment; an id that does not parse, or names no invoice of this tenant, is
/// the same 404.
pub async fn find_invoice(
    state: &crate::state::AppState,
    ctx: &TenantContext,
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

#[cfg(test)]
mod forwarded_tests {
    use super::forwarded_client;
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn net(text: &str) -> ipnet::IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn a_trusted_network_trusts_each_of_its_hosts_and_no_other() {
        let proxies = [net("10.0.0.0/8"), net("fd00::/8")];
        assert_eq!(
            forwarded_client(ip("10.20.30.40"), "198.51.100.1, 10.9.9.9", &proxies),
            ip("198.51.100.1"),
            "two hops inside the network"
        );
        assert_eq!(
            forwarded_client(ip("fd12::1"), "2001:db8::7", &proxies),
            ip("2001:db8::7")
        );
        assert_eq!(
            forwarded_client(ip("::ffff:10.1.2.3"), "198.51.100.1", &proxies),
            ip("198.51.100.1"),
            "an IPv4-mapped peer is its IPv4 address"
        );
        assert_eq!(
            forwarded_client(ip("11.0.0.1"), "198.51.100.1", &proxies),
            ip("11.0.0.1"),
            "outside the network: the header is ignored"
        );
        assert_eq!(
            forwarded_client(ip("fe00::1"), "198.51.100.1", &proxies),
            ip("fe00::1")
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_address_behind_a_trusted_peer() {
        let proxies = [net("10.0.0.2/32"), net("10.0.0.3/32")];
        // An untrusted peer: its header is ignored.
        assert_eq!(
            forwarded_client(ip("203.0.113.5"), "198.51.100.1", &proxies),
            ip("203.0.113.5")
        );
        // A trusted peer: the address it saw, not what the client claimed before it.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), "1.2.3.4, 198.51.100.1", &proxies),
            ip("198.51.100.1")
        );
        // Through two trusted proxies.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), "198.51.100.1, 10.0.0.3", &proxies),
            ip("198.51.100.1")
        );
        // No header, or garbage: the last trusted hop.
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), "", &proxies),
            ip("10.0.0.2")
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.2"), "not-an-ip", &proxies),
            ip("10.0.0.2")
        );
        assert_eq!(forwarded_client(ip("10.0.0.2"), "::1", &proxies), ip("::1"));
    }
}
