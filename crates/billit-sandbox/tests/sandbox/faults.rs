//! Each fault knob does what it says.

use crate::support::{Receiver, client, client_with, invoice, raw, sandbox};
use billit_sandbox::Faults;
use portal_billit::client::{BillitClient, BillitError};
use portal_billit::wire::WebhookRegistration;
use reqwest::Method;
use std::time::Instant;

async fn put_faults(
    sandbox: &billit_sandbox::RunningSandbox,
    body: serde_json::Value,
) -> reqwest::StatusCode {
    reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn error_rate_one_answers_500() {
    let sandbox = sandbox().await;
    assert_eq!(
        put_faults(&sandbox, serde_json::json!({"error_rate": 1.0})).await,
        200
    );
    let error = client(&sandbox).get_order(1).await.unwrap_err();
    assert_eq!(error, BillitError::Server { status: 500 });
    assert_eq!(
        put_faults(&sandbox, serde_json::json!({"error_rate": 2.0})).await,
        400
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_the_client_retries() {
    let sandbox = sandbox().await;
    let id = client(&sandbox)
        .create_order(&invoice("RL-1", ""), "k")
        .await
        .unwrap();
    put_faults(&sandbox, serde_json::json!({"rate_limit_every": 2})).await;
    let first = raw(&sandbox, Method::GET, &format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap();
    let second = raw(&sandbox, Method::GET, &format!("/v1/orders/{id}"))
        .send()
        .await
        .unwrap();
    let statuses = [first.status().as_u16(), second.status().as_u16()];
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = if first.status() == 429 { first } else { second };
    assert_eq!(limited.headers().get("Retry-After").unwrap(), "1");
    // The client waits Retry-After and gets the order on its retry.
    let order = client_with(&sandbox, crate::support::KEY, 2)
        .get_order(id)
        .await
        .unwrap();
    assert_eq!(order.order_id, Some(id));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn latency_delays_answers() {
    let sandbox = sandbox().await;
    sandbox
        .set_faults(Faults {
            latency_ms: 300,
            ..Faults::default()
        })
        .unwrap();
    let start = Instant::now();
    let _ = client(&sandbox).get_order(1).await;
    assert!(start.elapsed().as_millis() >= 300);
    sandbox.shutdown().await;
}

async fn hook_setup(sandbox: &billit_sandbox::RunningSandbox, receiver: &Receiver) -> i64 {
    let client = client(sandbox);
    client
        .create_webhook(&WebhookRegistration {
            entity_type: Some("Message".to_owned()),
            entity_update_type: Some("I".to_owned()),
            webhook_url: Some(receiver.url.clone()),
            extra: Default::default(),
        })
        .await
        .unwrap();
    let id = client
        .create_order(&invoice("WF-1", "_DEMO"), "k")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    id
}

#[tokio::test]
async fn webhook_drop_sends_nothing() {
    let sandbox = sandbox().await;
    let receiver = Receiver::start(0).await;
    hook_setup(&sandbox, &receiver).await;
    sandbox
        .set_faults(Faults {
            webhook_drop: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let steps = sandbox.advance();
    let log = sandbox.deliveries();
    assert_eq!(log.iter().filter(|d| d.outcome == "dropped").count(), steps);
    assert!(log.iter().all(|d| d.outcome == "dropped"));
    receiver.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn webhook_duplicate_sends_twice() {
    let sandbox = sandbox().await;
    let mut receiver = Receiver::start(0).await;
    hook_setup(&sandbox, &receiver).await;
    sandbox
        .set_faults(Faults {
            webhook_duplicate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let steps = sandbox.advance();
    let mut bodies = Vec::new();
    for _ in 0..steps * 2 {
        bodies.push(receiver.next().await.unwrap().body);
    }
    let distinct: std::collections::BTreeSet<_> = bodies.iter().collect();
    assert_eq!(distinct.len(), steps);
    receiver.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn webhook_shuffle_changes_the_order() {
    let sandbox = sandbox().await;
    let mut receiver = Receiver::start(0).await;
    hook_setup(&sandbox, &receiver).await;
    sandbox
        .set_faults(Faults {
            webhook_shuffle: true,
            ..Faults::default()
        })
        .unwrap();
    let steps = sandbox.advance();
    let mut ids = Vec::new();
    for _ in 0..steps {
        let payload =
            portal_billit::webhook::parse_payload(&receiver.next().await.unwrap().body).unwrap();
        ids.push(payload.updated_entity_id.unwrap());
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    // 9 steps: the chance that a shuffle keeps the order is 1/9!.
    assert_ne!(ids, sorted, "not shuffled");
    receiver.stop().await;
    sandbox.shutdown().await;
}
