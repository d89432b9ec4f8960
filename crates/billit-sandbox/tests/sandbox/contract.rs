//! The Billit client against the sandbox, endpoint by endpoint.

use crate::support::{client, client_with, dec, invoice, raw, sandbox};
use chrono::{TimeZone, Utc};
use portal_billit::client::{BillitClient, BillitError};
use portal_billit::wire::{BillitDateTime, PaymentRequest, WebhookRegistration};
use reqwest::Method;
use serde_json::{Value, json};

fn code_of(error: &BillitError) -> Option<String> {
    match error {
        BillitError::Validation { errors, .. } | BillitError::Conflict { errors } => {
            errors.first().and_then(|e| e.code.clone())
        }
        _ => None,
    }
}

#[tokio::test]
async fn create_computes_totals_like_billit_and_get_returns_them() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut order = invoice("TOT-1", "");
    let mut second = order.order_lines.as_ref().unwrap()[0].clone();
    second.quantity = Some(dec("3"));
    second.unit_price_excl = Some(dec("0.33333"));
    second.vat_percentage = Some(dec("5.5"));
    order.order_lines.as_mut().unwrap().push(second);
    let id = client.create_order(&order, "k1").await.unwrap();
    let got = client.get_order(id).await.unwrap();
    assert_eq!(got.order_id, Some(id));
    assert_eq!(got.total_excl, Some(dec("401.00")));
    assert_eq!(got.total_vat, Some(dec("80.06")));
    assert_eq!(got.total_incl, Some(dec("481.06")));
    assert_eq!(got.to_pay, Some(dec("481.06")));
    assert_eq!(got.paid, Some(false));
    assert!(got.extra.contains_key("VatGroups"));
    let pdf = client
        .get_file(got.order_pdf.unwrap().file_id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(pdf.content.starts_with(b"%PDF"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn credentials_are_required() {
    let sandbox = sandbox().await;
    let error = client_with(&sandbox, "wrong", 0)
        .get_order(1)
        .await
        .unwrap_err();
    assert_eq!(error, BillitError::Unauthorized { status: 401 });
    let response = reqwest::get(format!("{}/v1/orders/1", sandbox.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["Code"], "Unauthorized");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn invalid_orders_get_billit_error_codes() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut bad_rate = invoice("BAD-1", "");
    bad_rate.order_lines.as_mut().unwrap()[0].vat_percentage = Some(dec("21"));
    let error = client.create_order(&bad_rate, "a").await.unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("InvalidVATPercentage"));

    let mut no_number = invoice("X", "");
    no_number.order_number = None;
    let error = client.create_order(&no_number, "b").await.unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("OrderNumberIsRequired"));

    let mut no_lines = invoice("NL-1", "");
    no_lines.order_lines = Some(Vec::new());
    let error = client.create_order(&no_lines, "c").await.unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("OrderLinesAreRequired"));

    client
        .create_order(&invoice("DUP-1", ""), "d")
        .await
        .unwrap();
    let error = client
        .create_order(&invoice("DUP-1", ""), "e")
        .await
        .unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("OrderNumberAlreadyExists"));

    let mut no_network = invoice("NN-1", "");
    no_network.customer.as_mut().unwrap().identifiers = None;
    let id = client.create_order(&no_network, "f").await.unwrap();
    let error = client.send_orders(&[id], "Peppol").await.unwrap_err();
    assert_eq!(
        code_of(&error).as_deref(),
        Some("TheCustomerIsNotActiveOnPeppol")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_reused_idempotency_key_answers_409_and_the_client_finds_the_order() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let first = client
        .create_order(&invoice("IDEM-1", ""), "same")
        .await
        .unwrap();
    let response = raw(&sandbox, Method::POST, "/v1/orders")
        .header("Idempotency-Key", "same")
        .json(&invoice("IDEM-1", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let again = client
        .create_order(&invoice("IDEM-1", ""), "same")
        .await
        .unwrap();
    assert_eq!(first, again);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn property_names_are_matched_case_insensitively() {
    let sandbox = sandbox().await;
    let body = json!({
        "ordernumber": "CASE-1", "ORDERTYPE": "Invoice",
        "customer": {"name": "Client", "identifiers": [{"schemeid": "0225", "identifier": "127362116"}]},
        "orderLines": [{"quantity": 2, "unitpriceexcl": 10, "vatpercentage": 20}]
    });
    let response = raw(&sandbox, Method::POST, "/v1/orders")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Like Billit: the answer is the bare id.
    let id = response.json::<Value>().await.unwrap().as_i64().unwrap();
    let order = client(&sandbox).get_order(id).await.unwrap();
    assert_eq!(order.total_incl, Some(dec("24.0")));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn list_filters_on_last_modified_and_pages() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    for n in 0..7 {
        client
            .create_order(&invoice(&format!("LIST-{n}"), ""), &format!("l{n}"))
            .await
            .unwrap();
    }
    let all = client
        .list_orders_modified_since(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let none = client
        .list_orders_modified_since(Utc::now() + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert!(none.is_empty());
    let page: Value = raw(
        &sandbox,
        Method::GET,
        "/v1/orders?$top=3&$skip=0&$filter=LastModified%20ge%20DateTime'2020-01-01T00:00:00'",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["Items"].as_array().unwrap().len(), 3);
    let next = page["NextPageLink"].as_str().unwrap();
    assert!(
        next.starts_with("http://127.0.0.1:") && next.contains("skip=3"),
        "{next}"
    );
    let found = client.find_order_by_number("LIST-4").await.unwrap();
    assert!(found.is_some());
    let bad = raw(&sandbox, Method::GET, "/v1/orders?$filter=Nope%20xx%201")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn delete_only_before_sending() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let draft = client
        .create_order(&invoice("DEL-1", ""), "d1")
        .await
        .unwrap();
    let response = raw(&sandbox, Method::DELETE, &format!("/v1/orders/{draft}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        client.get_order(draft).await.unwrap_err(),
        BillitError::NotFound
    );
    let sent = client
        .create_order(&invoice("DEL-2", ""), "d2")
        .await
        .unwrap();
    client.send_orders(&[sent], "Peppol").await.unwrap();
    let response = raw(&sandbox, Method::DELETE, &format!("/v1/orders/{sent}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn payments_add_cash_collected_messages_and_settle_the_order() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let id = client
        .create_order(&invoice("PAY-1", ""), "p")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    sandbox.advance();
    let payment = |amount: &str| PaymentRequest {
        amount: dec(amount),
        payment_date: Some(BillitDateTime("2026-06-05T00:00:00".to_owned())),
        reference: Some("VIR".to_owned()),
        extra: Default::default(),
    };
    client
        .post_payment(id, &payment("100"), Some("pay-1"))
        .await
        .unwrap();
    // A replay with the same key is a success for the client (409 underneath).
    client
        .post_payment(id, &payment("100"), Some("pay-1"))
        .await
        .unwrap();
    let order = client.get_order(id).await.unwrap();
    assert_eq!(order.to_pay, Some(dec("380")));
    assert_eq!(order.paid, Some(false));
    sandbox.advance();
    client
        .post_payment(id, &payment("380"), Some("pay-2"))
        .await
        .unwrap();
    sandbox.advance();
    let order = client.get_order(id).await.unwrap();
    assert_eq!(order.paid, Some(true));
    assert_eq!(order.to_pay, Some(dec("0")));
    let descriptions: Vec<&str> = order
        .messages()
        .iter()
        .filter_map(|m| m.description.as_deref())
        .collect();
    assert_eq!(
        descriptions
            .iter()
            .filter(|d| **d == "CashCollected")
            .count(),
        2
    );
    assert_eq!(
        descriptions
            .iter()
            .filter(|d| **d == "CashCollected: Recevable")
            .count(),
        2
    );
    let classified = portal_billit::classify::classify_order(&order);
    let lifecycle =
        portal_domain::lifecycle::Lifecycle::fold(&classified.events, &classified.facts);
    assert_eq!(lifecycle.current.map(|c| c.0), Some(212));
    let error = client
        .post_payment(id, &payment("1"), None)
        .await
        .unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("AmountExceedsToPay"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn patch_paid_settles_and_unsettles() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let id = client
        .create_order(&invoice("PATCH-1", ""), "p")
        .await
        .unwrap();
    client.send_orders(&[id], "Peppol").await.unwrap();
    client.patch_paid(id, true, Some(Utc::now())).await.unwrap();
    let order = client.get_order(id).await.unwrap();
    assert_eq!(order.paid, Some(true));
    assert!(order.paid_date.is_some());
    assert!(
        order
            .messages()
            .iter()
            .any(|m| m.description.as_deref() == Some("CashCollected"))
    );
    client.patch_paid(id, false, None).await.unwrap();
    let order = client.get_order(id).await.unwrap();
    assert_eq!(order.paid, Some(false));
    assert_eq!(order.to_pay, order.total_incl);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn webhooks_create_list_refresh_delete() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let created = client
        .create_webhook(&WebhookRegistration {
            entity_type: Some("Message".to_owned()),
            entity_update_type: Some("I".to_owned()),
            webhook_url: Some("http://127.0.0.1:9/hook".to_owned()),
            extra: Default::default(),
        })
        .await
        .unwrap();
    let id = created.webhook_id.unwrap();
    let secret = created.secret.clone().unwrap();
    let listed = client.list_webhooks().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].secret.is_none());
    let refreshed = client.refresh_webhook(id).await.unwrap();
    assert_ne!(refreshed.secret.unwrap(), secret);
    client.delete_webhook(id).await.unwrap();
    assert!(client.list_webhooks().await.unwrap().is_empty());
    assert_eq!(
        client.delete_webhook(id).await.unwrap_err(),
        BillitError::NotFound
    );
    let error = client
        .create_webhook(&WebhookRegistration {
            entity_type: Some("Invoice".to_owned()),
            ..WebhookRegistration::default()
        })
        .await
        .unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("InvalidEntityType"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn account_information_and_peppol_lookup() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let info = client.account_information().await.unwrap();
    let company = &info.companies.unwrap()[0];
    assert_eq!(company.party_id, Some(crate::support::PARTY));
    assert_eq!(company.vat_number.as_deref(), Some("FR99227010068"));
    let found = client
        .peppol_participant("0225:127362116_DEMO")
        .await
        .unwrap();
    assert_eq!(found.registered, Some(true));
    let missing = client
        .peppol_participant("0225:127362116_NOPEPPOL")
        .await
        .unwrap();
    assert_eq!(missing.registered, Some(false));
    assert_eq!(sandbox.participant_lookups("0225:127362116_DEMO"), 1);
    assert_eq!(sandbox.participant_lookups("0225:127362116_NOPEPPOL"), 1);
    assert_eq!(sandbox.participant_lookups("0225:000000000"), 0);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_created_order_can_be_deleted_until_it_is_sent() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let kept = client
        .create_order(&invoice("DEL-1", ""), "del-1")
        .await
        .unwrap();
    let removed = client
        .create_order(&invoice("DEL-2", ""), "del-2")
        .await
        .unwrap();
    client.delete_order(removed).await.unwrap();
    assert!(sandbox.order(removed).is_none());
    assert_eq!(
        client.get_order(removed).await.unwrap_err(),
        BillitError::NotFound
    );
    client.send_orders(&[kept], "Peppol").await.unwrap();
    let error = client.delete_order(kept).await.unwrap_err();
    assert_eq!(code_of(&error).as_deref(), Some("OrderAlreadySent"));
    assert!(sandbox.order(kept).is_some());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_strict_send_never_falls_back_to_email() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    // The client always sends strictly: a customer outside the network is refused, and the order stays unsent.
    let unreachable = client
        .create_order(&invoice("STRICT-1", "_NOPEPPOL"), "s-1")
        .await
        .unwrap();
    let error = client
        .send_orders(&[unreachable], "Peppol")
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&error).as_deref(),
        Some("TheCustomerIsNotActiveOnPeppol")
    );
    assert_eq!(sandbox.sent_with(unreachable), None);
    let reachable = client
        .create_order(&invoice("STRICT-2", ""), "s-2")
        .await
        .unwrap();
    client.send_orders(&[reachable], "Peppol").await.unwrap();
    assert_eq!(
        sandbox.sent_with(reachable),
        Some((true, "Peppol".to_owned()))
    );
    // Without the header, Billit falls back to email silently: what the header exists to prevent.
    let response = raw(&sandbox, Method::POST, "/v1/orders/commands/send")
        .json(&json!({"TransportType": "Peppol", "OrderIDs": [unreachable]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        sandbox.sent_with(unreachable),
        Some((false, "Email".to_owned()))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_paid_at_issue_reports_its_payment_once() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let mut order = invoice("PAID-1", "");
    order.paid = Some(true);
    order.paid_date = Some(BillitDateTime("2026-09-01T00:00:00".to_owned()));
    let id = client.create_order(&order, "p-1").await.unwrap();
    let created = client.get_order(id).await.unwrap();
    assert_eq!(created.paid, Some(true));
    assert_eq!(
        created.paid_date.as_ref().map(|d| d.as_str()),
        Some("2026-09-01T00:00:00")
    );
    assert_eq!(created.to_pay, Some(dec("0")));
    client.send_orders(&[id], "Peppol").await.unwrap();
    sandbox.advance();
    let sent = client.get_order(id).await.unwrap();
    let cash_collected = sent
        .messages
        .unwrap_or_default()
        .iter()
        .filter(|m| m.description.as_deref() == Some("CashCollected"))
        .count();
    assert_eq!(cash_collected, 1, "one 212 for a payment made at issue");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn files_of_other_parties_are_not_found() {
    let sandbox = sandbox().await;
    let error = client(&sandbox)
        .get_file("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(error, BillitError::NotFound);
    sandbox.shutdown().await;
}

/// `cargo test -p billit-sandbox --release -- --ignored throughput --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn throughput_create_send_get() {
    let sandbox = sandbox().await;
    let client = std::sync::Arc::new(client(&sandbox));
    let total = 2_000;
    let concurrency = 16;
    let start = std::time::Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let client = std::sync::Arc::clone(&client);
        tasks.push(tokio::spawn(async move {
            for n in 0..total / concurrency {
                let number = format!("TP-{worker}-{n}");
                let id = client
                    .create_order(&invoice(&number, ""), &number)
                    .await
                    .unwrap();
                client.send_orders(&[id], "Peppol").await.unwrap();
                client.get_order(id).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "{total} x (create + send + get) in {elapsed:?}: {:.0} invoices/s, {:.0} requests/s",
        f64::from(total) / elapsed.as_secs_f64(),
        f64::from(total * 3) / elapsed.as_secs_f64()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn parties_are_provisioned_over_the_control_api() {
    let sandbox = sandbox().await;
    let response = reqwest::Client::new()
        .post(format!("{}/_sandbox/parties", sandbox.base_url()))
        .json(
            &json!({"PartyID": 42, "ApiKey": "k42", "Name": "Acme", "VATNumber": "FR44732829320"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let client = portal_billit::client::HttpBillitClient::new(
        &sandbox.base_url(),
        &portal_billit::client::BillitCredentials {
            api_key: "k42".to_owned(),
            party_id: "42".to_owned(),
            context_party_id: None,
        },
        &portal_billit::client::ClientConfig::default(),
    )
    .unwrap();
    let info = client.account_information().await.unwrap();
    assert_eq!(info.companies.unwrap()[0].name.as_deref(), Some("Acme"));
    // Another party's orders are not visible.
    let id = crate::support::client(&sandbox)
        .create_order(&invoice("MINE-1", ""), "m")
        .await
        .unwrap();
    assert_eq!(
        client.get_order(id).await.unwrap_err(),
        BillitError::NotFound
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn context_party_id_acts_for_a_company_of_the_same_key() {
    let sandbox = sandbox().await;
    sandbox
        .add_party(billit_sandbox::PartyAccount {
            party_id: 77,
            api_key: crate::support::KEY.to_owned(),
            name: "Client of the firm".to_owned(),
            vat_number: "FR44732829320".to_owned(),
            email: None,
        })
        .unwrap();
    sandbox
        .add_party(billit_sandbox::PartyAccount {
            party_id: 78,
            api_key: "other".to_owned(),
            name: "Stranger".to_owned(),
            vat_number: "FR44732829320".to_owned(),
            email: None,
        })
        .unwrap();
    let as_client = |context: &str| {
        portal_billit::client::HttpBillitClient::new(
            &sandbox.base_url(),
            &portal_billit::client::BillitCredentials {
                api_key: crate::support::KEY.to_owned(),
                party_id: crate::support::PARTY.to_string(),
                context_party_id: Some(context.to_owned()),
            },
            &portal_billit::client::ClientConfig::default(),
        )
        .unwrap()
    };
    let info = as_client("77").account_information().await.unwrap();
    assert_eq!(info.companies.clone().unwrap()[0].party_id, Some(77));
    // The account lists every company the key opens, with its VAT number; never another key's.
    let companies = |info: portal_billit::wire::AccountInformation| -> Vec<(i64, String)> {
        info.companies
            .unwrap()
            .into_iter()
            .map(|company| (company.party_id.unwrap(), company.vat_number.unwrap()))
            .collect()
    };
    assert_eq!(
        companies(info),
        vec![
            (77, "FR44732829320".to_owned()),
            (crate::support::PARTY, "FR99227010068".to_owned())
        ]
    );
    let own = crate::support::client(&sandbox)
        .account_information()
        .await
        .unwrap();
    assert_eq!(
        companies(own),
        vec![
            (crate::support::PARTY, "FR99227010068".to_owned()),
            (77, "FR44732829320".to_owned())
        ],
        "without a ContextPartyID, the party acted for comes first"
    );
    let error = as_client("78").account_information().await.unwrap_err();
    assert_eq!(error, BillitError::Unauthorized { status: 403 });
    sandbox.shutdown().await;
}
