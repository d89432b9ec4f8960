//! The HTTP client against a local wiremock server.

use chrono::{DateTime, Utc};
use portal_billit::client::{
    BillitClient, BillitCredentials, BillitError, ClientConfig, HttpBillitClient, RetryPolicy,
};
use portal_billit::wire::{Order, PaymentRequest, WebhookRegistration};
use rust_decimal_macros::dec;
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_json, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn credentials(context: Option<&str>) -> BillitCredentials {
    BillitCredentials {
        api_key: "test-api-key".to_owned(),
        party_id: "1079374".to_owned(),
        context_party_id: context.map(str::to_owned),
    }
}

fn config() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        },
    }
}

async fn setup() -> (MockServer, HttpBillitClient) {
    let server = MockServer::start().await;
    let client = HttpBillitClient::new(&server.uri(), &credentials(None), &config()).unwrap();
    (server, client)
}

fn order(number: &str) -> Order {
    serde_json::from_value(
        json!({"OrderNumber": number, "OrderType": "Invoice", "TotalIncl": 480.0}),
    )
    .unwrap()
}

#[tokio::test]
async fn headers_and_create_order() {
    let server = MockServer::start().await;
    let client = HttpBillitClient::new(&server.uri(), &credentials(Some("42")), &config()).unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .and(header("ApiKey", "test-api-key"))
        .and(header("PartyID", "1079374"))
        .and(header("ContextPartyID", "42"))
        .and(header("Idempotency-Key", "inv-1"))
        .and(body_json(
            json!({"OrderNumber": "F-1", "OrderType": "Invoice", "TotalIncl": 480.0}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(2_673_872))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client.create_order(&order("F-1"), "inv-1").await,
        Ok(2_673_872)
    );
    let debug = format!("{:?} {:?}", credentials(None), client);
    assert!(!debug.contains("test-api-key"));
}

#[tokio::test]
async fn create_order_conflict_means_already_created() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "errors": [{"Code": "Conflict", "Description": "Idempotent token already exists"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .and(query_param("$filter", "OrderNumber eq 'F-''1'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Items": [{"OrderID": 7, "OrderNumber": "F-'1"}, {"OrderID": 8, "OrderNumber": "other"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client.create_order(&order("F-'1"), "inv-1").await, Ok(7));
}

#[tokio::test]
async fn create_order_other_conflict_is_an_error() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "errors": [{"Code": "Duplicate", "Description": "Order number already used"}]
        })))
        .mount(&server)
        .await;
    assert!(matches!(
        client.create_order(&order("F-1"), "k").await,
        Err(BillitError::Conflict { .. })
    ));
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/orders/5"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders/5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"OrderID": 5})))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    let order = client.get_order(5).await.unwrap();
    assert_eq!(order.order_id, Some(5));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retries_5xx_with_backoff_then_gives_up() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/orders/6"))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .mount(&server)
        .await;
    assert_eq!(
        client.get_order(6).await,
        Err(BillitError::Server { status: 503 })
    );
}

#[tokio::test]
async fn retries_a_create_with_key_after_500() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .and(header("Idempotency-Key", "same-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"OrderID": 11})))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client.create_order(&order("F-2"), "same-key").await, Ok(11));
}

#[tokio::test]
async fn retry_after_too_long_is_rate_limited_at_once() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/orders/9"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client.get_order(9).await,
        Err(BillitError::RateLimited {
            retry_after: Some(Duration::from_secs(3600))
        })
    );
}

#[tokio::test]
async fn send_is_never_retried() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/commands/send"))
        .and(body_json(
            json!({"TransportType": "Peppol", "OrderIDs": [1, 2]}),
        ))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client.send_orders(&[1, 2], "Peppol").await,
        Err(BillitError::Server { status: 503 })
    );
}

#[tokio::test]
async fn send_and_patch_succeed() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/commands/send"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v1/orders/3"))
        .and(body_json(
            json!({"Paid": true, "PaidDate": "2026-06-05T00:00:00"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    client.send_orders(&[3], "Peppol").await.unwrap();
    let paid_at: DateTime<Utc> = "2026-06-04T22:00:00Z".parse().unwrap();
    client.patch_paid(3, true, Some(paid_at)).await.unwrap();
}

#[tokio::test]
async fn payments_with_and_without_key() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/3/payments"))
        .and(header("Idempotency-Key", "pay-1"))
        .and(body_json(
            json!({"Amount": 380.5, "PaymentDate": "2026-06-05T00:00:00"}),
        ))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "errors": [{"Code": "Conflict", "Description": "Idempotent token already exists"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/orders/4/payments"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let payment = PaymentRequest {
        amount: dec!(380.50),
        payment_date: Some(portal_billit::wire::BillitDateTime(
            "2026-06-05T00:00:00".to_owned(),
        )),
        ..Default::default()
    };
    client
        .post_payment(3, &payment, Some("pay-1"))
        .await
        .unwrap();
    assert_eq!(
        client.post_payment(4, &payment, None).await,
        Err(BillitError::Server { status: 502 })
    );
}

#[tokio::test]
async fn lists_every_page_since_a_time() {
    let (server, client) = setup().await;
    let next = format!("{}/v1/orders?page=2", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .and(query_param(
            "$filter",
            "LastModified ge DateTime'2026-06-01T02:00:00'",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Items": [{"OrderID": 1}, {"OrderID": 2}], "NextPageLink": next
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Items": [{"OrderID": 3}], "NextPageLink": "/v1/orders?page=3"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Items": [{"OrderID": 4}]})))
        .expect(1)
        .mount(&server)
        .await;
    let since: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    let orders = client.list_orders_modified_since(since).await.unwrap();
    let ids: Vec<Option<i64>> = orders.iter().map(|o| o.order_id).collect();
    assert_eq!(ids, vec![Some(1), Some(2), Some(3), Some(4)]);
}

#[tokio::test]
async fn a_page_link_loop_is_an_error() {
    let (server, client) = setup().await;
    let same = format!("{}/v1/orders?page=1", server.uri());
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Items": [], "NextPageLink": same})),
        )
        .mount(&server)
        .await;
    let since: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
    assert!(matches!(
        client.list_orders_modified_since(since).await,
        Err(BillitError::Decode(_))
    ));
}

#[tokio::test]
async fn files_are_decoded() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/files/abc-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "FileID": "abc-123", "FileName": "status.xml", "MimeType": "application/xml",
            "FileContent": "PENEQVI+PC9DREFSPg=="
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/files/bad"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"FileContent": "***"})))
        .mount(&server)
        .await;
    let file = client.get_file("abc-123").await.unwrap();
    assert_eq!(file.content, b"<CDAR></CDAR>");
    assert_eq!(file.mime_type.as_deref(), Some("application/xml"));
    assert_eq!(file.file_name.as_deref(), Some("status.xml"));
    assert!(matches!(
        client.get_file("bad").await,
        Err(BillitError::Decode(_))
    ));
}

#[tokio::test]
async fn webhooks_endpoints() {
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/webhooks"))
        .and(body_json(json!({"EntityType": "Message", "EntityUpdateType": "I", "WebhookURL": "https://portal/hooks/billit/t"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "WebhookID": 12, "EntityType": "Message", "Secret": "s3cr3t"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/webhooks"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"WebhookID": 12}, {"WebhookID": 13}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/webhooks/12"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/webhooks/refresh/12"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"WebhookID": 12, "Secret": "new"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let registration: WebhookRegistration = serde_json::from_value(json!({
        "EntityType": "Message", "EntityUpdateType": "I", "WebhookURL": "https://portal/hooks/billit/t"
    }))
    .unwrap();
    let created = client.create_webhook(&registration).await.unwrap();
    assert_eq!(created.secret.as_deref(), Some("s3cr3t"));
    assert_eq!(client.list_webhooks().await.unwrap().len(), 2);
    client.delete_webhook(12).await.unwrap();
    assert_eq!(
        client.refresh_webhook(12).await.unwrap().secret.as_deref(),
        Some("new")
    );
}

#[tokio::test]
async fn account_and_peppol_lookup() {
    let (server, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/account/accountInformation"))
        .and(header_exists("ApiKey"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Email": "a@b.c", "Companies": [{"PartyID": 1079374, "Name": "FR demo send"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/v1/peppol/participantInformation/0225:127362116_DEMO",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Registered": true, "Identifier": "0225:127362116_DEMO"})),
        )
        .mount(&server)
        .await;
    let account = client.account_information().await.unwrap();
    assert_eq!(account.companies.unwrap()[0].party_id, Some(1_079_374));
    let participant = client
        .peppol_participant("0225:127362116_DEMO")
        .await
        .unwrap();
    assert_eq!(participant.registered, Some(true));
}

#[tokio::test]
async fn error_mapping() {
    let (server, client) = setup().await;
    let cases = [
        (401, json!({}), "1"),
        (403, json!({}), "2"),
        (404, json!({}), "3"),
        (
            400,
            json!({"errors": [{"Code": "InvalidVAT", "Description": "VAT number invalid"}]}),
            "4",
        ),
        (422, json!({"Errors": [{"Code": 12}]}), "5"),
    ];
    for (status, body, id) in &cases {
        Mock::given(method("GET"))
            .and(path(format!("/v1/orders/{id}")))
            .respond_with(ResponseTemplate::new(*status).set_body_json(body.clone()))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/orders/6"))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .mount(&server)
        .await;
    assert_eq!(
        client.get_order(1).await,
        Err(BillitError::Unauthorized { status: 401 })
    );
    assert_eq!(
        client.get_order(2).await,
        Err(BillitError::Unauthorized { status: 403 })
    );
    assert_eq!(client.get_order(3).await, Err(BillitError::NotFound));
    let validation = client.get_order(4).await.unwrap_err();
    match &validation {
        BillitError::Validation { status, errors } => {
            assert_eq!(*status, 400);
            assert_eq!(errors[0].code.as_deref(), Some("InvalidVAT"));
            assert_eq!(errors[0].description.as_deref(), Some("VAT number invalid"));
        }
        other => panic!("{other:?}"),
    }
    use portal_domain::Localized;
    assert!(validation.message_fr().contains("VAT number invalid"));
    assert!(matches!(
        client.get_order(5).await,
        Err(BillitError::Validation { status: 422, .. })
    ));
    assert!(matches!(
        client.get_order(6).await,
        Err(BillitError::Decode(_))
    ));
}

#[tokio::test]
async fn connection_errors_are_retried_then_transport() {
    // A port with nothing listening: bind then drop.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client =
        HttpBillitClient::new(&format!("http://{address}"), &credentials(None), &config()).unwrap();
    let error = client.get_order(1).await.unwrap_err();
    assert!(matches!(error, BillitError::Transport(_)), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_base_path_is_kept_and_segments_escaped() {
    let server = MockServer::start().await;
    let client = HttpBillitClient::new(
        &format!("{}/billit", server.uri()),
        &credentials(None),
        &config(),
    )
    .unwrap();
    Mock::given(method("GET"))
        .and(|request: &Request| request.url.path() == "/billit/v1/files/a%2Fb")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"FileContent": ""})))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.get_file("a/b").await.unwrap().content.is_empty());
    assert!(matches!(
        HttpBillitClient::new("not a url", &credentials(None), &config()),
        Err(BillitError::Invalid(_))
    ));
    let mut bad = credentials(None);
    bad.api_key = "line\nbreak".to_owned();
    assert!(matches!(
        HttpBillitClient::new(&server.uri(), &bad, &config()),
        Err(BillitError::Invalid(_))
    ));
}

#[tokio::test]
async fn send_forbids_falling_back_to_another_transport() {
    let (server, client) = setup().await;
    // Only a send that carries the header is answered; any other would hit wiremock's 404.
    Mock::given(method("POST"))
        .and(path("/v1/orders/commands/send"))
        .and(header("StrictTransportType", "true"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    client.send_orders(&[7], "Peppol").await.unwrap();
    // The other calls do not carry it.
    Mock::given(method("GET"))
        .and(path("/v1/orders/7"))
        .respond_with(|request: &Request| {
            if request.headers.contains_key("StrictTransportType") {
                ResponseTemplate::new(400)
            } else {
                ResponseTemplate::new(200).set_body_json(json!({"OrderID": 7}))
            }
        })
        .mount(&server)
        .await;
    assert_eq!(client.get_order(7).await.unwrap().order_id, Some(7));
}

#[tokio::test]
async fn delete_order_is_a_delete_and_says_why_it_failed() {
    let (server, client) = setup().await;
    Mock::given(method("DELETE"))
        .and(path("/v1/orders/11"))
        .and(header("ApiKey", "test-api-key"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/orders/12"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"Code": "OrderAlreadySent", "Description": "A sent order cannot be deleted"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v1/orders/13"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    client.delete_order(11).await.unwrap();
    match client.delete_order(12).await {
        Err(BillitError::Validation {
            status: 400,
            errors,
        }) => {
            assert_eq!(errors[0].code.as_deref(), Some("OrderAlreadySent"));
        }
        other => panic!("a refusal, not {other:?}"),
    }
    assert_eq!(client.delete_order(13).await, Err(BillitError::NotFound));
}

#[tokio::test]
async fn an_order_id_is_read_from_a_bare_integer_or_an_object() {
    for (answer, expected) in [
        (json!(2_673_872), 2_673_872),
        (json!({"OrderID": 41}), 41),
        (json!({"orderId": 42}), 42),
        (json!("43"), 43),
    ] {
        let (server, client) = setup().await;
        Mock::given(method("POST"))
            .and(path("/v1/orders"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer.clone()))
            .mount(&server)
            .await;
        assert_eq!(
            client.create_order(&order("F-2"), "key").await,
            Ok(expected),
            "{answer}"
        );
    }
    let (server, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Id": "x"})))
        .mount(&server)
        .await;
    assert!(matches!(
        client.create_order(&order("F-3"), "key").await,
        Err(BillitError::Decode(_))
    ));
}
