//! `/t/{slug}/settings/webhooks…`: admins only (the `Admin` extractor checks the role before anything is read);
//! every id is looked up within the company's scope, so another company's endpoint or message is a 404.

use crate::errors::{WebError, respond};
use crate::extract::{Admin, client_ip, layout_for};
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode as HttpStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as AskamaTemplate;
use askama_web::WebTemplate;
use portal_app::dates;
use portal_app::outgoing_webhooks::{self as hooks, EventType};
use portal_persistence::audit::AuditEntry;
use portal_persistence::outgoing_webhooks::{EndpointState, MessageState};
use portal_persistence::tenants::Tenant;
use serde::Deserialize;
use uuid::Uuid;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/webhooks", web::get().to(list_page))
        .route("/settings/webhooks", web::post().to(create))
        .route("/settings/webhooks/{id}", web::get().to(endpoint_page))
        .route("/settings/webhooks/{id}/resume", web::post().to(resume))
        .route("/settings/webhooks/{id}/delete", web::post().to(delete))
        .route(
            "/settings/webhooks/{id}/messages/{message}/resend",
            web::post().to(resend),
        );
}

/// One event a company may choose, for the form.
struct EventChoice {
    name: &'static str,
    label: String,
    checked: bool,
}

struct EndpointView {
    href: String,
    url: String,
    events: String,
    paused: bool,
    failing_since: Option<String>,
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/settings/webhooks.html")]
struct ListPage {
    layout: Layout,
    tenant: Tenant,
    endpoints: Vec<EndpointView>,
    choices: Vec<EventChoice>,
    url: String,
    error: Option<String>,
    /// The secret of the endpoint just registered, shown this once.
    created_secret: Option<String>,
    notice: Option<String>,
}

fn event_label(name: &str, layout: &Layout) -> String {
    match EventType::parse(name) {
        Some(kind) => layout
            .t
            .get(match kind {
                EventType::StatusChanged => "webhooks.event.status_changed",
                EventType::RequestOpened => "webhooks.event.request_opened",
                EventType::RequestClosed => "webhooks.event.request_closed",
                EventType::PaymentAccepted => "webhooks.event.payment_accepted",
                EventType::InvoiceFailed => "webhooks.event.invoice_failed",
            })
            .to_owned(),
        None => name.to_owned(),
    }
}

async fn list_view(
    state: &AppState,
    ctx: &crate::extract::TenantContext,
    layout: Layout,
    typed: Option<(&str, &[EventType], String)>,
    created_secret: Option<String>,
    notice: Option<String>,
) -> Result<ListPage, WebError> {
    let lang = layout.t.lang;
    let endpoints = state
        .outgoing_webhooks
        .list(&ctx.scope)
        .await?
        .into_iter()
        .map(|endpoint| EndpointView {
            href: format!("/t/{}/settings/webhooks/{}", ctx.tenant.slug, endpoint.id),
            url: endpoint.url,
            events: endpoint
                .events
                .iter()
                .map(|name| event_label(name, &layout))
                .collect::<Vec<_>>()
                .join(", "),
            paused: endpoint.state == EndpointState::Paused,
            failing_since: endpoint
                .failing_since
                .map(|since| dates::date_time(since, lang)),
        })
        .collect();
    let (url, chosen, error) = match typed {
        Some((url, chosen, error)) => (url.to_owned(), chosen.to_vec(), Some(error)),
        None => (String::new(), vec![EventType::StatusChanged], None),
    };
    let choices = EventType::ALL
        .into_iter()
        .map(|kind| EventChoice {
            name: kind.as_str(),
            label: event_label(kind.as_str(), &layout),
            checked: chosen.contains(&kind),
        })
        .collect();
    Ok(ListPage {
        tenant: ctx.tenant.clone(),
        endpoints,
        choices,
        url,
        error,
        created_secret,
        notice,
        layout,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    notice: String,
}

pub async fn list_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let notice = match query.notice.as_str() {
        "deleted" => Some(layout.t.get("webhooks.notice.deleted").to_owned()),
        _ => None,
    };
    let page = list_view(&state, &ctx, layout, None, None, notice).await?;
    Ok(respond(&req, HttpStatus::OK, page))
}

/// Registers an endpoint and answers the page with its secret (shown once: it is not kept in clear anywhere).
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let mut url = "";
    let mut chosen = Vec::new();
    for (name, value) in form.iter() {
        match name.as_str() {
            "url" => url = value.as_str(),
            "events" => {
                if let Some(kind) = EventType::parse(value)
                    && !chosen.contains(&kind)
                {
                    chosen.push(kind);
                }
            }
            _ => {}
        }
    }
    let audit = AuditEntry::new(
        "tenant.webhook_endpoint_created",
        format!("tenant:{}", ctx.tenant.slug),
    )
    .by(Some(ctx.user.user.id))
    .from_ip(client_ip(&req));
    let registered = hooks::register_endpoint(
        &state,
        &ctx.scope,
        url,
        &chosen,
        Some(ctx.user.user.id),
        audit,
    )
    .await;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    match registered {
        Ok(registered) => {
            let page = list_view(&state, &ctx, layout, None, Some(registered.secret), None).await?;
            Ok(respond(&req, HttpStatus::CREATED, page))
        }
        Err(hooks::EndpointError::Invalid(problem)) => {
            let message = layout.t.get(problem.message_key()).to_owned();
            let page = list_view(
                &state,
                &ctx,
                layout,
                Some((url, &chosen, message)),
                None,
                None,
            )
            .await?;
            Ok(respond(&req, HttpStatus::UNPROCESSABLE_ENTITY, page))
        }
        Err(error) => Err(WebError::from_failure(error)),
    }
}

struct AttemptView {
    event: String,
    at: String,
    status: String,
    ok: bool,
    excerpt: String,
    resend: String,
}

struct MessageView {
    event: String,
    created: String,
    state: String,
    attempts: i32,
    resend: String,
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/settings/webhook.html")]
struct EndpointPage {
    layout: Layout,
    tenant: Tenant,
    url: String,
    events: String,
    paused: bool,
    failing_since: Option<String>,
    base: String,
    messages: Vec<MessageView>,
    attempts: Vec<AttemptView>,
    notice: Option<String>,
}

fn parse_id(text: &str) -> Result<Uuid, WebError> {
    Uuid::parse_str(text).map_err(|_| WebError::NotFound)
}

pub async fn endpoint_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path.1)?;
    let endpoint = state
        .outgoing_webhooks
        .get(&ctx.scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let lang = layout.t.lang;
    let base = format!("/t/{}/settings/webhooks/{}", ctx.tenant.slug, endpoint.id);
    let messages = state
        .outgoing_webhooks
        .messages(&ctx.scope, id, 50)
        .await?
        .into_iter()
        .map(|message| MessageView {
            event: event_label(&message.event_type, &layout),
            created: dates::date_time_seconds(message.created_at, lang),
            state: layout
                .t
                .get(match message.state {
                    MessageState::Pending => "webhooks.state.pending",
                    MessageState::Delivered => "webhooks.state.delivered",
                    MessageState::GivenUp => "webhooks.state.given_up",
                })
                .to_owned(),
            attempts: message.attempts,
            resend: format!("{base}/messages/{}/resend", message.id),
        })
        .collect();
    let attempts = state
        .outgoing_webhooks
        .attempts(&ctx.scope, id, 50)
        .await?
        .into_iter()
        .map(|attempt| AttemptView {
            event: event_label(&attempt.event_type, &layout),
            at: dates::date_time_seconds(attempt.at, lang),
            status: attempt.status_code.map_or_else(
                || layout.t.get("webhooks.no_answer").to_owned(),
                |code| code.to_string(),
            ),
            ok: attempt
                .status_code
                .is_some_and(|code| (200..300).contains(&code)),
            excerpt: attempt.excerpt,
            resend: format!("{base}/messages/{}/resend", attempt.message_id),
        })
        .collect();
    let notice = match query.notice.as_str() {
        "resent" => Some(layout.t.get("webhooks.notice.resent").to_owned()),
        "resumed" => Some(layout.t.get("webhooks.notice.resumed").to_owned()),
        _ => None,
    };
    let page = EndpointPage {
        tenant: ctx.tenant.clone(),
        url: endpoint.url,
        events: endpoint
            .events
            .iter()
            .map(|name| event_label(name, &layout))
            .collect::<Vec<_>>()
            .join(", "),
        paused: endpoint.state == EndpointState::Paused,
        failing_since: endpoint
            .failing_since
            .map(|since| dates::date_time(since, lang)),
        base,
        messages,
        attempts,
        notice,
        layout,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

pub async fn resume(
    state: web::Data<AppState>,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path.1)?;
    if !hooks::resume_endpoint(&state, &ctx.scope, id).await? {
        return Err(WebError::NotFound);
    }
    Ok(crate::forms::see_other(&format!(
        "/t/{}/settings/webhooks/{id}?notice=resumed",
        ctx.tenant.slug
    )))
}

pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&path.1)?;
    let audit = AuditEntry::new(
        "tenant.webhook_endpoint_removed",
        format!("tenant:{}", ctx.tenant.slug),
    )
    .by(Some(ctx.user.user.id))
    .from_ip(client_ip(&req));
    if !hooks::remove_endpoint(&state, &ctx.scope, id, audit).await? {
        return Err(WebError::NotFound);
    }
    Ok(crate::forms::see_other(&format!(
        "/t/{}/settings/webhooks?notice=deleted",
        ctx.tenant.slug
    )))
}

pub async fn resend(
    state: web::Data<AppState>,
    Admin(ctx): Admin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let endpoint = parse_id(&path.1)?;
    let message = parse_id(&path.2)?;
    if hooks::send_again(&state, &ctx.scope, endpoint, message)
        .await?
        .is_none()
    {
        return Err(WebError::NotFound);
    }
    Ok(crate::forms::see_other(&format!(
        "/t/{}/settings/webhooks/{endpoint}?notice=resent",
        ctx.tenant.slug
    )))
}
