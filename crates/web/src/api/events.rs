//! `/api/v1/events`: the company's status events in the order they were received, after a cursor, for systems
//! that poll instead of receiving webhooks. Keep the last `next_cursor` and ask again with it.

use super::auth::Caller;
use super::invoices::StatusOut;
use super::problem::{ApiError, Problem, snake};
use super::{json, limit_of};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portal_domain::Language;
use portal_persistence::api::{FeedCursor, FeedEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedEventOut {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_number: String,
    /// Null for an informational or unclassified event.
    pub status: Option<StatusOut>,
    /// `status`, `tax_data_sent`, `tax_reporting_done`, `unclassified`.
    pub kind: String,
    /// `supplier`, `seller_platform`, `ppf`, `buyer_platform`, `buyer`, `unknown`.
    pub source: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// When the portal received it (the feed's order).
    pub received_at: DateTime<Utc>,
    pub description: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFeed {
    pub items: Vec<FeedEventOut>,
    /// Where to go on from: give it as `after` next time (the same one when nothing new came).
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `next_cursor` of the previous call; from the beginning when left out.
    pub after: Option<String>,
    /// 1 to 100 (50).
    pub limit: Option<u64>,
}

fn event_out(event: FeedEvent) -> FeedEventOut {
    FeedEventOut {
        id: event.id,
        invoice_id: event.invoice_id.as_uuid(),
        invoice_number: event.number,
        status: event.code.map(|code| StatusOut {
            code: code.0,
            label_fr: code.label(Language::Fr),
            label_en: code.label(Language::En),
        }),
        kind: snake(&event.kind),
        source: snake(&event.source),
        at: event.at,
        received_at: event.received_at,
        description: event.description,
        reasons: event.reasons,
    }
}

/// The company's status events received after `after`, oldest first.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(FeedQuery),
    responses(
        (status = 200, description = "The next events", body = EventFeed),
        (status = 400, description = "A bad cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn feed(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(query.limit)?;
    let after = match query.after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            FeedCursor::decode(text).ok_or_else(|| ApiError::InvalidQuery("after".to_owned()))?,
        ),
    };
    let events = state.api.feed(&caller.scope, after, limit).await?;
    let next_cursor = events
        .last()
        .map(|event| {
            FeedCursor {
                received_at: event.received_at,
                id: event.id,
            }
            .encode()
        })
        .or_else(|| after.map(|cursor| cursor.encode()));
    json(
        StatusCode::OK,
        &EventFeed {
            items: events.into_iter().map(event_out).collect(),
            next_cursor,
        },
    )
}
