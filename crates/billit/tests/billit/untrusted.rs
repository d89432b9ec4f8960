//! What the client does not take on trust: redirects (the `ApiKey` header would follow them), page links to
//! another origin, and a 409 that is not Billit's idempotency replay.

use chrono::{DateTime, Utc};
use portal_billit::client::{
    BillitClient, BillitCredentials, BillitError, ClientConfig, HttpBillitClient, RetryPolicy,
};
use portal_billit::wire::PaymentRequest;
use rust_decimal_macros::dec;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client_for(server: &MockServer) -> HttpBillitClient {
    let credentials = BillitCredentials {
        api_key: "secret-api-key".to_owned(),
        party_id: "1079374".to_owned(),
        context_party_id: None,
    };
    let config = ClientConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        },
    };
    HttpBillitClient::new(&server.uri(), &credentials, &config).unwrap()
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_the_key_goes_nowhere_else() {
    let billit = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/orders/5"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&billit)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"OrderID": 5})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let answer = client_for(&billit).get_order(5).await;
    assert!(
        matches!(&answer, Err(BillitError::Decode(text)) if text.contains("302")),
        "{answer:?}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_page_link_to_another_origin_is_refused() {
    let billit = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Items": [{"OrderID": 1}],
            "NextPageLink": format!("{}/v1/orders?page=2", elsewhere.uri()),
        })))
        .mount(&billit)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Items": []})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let since: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    let answer = client_for(&billit).list_orders_modified_since(since).await;
    assert!(matches!(answer, Err(BillitError::Decode(_))), "{answer:?}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

fn payment() -> PaymentRequest {
    PaymentRequest {
        amount: dec!(100),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_bare_409_on_a_payment_is_not_taken_for_already_recorded() {
    let billit = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/4/payments"))
        .respond_with(ResponseTemplate::new(409))
        .mount(&billit)
        .await;
    let answer = client_for(&billit)
        .post_payment(4, &payment(), Some("pay-1"))
        .await;
    assert!(
        matches!(answer, Err(BillitError::Conflict { .. })),
        "{answer:?}"
    );
}

#[tokio::test]
async fn billits_replay_answer_on_a_payment_is_already_recorded() {
    let billit = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/4/payments"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "errors": [{"Code": "Conflict", "Description": "Idempotent token already exists"}]
        })))
        .mount(&billit)
        .await;
    let answer = client_for(&billit)
        .post_payment(4, &payment(), Some("pay-1"))
        .await;
    assert_eq!(answer, Ok(()));
}
