//! Signed webhooks: verified with the client's verifier and with an independent HMAC.

use crate::support::{Receiver, client, invoice, sandbox, sandbox_with};
use billit_sandbox::SandboxConfig;
use hmac::{Hmac, Mac};
use portal_billit::client::BillitClient;
use portal_billit::webhook::{DEFAULT_TOLERANCE, parse_payload, verify_signature};
use portal_billit::wire::{DetailShape, WebhookRegistration};
use sha2::Sha256;

async fn register(client: &impl BillitClient, url: &str, entity: &str, update: &str) -> String {
    client
        .create_webhook(&WebhookRegistration {
            entity_type: Some(entity.to_owned()),
            entity_update_type: Some(update.to_owned()),
            webhook_url: Some(url.to_owned()),
            extra: Default::default(),
        })
        .await
        .unwrap()
        .secret
        .unwrap()
}

fn independent_hmac(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut s = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("s", value)) => s = Some(value.to_owned()),
            _ => {}
        }
    }
    let (t, s) = (t.unwrap(), s.unwrap());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == s
}

#[tokio::test]
async fn message_webhooks_are_signed_like_billit_and_classify() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut receiver = Receiver::start(0).await;
    let secret = register(&client, &receiver.url, "Message", "I").await;
    let id = client
        .create_order(&invoice("HOOK-1", "_REFUSE"), "h")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    let steps = sandbox.advance();
    let mut codes = Vec::new();
    for _ in 0..steps {
        let call = receiver.next().await.unwrap();
        let header = call.signature.clone().unwrap();
        verify_signature(
            Some(&header),
            &call.body,
            secret.as_bytes(),
            chrono::Utc::now(),
            DEFAULT_TOLERANCE,
        )
        .unwrap();
        assert!(independent_hmac(&secret, &header, &call.body));
        let payload = parse_payload(&call.body).unwrap();
        assert_eq!(payload.shape(), DetailShape::New);
        assert_eq!(payload.order_id(), Some(id));
        for event in portal_billit::classify::classify_webhook(&payload) {
            codes.extend(event.code.map(|c| c.0));
        }
    }
    assert!(codes.contains(&201), "{codes:?}");
    assert!(codes.contains(&210), "{codes:?}");
    // A tampered body does not verify.
    receiver.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn old_shape_and_order_updates() {
    let sandbox = sandbox_with(SandboxConfig {
        step_ms: 3_600_000,
        webhook_new_shape: false,
        ..SandboxConfig::default()
    })
    .await;
    let client = client(&sandbox);
    let mut messages = Receiver::start(0).await;
    let mut orders = Receiver::start(0).await;
    register(&client, &messages.url, "Message", "I").await;
    register(&client, &orders.url, "Order", "U").await;
    let id = client
        .create_order(&invoice("HOOK-2", ""), "h")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    let update = parse_payload(&orders.next().await.unwrap().body).unwrap();
    assert_eq!(update.updated_entity_type.as_deref(), Some("Order"));
    assert_eq!(update.order_id(), Some(id));
    sandbox.advance();
    let first = parse_payload(&messages.next().await.unwrap().body).unwrap();
    assert_eq!(first.shape(), DetailShape::Old);
    assert_eq!(first.order_id(), Some(id));
    messages.stop().await;
    orders.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn failed_calls_are_retried_with_backoff() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut receiver = Receiver::start(2).await;
    register(&client, &receiver.url, "Order", "U").await;
    let id = client
        .create_order(&invoice("RETRY-1", ""), "h")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    let call = receiver.next().await.unwrap();
    assert_eq!(parse_payload(&call.body).unwrap().order_id(), Some(id));
    let log = sandbox.deliveries();
    // Both failures were logged before the third, successful, attempt reached the receiver.
    let failed: Vec<u32> = log
        .iter()
        .filter(|d| d.outcome == "failed")
        .map(|d| d.attempt)
        .collect();
    assert_eq!(failed, vec![1, 2]);
    receiver.stop().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_shape_can_be_switched_at_run_time() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut receiver = Receiver::start(0).await;
    register(&client, &receiver.url, "Message", "I").await;
    let status = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sandbox.base_url()))
        .json(&serde_json::json!({"webhook_shape": "old"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let id = client
        .create_order(&invoice("SHAPE-OLD", ""), "h")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    sandbox.advance();
    let payload = parse_payload(&receiver.next().await.unwrap().body).unwrap();
    assert_eq!(payload.shape(), DetailShape::Old);
    receiver.stop().await;
    sandbox.shutdown().await;
}
