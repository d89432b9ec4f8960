//! Wire types: every fixture round-trips without losing a field.

use crate::support::{fixture, fixture_files};
use portal_billit::wire::{
    DetailShape, ErrorBody, Order, Paged, SendCommand, Webhook, WebhookPayload, WebhookRegistration,
};
use rust_decimal_macros::dec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn round_trip<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> (T, Value, Value) {
    let original: Value = serde_json::from_slice(bytes).unwrap();
    let typed: T = serde_json::from_slice(bytes).unwrap();
    let written = serde_json::to_value(&typed).unwrap();
    (typed, original, written)
}

#[test]
fn every_billit_fixture_round_trips() {
    let files = fixture_files("billit", "json");
    assert!(files.len() >= 5);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (original, written) = if name.starts_with("order-") {
            let (_, original, written) = round_trip::<Order>(&bytes);
            (original, written)
        } else if name.starts_with("webhook-create") {
            let (_, original, written) = round_trip::<WebhookRegistration>(&bytes);
            (original, written)
        } else {
            let (_, original, written) = round_trip::<WebhookPayload>(&bytes);
            (original, written)
        };
        assert_eq!(original, written, "{name} lost or changed something");
    }
}

#[test]
fn order_fields_are_typed() {
    let order: Order = serde_json::from_slice(&fixture(
        "billit/order-delivered-reported-partially-paid.json",
    ))
    .unwrap();
    assert_eq!(order.order_id, Some(2_673_872));
    assert_eq!(order.total_incl, Some(dec!(480)));
    assert_eq!(order.to_pay, Some(dec!(100)));
    assert_eq!(order.paid, Some(false));
    assert_eq!(order.messages().len(), 11);
    assert_eq!(order.tax_reporting_status_tc.as_deref(), Some("Done"));
    let first = &order.messages()[0];
    assert_eq!(
        first
            .creation_date
            .as_ref()
            .and_then(|d| d.to_utc())
            .map(|d| d.to_rfc3339()),
        Some("2026-06-02T09:29:02.493+00:00".to_owned())
    );
    let customer = order.customer.unwrap();
    assert_eq!(
        customer.identifiers.unwrap()[0].scheme_id.as_deref(),
        Some("0225")
    );
    assert!(customer.extra.contains_key("DefaultExpiryOffset"));
    // Unknown order fields are kept.
    assert!(order.extra.contains_key("VatGroups"));
    let lines = order.order_lines.unwrap();
    assert_eq!(lines[0].total_vat, Some(dec!(80)));
}

#[test]
fn decimals_keep_their_value() {
    let order: Order = serde_json::from_slice(&fixture("billit/order-ppf-rejected.json")).unwrap();
    assert_eq!(order.total_incl, Some(dec!(1.21)));
    assert_eq!(order.total_vat, Some(dec!(0.2)));
    let order: Order =
        serde_json::from_value(json!({"TotalIncl": "12.34567", "ToPay": 3})).unwrap();
    assert_eq!(order.total_incl, Some(dec!(12.34567)));
    assert_eq!(order.to_pay, Some(dec!(3)));
    let written = serde_json::to_value(&order).unwrap();
    assert_eq!(written, json!({"TotalIncl": 12.34567, "ToPay": 3}));
    assert!(serde_json::from_value::<Order>(json!({"TotalIncl": "abc"})).is_err());
}

#[test]
fn webhook_shapes() {
    let old: WebhookPayload =
        serde_json::from_slice(&fixture("billit/webhook-message-refused.json")).unwrap();
    assert_eq!(old.shape(), DetailShape::Old);
    assert_eq!(old.order_id(), Some(2000));
    let message = old
        .entity_detail
        .as_ref()
        .unwrap()
        .effective_message()
        .unwrap();
    assert_eq!(
        message
            .message_additional_information
            .unwrap()
            .e_invoice_flow_state
            .as_deref(),
        Some("Refused")
    );

    let new_shape = json!({
        "UpdatedEntityID": 7, "UpdatedEntityType": "Message", "WebhookUpdateTypeTC": "I",
        "EntityDetail": {
            "OrderMessage": {"OrderID": 12, "Description": "AB: ok", "FileID": "f-1",
                             "CreationDate": "2026-06-02T11:29:02", "TransportType": "Peppol",
                             "MessageDirection": "Incoming"},
            "AdditionalMessageInformation": {"EInvoiceFlowState": "Accepted", "Other": 1}
        }
    });
    let payload: WebhookPayload = serde_json::from_value(new_shape.clone()).unwrap();
    assert_eq!(payload.shape(), DetailShape::New);
    assert_eq!(payload.order_id(), Some(12));
    let message = payload
        .entity_detail
        .as_ref()
        .unwrap()
        .effective_message()
        .unwrap();
    assert_eq!(message.file_id.as_deref(), Some("f-1"));
    assert_eq!(serde_json::to_value(&payload).unwrap(), new_shape);

    for empty in [
        json!({"UpdatedEntityID": 7, "UpdatedEntityType": "Message", "EntityDetail": {}}),
        json!({"UpdatedEntityID": 7, "UpdatedEntityType": "Message"}),
    ] {
        let payload: WebhookPayload = serde_json::from_value(empty.clone()).unwrap();
        assert_eq!(payload.shape(), DetailShape::Empty);
        assert_eq!(serde_json::to_value(&payload).unwrap(), empty);
    }
}

#[test]
fn mixed_spellings_are_accepted() {
    let command: SendCommand =
        serde_json::from_value(json!({"Transporttype": "Peppol", "OrderIds": [1, 2]})).unwrap();
    assert_eq!(command.transport_type.as_deref(), Some("Peppol"));
    assert_eq!(command.order_ids, vec![1, 2]);
    assert_eq!(
        serde_json::to_value(&command).unwrap(),
        json!({"TransportType": "Peppol", "OrderIDs": [1, 2]})
    );
    let message: portal_billit::wire::Message =
        serde_json::from_value(json!({"Transporttype": "Peppol"})).unwrap();
    assert_eq!(message.transport_type.as_deref(), Some("Peppol"));
}

#[test]
fn error_bodies_and_pages() {
    let body: ErrorBody = serde_json::from_value(json!({
        "errors": [{"Code": "InvalidVat", "Description": "VAT number is not valid"}, {"Code": 42}]
    }))
    .unwrap();
    assert_eq!(body.errors.len(), 2);
    assert_eq!(body.errors[1].code.as_deref(), Some("42"));
    let page: Paged<Order> = serde_json::from_value(json!({
        "Items": [{"OrderID": 1}, {"OrderID": 2, "Custom": true}],
        "NextPageLink": "https://api.billit.be/v1/orders?$skip=2"
    }))
    .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.items[1].extra.contains_key("Custom"));
}

#[test]
fn webhook_secret_is_not_in_debug() {
    let webhook: Webhook = serde_json::from_value(json!({
        "WebhookID": 3, "Secret": "very-secret-value", "WebhookURL": "https://x"
    }))
    .unwrap();
    let debug = format!("{webhook:?}");
    assert!(!debug.contains("very-secret-value"));
    assert!(debug.contains("redacted"));
}
