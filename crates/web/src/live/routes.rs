//! `GET /t/{slug}/live`: server-sent events telling a tenant's open pages that an invoice changed.

use crate::errors::WebError;
use crate::extract::TenantContext;
use crate::state::AppState;
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{slug}/live", web::get().to(live));
}

struct Listener {
    receiver: Receiver<LiveEvent>,
    heartbeat: Interval,
    tenant: TenantId,
    greeted: bool,
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

/// Any role of the tenant may listen; the stream ends when the browser goes away.
pub async fn live(
    state: web::Data<AppState>,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let listener = Listener {
        receiver: state.live.subscribe(),
        heartbeat: interval_at(Instant::now() + HEARTBEAT, HEARTBEAT),
        tenant: ctx.scope.tenant_id(),
        greeted: false,
    };
    let stream = futures_util::stream::unfold(listener, next_chunk);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
