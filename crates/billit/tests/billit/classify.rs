//! Classification: the signal table row by row, dedup keys, webhook vs poll.

use crate::support::fixture;
use chrono::{DateTime, Utc};
use portal_billit::cdar::parse_cdar;
use portal_billit::classify::{
    classify_message, classify_order, classify_webhook, classify_webhook_received,
    message_dedup_key,
};
use portal_billit::wire::{Message, Order, WebhookPayload};
use portal_domain::lifecycle::{Delivery, EventKind, Lifecycle, Source, TaxReporting};
use portal_domain::status::StatusCode;
use rust_decimal_macros::dec;
use serde_json::json;

fn message(value: serde_json::Value) -> Message {
    serde_json::from_value(value).unwrap()
}

fn classify(value: serde_json::Value) -> portal_domain::lifecycle::StatusEvent {
    classify_message(&message(value), Some(1), None, DateTime::UNIX_EPOCH)
}

fn code_and_source(value: serde_json::Value) -> (Option<u16>, EventKind, Source) {
    let event = classify(value);
    (event.code.map(StatusCode::as_u16), event.kind, event.source)
}

#[test]
fn signal_table_rows() {
    use EventKind::{Status, TaxDataSent, TaxReportingDone, Unclassified};
    let fta = "FrenchTaxAuthority";
    let rows = [
        (
            json!({"Description": "207 Contestée", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(207), Status, Source::Buyer),
        ),
        (
            json!({"Description": "En litige"}),
            (Some(207), Status, Source::Buyer),
        ),
        (
            json!({"Description": "En_litige: TX_TVA_ERR"}),
            (Some(207), Status, Source::Buyer),
        ),
        (
            json!({"Description": "Submitted", "TransportType": fta, "MessageDirection": "Outgoing"}),
            (Some(200), Status, Source::SellerPlatform),
        ),
        (
            json!({"Description": "FFE0614A", "TransportType": fta, "MessageDirection": "Outgoing"}),
            (Some(200), Status, Source::SellerPlatform),
        ),
        (
            json!({"Description": "Submitted: Recevable", "TransportType": fta, "MessageDirection": "Incoming"}),
            (Some(500), Status, Source::Ppf),
        ),
        (
            json!({"Description": "CFE0614A", "TransportType": fta, "MessageDirection": "Incoming"}),
            (Some(500), Status, Source::Ppf),
        ),
        (
            json!({"Description": "Flux1: Recevable", "TransportType": fta, "MessageDirection": "Incoming"}),
            (Some(250), Status, Source::Ppf),
        ),
        (
            json!({"Description": "CFE0111A", "TransportType": fta, "MessageDirection": "Incoming"}),
            (Some(250), Status, Source::Ppf),
        ),
        (
            json!({"Description": "Accepted", "TransportType": fta, "MessageDirection": "Incoming"}),
            (None, TaxReportingDone, Source::Ppf),
        ),
        (
            json!({"Description": "ack", "TransportType": fta, "MessageDirection": "Incoming"}),
            (None, TaxReportingDone, Source::Ppf),
        ),
        (
            json!({"Description": "Document data", "TransportType": fta, "MessageDirection": "Outgoing"}),
            (None, TaxDataSent, Source::SellerPlatform),
        ),
        (
            json!({"Description": "FFE0111A", "TransportType": fta, "MessageDirection": "Outgoing"}),
            (None, TaxDataSent, Source::SellerPlatform),
        ),
        (
            json!({"Description": "Reporting failed", "TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": false}),
            (Some(251), Status, Source::Ppf),
        ),
        (
            json!({"TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": true}),
            (Some(201), Status, Source::SellerPlatform),
        ),
        (
            json!({"Description": "AB: The document has been successfully received.", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(202), Status, Source::BuyerPlatform),
        ),
        (
            json!({"Description": "IP: in process", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(204), Status, Source::Buyer),
        ),
        (
            json!({"Description": "AP: accepted", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(205), Status, Source::Buyer),
        ),
        (
            json!({"Description": "CA: conditionally", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(206), Status, Source::Buyer),
        ),
        (
            json!({"Description": "UQ: need the PO", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(208), Status, Source::Buyer),
        ),
        (
            json!({"Description": "RE: rejected", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(210), Status, Source::Buyer),
        ),
        (
            json!({"Description": "PD: The document has been paid.", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (Some(211), Status, Source::Buyer),
        ),
        (
            json!({"Description": "CashCollected", "TransportType": fta, "MessageDirection": "Outgoing"}),
            (Some(212), Status, Source::Supplier),
        ),
        (
            json!({"Description": "CashCollected: Recevable", "TransportType": fta, "MessageDirection": "Incoming"}),
            (Some(212), Status, Source::Supplier),
        ),
        (
            json!({"Description": "x", "TransportType": "Peppol", "MessageAdditionalInformation": {"EInvoiceFlowState": "Sent"}}),
            (Some(201), Status, Source::SellerPlatform),
        ),
        (
            json!({"Description": "x", "TransportType": "Peppol", "MessageAdditionalInformation": {"EInvoiceFlowState": "Accepted"}}),
            (Some(202), Status, Source::BuyerPlatform),
        ),
        (
            json!({"Description": "x", "TransportType": "Peppol", "MessageAdditionalInformation": {"EInvoiceFlowState": "Delivered"}}),
            (Some(203), Status, Source::BuyerPlatform),
        ),
        (
            json!({"Description": "x", "TransportType": "Peppol", "MessageAdditionalInformation": {"EInvoiceFlowState": "Refused"}}),
            (Some(210), Status, Source::Buyer),
        ),
        (
            json!({"Description": "x", "TransportType": fta, "MessageAdditionalInformation": {"EInvoiceFlowState": "Refused"}}),
            (Some(251), Status, Source::Ppf),
        ),
        (
            json!({"Description": "Something new", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (None, Unclassified, Source::Unknown),
        ),
        (
            json!({"Description": "Submitted", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
            (None, Unclassified, Source::Unknown),
        ),
        (
            json!({"TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": false}),
            (None, Unclassified, Source::Unknown),
        ),
        (json!({}), (None, Unclassified, Source::Unknown)),
    ];
    for (input, expected) in rows {
        assert_eq!(code_and_source(input.clone()), expected, "{input}");
    }
}

#[test]
fn reasons_and_comments_are_kept() {
    let event = classify(json!({"Description": "207 TX_TVA_ERR taux faux"}));
    assert_eq!(event.reasons, vec!["TX_TVA_ERR"]);
    let event = classify(
        json!({"Description": "UQ: send the delivery note", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
    );
    assert_eq!(event.comment.as_deref(), Some("send the delivery note"));
    let event = classify(
        json!({"Description": "x", "TransportType": "Peppol", "MessageAdditionalInformation": {"EInvoiceFlowState": "Refused", "AdditionalFlowStateInformation": "No Valid VAT"}}),
    );
    assert_eq!(event.comment.as_deref(), Some("No Valid VAT"));
}

#[test]
fn dedup_keys_are_stable_between_webhook_and_poll() {
    let order: Order = serde_json::from_slice(&fixture("billit/order-delivered.json")).unwrap();
    let polled = classify_order(&order).events;
    let message = &order.messages()[6];
    // The same message as an old-shape webhook (date without time) and a new-shape one.
    let old = json!({"UpdatedEntityID": 99, "UpdatedEntityType": "Message", "WebhookUpdateTypeTC": "I",
        "EntityDetail": {"OrderID": 2619898, "Description": message.description, "FileID": message.file_id,
            "CreationDate": "06/05/2026", "TransportType": "Peppol", "MessageDirection": "Incoming",
            "MessageAdditionalInformation": {"EInvoiceFlowState": "Accepted"}}});
    let new = json!({"UpdatedEntityID": 99, "UpdatedEntityType": "Message", "WebhookUpdateTypeTC": "I",
        "EntityDetail": {"OrderMessage": serde_json::to_value(message).unwrap(),
            "AdditionalMessageInformation": {"EInvoiceFlowState": "Accepted"}}});
    for payload in [old, new] {
        let payload: WebhookPayload = serde_json::from_value(payload).unwrap();
        let events = classify_webhook(&payload);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].code, Some(StatusCode(202)));
        assert_eq!(events[0].dedup_key, polled[6].dedup_key);
        let mut all = polled.clone();
        all.extend(events);
        let folded = Lifecycle::fold(&all, &classify_order(&order).facts);
        assert_eq!(folded.timeline.len(), polled.len());
    }
    // Without a FileID the key uses the local date only, so a dated webhook matches too.
    let a = message_dedup_key(&serde_json::from_value(json!({"Description": "Reporting failed", "CreationDate": "2026-05-18T13:28:20.72", "TransportType": "Peppol", "MessageDirection": "Outgoing"})).unwrap(), Some(7));
    let b = message_dedup_key(&serde_json::from_value(json!({"Description": " reporting  FAILED", "CreationDate": "18/05/2026", "Transporttype": "Peppol", "MessageDirection": "Outgoing", "OrderID": 7})).unwrap(), None);
    assert_eq!(a, b);
    // Keys are all distinct within an order.
    let mut keys: Vec<&str> = polled.iter().map(|e| e.dedup_key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), polled.len());
}

#[test]
fn repeated_classification_is_one_event() {
    let order: Order = serde_json::from_slice(&fixture(
        "billit/order-delivered-reported-partially-paid.json",
    ))
    .unwrap();
    let once = classify_order(&order);
    let mut twice = once.events.clone();
    twice.extend(classify_order(&order).events);
    assert_eq!(
        Lifecycle::fold(&twice, &once.facts),
        Lifecycle::fold(&once.events, &once.facts)
    );
}

#[test]
fn facts_from_orders() {
    let order: Order = serde_json::from_slice(&fixture(
        "billit/order-delivered-reported-partially-paid.json",
    ))
    .unwrap();
    let facts = classify_order(&order).facts;
    assert_eq!(facts.total_incl, dec!(480));
    assert_eq!(facts.to_pay, Some(dec!(100)));
    assert_eq!(facts.paid, Some(false));
    assert_eq!(facts.delivery_hint, Some(Delivery::Delivered));
    assert_eq!(facts.tax_reporting_hint, Some(TaxReporting::Done));
    assert!(!facts.submission_failing);

    let rejected: Order =
        serde_json::from_slice(&fixture("billit/order-ppf-rejected.json")).unwrap();
    let classified = classify_order(&rejected);
    assert_eq!(classified.facts.delivery_hint, Some(Delivery::Pending));
    assert_eq!(
        classified.facts.tax_reporting_hint,
        Some(TaxReporting::Failed)
    );
    assert!(
        classified
            .events
            .iter()
            .any(|e| e.dedup_key == "billit:order:2637999:tax-failed")
    );

    let failing: Order = serde_json::from_value(json!({"OrderID": 3, "TotalIncl": 10.0, "Messages": [
        {"TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": false, "CreationDate": "2026-06-01T10:00:00"}
    ]})).unwrap();
    assert!(classify_order(&failing).facts.submission_failing);
    let recovered: Order = serde_json::from_value(json!({"OrderID": 3, "Messages": [
        {"TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": false, "CreationDate": "2026-06-01T10:00:00"},
        {"TransportType": "Peppol", "MessageDirection": "Outgoing", "Success": true, "CreationDate": "2026-06-01T11:00:00"}
    ]})).unwrap();
    assert!(!classify_order(&recovered).facts.submission_failing);
}

#[test]
fn a_cdar_explains_its_message_under_the_same_key() {
    let cdar = parse_cdar(&fixture("cdar/UC4_F202500006_04-CDV-207_En_litige.xml")).unwrap();
    let msg = message(
        json!({"Description": "Status received", "FileID": "F-1", "CreationDate": "2026-06-02T11:29:02", "TransportType": "Peppol", "MessageDirection": "Incoming"}),
    );
    let plain = classify_message(&msg, Some(1), None, DateTime::UNIX_EPOCH);
    let explained = classify_message(&msg, Some(1), Some(&cdar), DateTime::UNIX_EPOCH);
    assert_eq!(plain.dedup_key, explained.dedup_key);
    assert_eq!(explained.code, Some(StatusCode(207)));
    assert_eq!(explained.source, Source::Buyer);
    assert_eq!(explained.reasons, vec!["TX_TVA_ERR"]);
    assert_eq!(explained.requested_action.as_deref(), Some("NIN"));
    assert_eq!(explained.file_id.as_deref(), Some("F-1"));
    assert_eq!(explained.at.to_rfc3339(), "2026-06-02T09:29:02+00:00");

    let paid = parse_cdar(&fixture("cdar/UC1_F202500003_07-CDV-212_Encaissee.xml")).unwrap();
    let event = portal_billit::classify::classify_cdar(&paid, None, None);
    assert_eq!(event.amount, Some(dec!(12000)));
    assert_eq!(event.source, Source::Supplier);
    let received = parse_cdar(&fixture("cdar/UC1_F202500003_02-CDV-202_Recue.xml")).unwrap();
    assert_eq!(
        portal_billit::classify::cdar_source(&received),
        Source::BuyerPlatform
    );
    let deposited = parse_cdar(&fixture("cdar/UC1_F202500003_01-CDV-200_Deposee.xml")).unwrap();
    assert_eq!(
        portal_billit::classify::cdar_source(&deposited),
        Source::SellerPlatform
    );
}

#[test]
fn webhook_edge_cases() {
    let empty: WebhookPayload = serde_json::from_value(json!({"UpdatedEntityID": 1})).unwrap();
    assert!(classify_webhook(&empty).is_empty());
    let undated: WebhookPayload = serde_json::from_value(json!({"EntityDetail": {"Description": "PD: paid", "TransportType": "Peppol", "MessageDirection": "Incoming"}})).unwrap();
    let now: DateTime<Utc> = "2026-06-03T10:00:00Z".parse().unwrap();
    let events = classify_webhook_received(&undated, now);
    assert_eq!(events[0].at, now);
    assert_eq!(events[0].code, Some(StatusCode(211)));
    let order_entity: WebhookPayload = serde_json::from_value(json!({
        "UpdatedEntityID": 5, "UpdatedEntityType": "Order",
        "EntityDetail": {"OrderID": 5, "TotalIncl": 12.0, "Messages": [
            {"Description": "FFE0614A", "TransportType": "FrenchTaxAuthority", "MessageDirection": "Outgoing", "FileID": "a"}
        ]}})).unwrap();
    let events = classify_webhook(&order_entity);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].code, Some(StatusCode(200)));
}

#[test]
fn the_tax_authoritys_payment_acknowledgement_is_marked_and_the_report_is_not() {
    let fta = "FrenchTaxAuthority";
    let report = classify(
        json!({"Description": "CashCollected", "TransportType": fta, "MessageDirection": "Outgoing"}),
    );
    let acknowledgement = classify(
        json!({"Description": "CashCollected: Recevable", "TransportType": fta, "MessageDirection": "Incoming"}),
    );
    assert_eq!(report.code, Some(StatusCode::CASHED));
    assert_eq!(acknowledgement.code, Some(StatusCode::CASHED));
    assert!(!report.is_payment_acknowledgement());
    assert!(acknowledgement.is_payment_acknowledgement());
    // Words that only look like it are not it.
    let lookalike = classify(
        json!({"Description": "212 CashCollected: Recevable?", "TransportType": fta, "MessageDirection": "Incoming"}),
    );
    assert!(!lookalike.is_payment_acknowledgement());
}
