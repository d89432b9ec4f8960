//! Signed webhook deliveries, with faults and retries.

use crate::server::Shared;
use crate::store::{Change, DeliveryRecord};
use portal_billit::webhook::{SIGNATURE_HEADER, sign};
use rand::Rng as _;
use rand::seq::SliceRandom as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// One call to make.
#[derive(Debug, Clone)]
struct Delivery {
    url: String,
    secret: String,
    body: Vec<u8>,
    entity_type: String,
    entity_id: i64,
}

/// The payload of a change, in the configured shape.
fn payload(change: &Change, new_shape: bool) -> (String, i64, Value) {
    match change {
        Change::MessageInserted {
            order_id,
            message_id,
            message,
            flow_state,
            ..
        } => {
            let mut body = serde_json::to_value(message).unwrap_or(Value::Null);
            if let Some(map) = body.as_object_mut() {
                map.remove("MessageID");
            }
            let info = flow_state
                .as_ref()
                .map(|state| json!({"EInvoiceFlowState": state}));
            let detail = if new_shape {
                let mut detail = json!({"OrderID": order_id, "OrderMessage": body});
                if let (Some(info), Some(map)) = (info, detail.as_object_mut()) {
                    map.insert("AdditionalMessageInformation".to_owned(), info);
                }
                detail
            } else {
                if let (Some(info), Some(map)) = (info, body.as_object_mut()) {
                    map.insert("MessageAdditionalInformation".to_owned(), info);
                }
                body
            };
            (
                "Message".to_owned(),
                *message_id,
                json!({
                    "UpdatedEntityID": message_id,
                    "UpdatedEntityType": "Message",
                    "WebhookUpdateTypeTC": "I",
                    "EntityDetail": detail,
                }),
            )
        }
        Change::OrderUpdated { order_id, .. } => (
            "Order".to_owned(),
            *order_id,
            json!({
                "UpdatedEntityID": order_id,
                "UpdatedEntityType": "Order",
                "WebhookUpdateTypeTC": "U",
                "EntityDetail": {"OrderID": order_id},
            }),
        ),
    }
}

/// Turns changes into signed calls to every matching webhook, applying the webhook faults, and
/// sends them in the background.
pub fn dispatch(shared: &Arc<Shared>, changes: Vec<Change>) {
    if changes.is_empty() {
        return;
    }
    let mut deliveries = Vec::new();
    {
        let mut store = shared.lock();
        let faults = store.faults.clone();
        let new_shape = faults
            .webhook_shape
            .as_deref()
            .map_or(shared.config.webhook_new_shape, |shape| shape == "new");
        let mut rng = rand::rng();
        let mut dropped = Vec::new();
        for change in &changes {
            let (party_id, update) = match change {
                Change::MessageInserted { party_id, .. } => (*party_id, "I"),
                Change::OrderUpdated { party_id, .. } => (*party_id, "U"),
            };
            let (entity_type, entity_id, body) = payload(change, new_shape);
            let Ok(body) = serde_json::to_vec(&body) else {
                continue;
            };
            for webhook in store.webhooks.values().filter(|w| {
                w.party_id == party_id && w.entity_type == entity_type && w.update_type == update
            }) {
                if rng.random::<f64>() < faults.webhook_drop {
                    dropped.push(DeliveryRecord {
                        url: webhook.url.clone(),
                        entity_type: entity_type.clone(),
                        entity_id,
                        outcome: "dropped".to_owned(),
                        status: None,
                        attempt: 0,
                    });
                    continue;
                }
                let delivery = Delivery {
                    url: webhook.url.clone(),
                    secret: webhook.secret.clone(),
                    body: body.clone(),
                    entity_type: entity_type.clone(),
                    entity_id,
                };
                if rng.random::<f64>() < faults.webhook_duplicate {
                    deliveries.push(delivery.clone());
                }
                deliveries.push(delivery);
            }
        }
        if faults.webhook_shuffle {
            deliveries.shuffle(&mut rng);
        }
        store.record_deliveries(dropped);
    }
    if deliveries.is_empty() {
        return;
    }
    let shared = Arc::clone(shared);
    shared.runtime.clone().spawn(async move {
        for delivery in deliveries {
            send_with_retries(&shared, &delivery).await;
        }
    });
}

/// The portal logs a request under the id its caller sends (its log names routes, never the path and its token),
/// so each delivery can be followed there.
const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// `billit-<port of the receiver>-<random>`: unique per attempt, and telling apart the portals of one test run
/// (what the portal's round-trip tests recognise their own deliveries by).
pub fn request_id(url: &str) -> String {
    let port = reqwest::Url::parse(url)
        .ok()
        .and_then(|url| url.port_or_known_default())
        .unwrap_or(0);
    let random: u64 = rand::rng().random();
    format!("billit-{port}-{random:016x}")
}

async fn send_with_retries(shared: &Arc<Shared>, delivery: &Delivery) {
    let attempts = shared.config.webhook_max_attempts.max(1);
    for attempt in 1..=attempts {
        let t = chrono::Utc::now().timestamp();
        let signature = sign(delivery.secret.as_bytes(), t, &delivery.body);
        let result = shared
            .http
            .post(&delivery.url)
            .header(SIGNATURE_HEADER, signature)
            .header(REQUEST_ID_HEADER, request_id(&delivery.url))
            .header("Content-Type", "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        shared.lock().record_deliveries(vec![DeliveryRecord {
            url: delivery.url.clone(),
            entity_type: delivery.entity_type.clone(),
            entity_id: delivery.entity_id,
            outcome: if ok { "sent" } else { "failed" }.to_owned(),
            status,
            attempt,
        }]);
        if ok {
            return;
        }
        if attempt < attempts {
            let base = shared.config.webhook_retry_base_ms;
            let wait = base.saturating_mul(1u64 << (attempt - 1).min(16));
            tokio::time::sleep(Duration::from_millis(wait.min(60_000))).await;
        }
    }
}
