//! `GET /t/{slug}/live`: server-sent events telling a tenant's open pages that an invoice changed.

use crate::errors::{WebError, error_page};
use crate::extract::TenantContext;
use crate::state::AppState;
use crate::state::StreamSlot;
use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use portal_app::live::LiveEvent;
use portal_domain::ids::TenantId;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, interval_at};

/// A comment line this often keeps proxies from closing an idle stream, and finds out when the browser left.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/live", web::get().to(live));
}

struct Listener {
    receiver: Receiver<LiveEvent>,
    heartbeat: Interval,
    recheck: Interval,
    tenant: TenantId,
    greeted: bool,
    state: web::Data<AppState>,
    session_hash: String,
    slug: String,
    _slot: StreamSlot,
}

/// Whether the stream may go on: its session is still valid, and its user still reaches the tenant.
async fn still_allowed(listener: &Listener) -> Result<bool, WebError> {
    let state = &listener.state;
    let Some(user) = state
        .sessions
        .peek_valid(&listener.session_hash, chrono::Utc::now())
        .await?
    else {
        return Ok(false);
    };
    let reaches = state.tenants.scope_for(&user, &listener.slug).await?;
    Ok(reaches.is_some_and(|(tenant, _)| tenant.id == listener.tenant))
}

fn invoice_event(event: &LiveEvent) -> Bytes {
    let data = serde_json::json!({
        "invoice": event.invoice.to_string(),
        "headline": event.headline,
    });
    Bytes::from(format!("event: invoice\ndata: {data}\n\n"))
}

/// Waits for the next thing to write: this tenant's events only, or a heartbeat.
async fn next_chunk(mut listener: Listener) -> Option<(Result<Bytes, Infallible>, Listener)> {
    if !listener.greeted {
        listener.greeted = true;
        // Sent at once so that the browser (and any proxy) sees the stream open.
        return Some((Ok(Bytes::from_static(b"retry: 5000\n: live\n\n")), listener));
    }
    loop {
        tokio::select! {
            _ = listener.recheck.tick() => match still_allowed(&listener).await {
                // Written so that a browser that left is noticed (the write fails) and its place given back.
                Ok(true) => return Some((Ok(Bytes::from_static(b": checked\n\n")), listener)),
                Ok(false) => {
                    tracing::debug!("live stream ended: session or access gone");
                    return None;
                }
                Err(error) => {
                    tracing::warn!(error = %error, "live stream re-check failed: ended");
                    return None;
                }
            },
            _ = listener.heartbeat.tick() => {
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), listener));
            }
            received = listener.receiver.recv() => match received {
                Ok(event) if event.tenant == listener.tenant => {
                    let chunk = invoice_event(&event);
                    return Some((Ok(chunk), listener));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    // Some events were missed: which invoices is unknown, so the page refreshes anyway.
                    tracing::debug!(missed, "live listener lagged");
                    let chunk = Bytes::from_static(b"event: invoice\ndata: {\"invoice\":null,\"headline\":null}\n\n");
                    return Some((Ok(chunk), listener));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// Any role of the tenant may listen, on at most `LiveStreams::per_user` streams at once (429 beyond); the stream
/// ends when the browser goes away, or at the first re-check after the session ended or the access went.
pub async fn live(
    state: web::Data<AppState>,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let Some(slot) = state.live_streams.open(ctx.user.user.id) else {
        tracing::info!("live stream refused: too many open for this user");
        return Ok(error_page(StatusCode::TOO_MANY_REQUESTS, ""));
    };
    let recheck = state.live_streams.recheck;
    let listener = Listener {
        receiver: state.live.subscribe(),
        heartbeat: interval_at(Instant::now() + HEARTBEAT, HEARTBEAT),
        recheck: interval_at(Instant::now() + recheck, recheck),
        tenant: ctx.scope.tenant_id(),
        greeted: false,
        session_hash: ctx.user.session_hash.clone(),
        slug: ctx.tenant.slug.clone(),
        state,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(listener, next_chunk);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
