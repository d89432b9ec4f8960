//! `billit.webhook`: a stored delivery, read and applied. The HTTP endpoint only checks and stores; everything
//! that may be slow or fail happens here, with retries.

use super::{SYNC_ORDER_JOB, ingest, payload_of, scope_of};
use crate::App;
use crate::worker::{JobFailure, JobResult};
use anyhow::Context;
use chrono::{Duration as Span, Utc};
use portal_billit::classify::classify_webhook_received;
use portal_billit::webhook::parse_payload;
use portal_persistence::TenantScope;
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::webhook_deliveries::{
    DeliveryState, WebhookDelivery, WebhookDeliveryRepository,
};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct WebhookJob {
    delivery_id: Uuid,
}

/// What became of a delivery.
enum Applied {
    /// Applied, or knowingly ignored with a note.
    Done(Option<String>),
    /// Not a webhook payload: no retry can help.
    Unreadable(String),
}

pub(super) async fn run(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: WebhookJob = payload_of(&job)?;
    let deliveries = WebhookDeliveryRepository::new(state.db.clone());
    let Some(delivery) = deliveries.get(&scope, payload.delivery_id).await? else {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "webhook delivery {} does not exist for this tenant",
            payload.delivery_id
        )));
    };
    if delivery.state != DeliveryState::Received {
        return Ok(());
    }
    match apply(&state, &scope, &delivery).await {
        Ok(Applied::Done(note)) => {
            deliveries
                .mark_processed(&scope, delivery.id, note.as_deref())
                .await?;
            Ok(())
        }
        Ok(Applied::Unreadable(reason)) => {
            tracing::warn!(delivery = %delivery.id, reason = %reason, "unreadable Billit webhook");
            deliveries.mark_failed(&scope, delivery.id, &reason).await?;
            Ok(())
        }
        Err(error) => {
            if job.is_last_attempt() {
                deliveries
                    .mark_failed(&scope, delivery.id, &format!("{error:#}"))
                    .await?;
            }
            Err(JobFailure::Retry(error))
        }
    }
}

async fn apply(
    state: &App,
    scope: &TenantScope,
    delivery: &WebhookDelivery,
) -> anyhow::Result<Applied> {
    let payload = match parse_payload(delivery.body.as_bytes()) {
        Ok(payload) => payload,
        Err(error) => return Ok(Applied::Unreadable(error.to_string())),
    };
    let Some(order_id) = payload.order_id() else {
        return Ok(Applied::Done(Some("the payload names no order".to_owned())));
    };
    let Some(invoice) = state.invoices.find_by_order(scope, order_id).await? else {
        // Orders made outside the portal (or by another tool on the same account) are none of its business.
        return Ok(Applied::Done(Some(format!(
            "order {order_id} matches no invoice"
        ))));
    };
    let events = classify_webhook_received(&payload, delivery.received_at);
    ingest(state, scope, invoice, &events, None, "webhook").await?;
    let about_the_order = payload
        .updated_entity_type
        .as_deref()
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("Order"));
    if events.is_empty() || about_the_order {
        // The order itself holds what a message webhook cannot say (delivery, tax reporting, payment). Every
        // webhook of one second asks for the same read, a second later: a burst costs one call to Billit.
        let at = Utc::now() + Span::seconds(1);
        let job = NewJob::for_tenant(
            scope,
            SYNC_ORDER_JOB,
            serde_json::json!({ "invoice_id": invoice, "order_id": order_id }),
        )
        .unique_key(format!("sync:{invoice}:{order_id}:{}", at.timestamp()))
        .run_at(at);
        state
            .jobs
            .enqueue_all(vec![job])
            .await
            .context("cannot enqueue the order's read")?;
    }
    Ok(Applied::Done(None))
}
