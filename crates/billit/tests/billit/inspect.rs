//! `inspect`: the contract's JSON on the fixtures, and the readable table.

use crate::support::{fixture, test_data};
use portal_billit::inspect::{InspectError, inspect_bytes, render_table};
use portal_domain::Language;
use serde_json::{Value, json};

fn inspect_json(bytes: &[u8]) -> Value {
    serde_json::to_value(inspect_bytes(bytes).unwrap()).unwrap()
}

fn check_shape(report: &Value) {
    for observation in report["observations"].as_array().unwrap() {
        let keys: Vec<&String> = observation.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "at",
                "code",
                "description",
                "file_id",
                "invoice_number",
                "label",
                "reasons",
                "source"
            ]
        );
        assert!(observation["code"].is_u64() || observation["code"].is_null());
        assert!(observation["at"].as_str().unwrap().ends_with('Z'));
        assert!(
            [
                "supplier",
                "seller_platform",
                "ppf",
                "buyer_platform",
                "buyer",
                "unknown"
            ]
            .contains(&observation["source"].as_str().unwrap())
        );
    }
    let keys: Vec<&String> = report["lifecycle"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec![
            "current",
            "delivery",
            "final",
            "needs_action",
            "open_request",
            "payment",
            "tax_reporting"
        ]
    );
}

#[test]
fn order_delivered() {
    let report = inspect_json(&fixture("billit/order-delivered.json"));
    check_shape(&report);
    assert_eq!(
        report["lifecycle"],
        json!({"current": 203, "final": false, "needs_action": false, "open_request": null,
               "delivery": "delivered", "tax_reporting": "done", "payment": "unpaid"})
    );
    let codes: Vec<Value> = report["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![
            json!(201),
            json!(200),
            json!(500),
            json!(null),
            json!(250),
            json!(null),
            json!(203),
            json!(202)
        ]
    );
    let first = &report["observations"][0];
    assert_eq!(
        first,
        &json!({"code": 201, "label": "Émise par la plateforme", "source": "seller_platform",
                "at": "2026-05-06T14:13:55.880Z", "description": "", "reasons": [],
                "file_id": "f2ac890d-e220-43d0-9f20-14a5c4ce9999",
                "invoice_number": "227010068_Simple2"})
    );
    assert_eq!(report["observations"][7]["source"], "buyer_platform");
    assert_eq!(
        report["observations"][7]["label"],
        "Reçue par la plateforme"
    );
}

#[test]
fn order_delivered_reported_partially_paid() {
    let report = inspect_json(&fixture(
        "billit/order-delivered-reported-partially-paid.json",
    ));
    check_shape(&report);
    assert_eq!(
        report["lifecycle"],
        json!({"current": 203, "final": false, "needs_action": false, "open_request": null,
               "delivery": "delivered", "tax_reporting": "done", "payment": "partial"})
    );
    let cash: Vec<&Value> = report["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["code"] == 212)
        .collect();
    assert_eq!(cash.len(), 4);
    assert!(cash.iter().all(|o| o["source"] == "supplier"));
}

#[test]
fn order_ppf_rejected() {
    let report = inspect_json(&fixture("billit/order-ppf-rejected.json"));
    check_shape(&report);
    assert_eq!(
        report["lifecycle"],
        json!({"current": 251, "final": true, "needs_action": true, "open_request": null,
               "delivery": "pending", "tax_reporting": "failed", "payment": "unpaid"})
    );
    let first = &report["observations"][0];
    assert_eq!(first["code"], 251);
    assert_eq!(first["source"], "ppf");
    assert_eq!(first["description"], "Reporting failed");
    assert_eq!(first["file_id"], Value::Null);
    assert_eq!(first["at"], "2026-05-18T11:28:20.720Z");
}

#[test]
fn webhook_refused_over_peppol() {
    let report = inspect_json(&fixture("billit/webhook-message-refused.json"));
    check_shape(&report);
    assert_eq!(report["kind"], "webhook");
    assert_eq!(report["observations"].as_array().unwrap().len(), 1);
    let observation = &report["observations"][0];
    assert_eq!(observation["code"], 210);
    assert_eq!(observation["source"], "buyer");
    assert_eq!(observation["at"], "2000-01-30T23:00:00Z");
    assert_eq!(report["lifecycle"]["current"], 210);
    assert_eq!(report["lifecycle"]["final"], true);
}

#[test]
fn webhook_with_empty_detail_lists_nothing_with_a_note() {
    let body = br#"{"UpdatedEntityID": 5, "UpdatedEntityType": "Message", "WebhookUpdateTypeTC": "I", "EntityDetail": {}}"#;
    let report = inspect_json(body);
    check_shape(&report);
    assert_eq!(report["observations"], json!([]));
    assert_eq!(report["lifecycle"]["current"], Value::Null);
    assert!(report["notes"][0].as_str().unwrap().contains("empty"));
}

#[test]
fn cdar_alone_folds_its_single_observation() {
    let report = inspect_json(&test_data("cdar-ppf-rejection-251.xml"));
    check_shape(&report);
    assert_eq!(report["kind"], "cdar");
    let observation = &report["observations"][0];
    assert_eq!(observation["code"], 251);
    assert_eq!(observation["source"], "ppf");
    assert_eq!(observation["reasons"], json!(["REJ_UNI", "REJ_SEMAN"]));
    assert_eq!(observation["at"], "2026-05-18T11:29:37Z");
    assert_eq!(
        report["lifecycle"],
        json!({"current": 251, "final": true, "needs_action": true, "open_request": null,
               "delivery": "pending", "tax_reporting": "failed", "payment": "unpaid"})
    );

    let dispute = inspect_json(&fixture("cdar/UC4_F202500006_04-CDV-207_En_litige.xml"));
    assert_eq!(dispute["observations"][0]["code"], 207);
    assert_eq!(dispute["observations"][0]["source"], "buyer");
    assert_eq!(dispute["observations"][0]["reasons"], json!(["TX_TVA_ERR"]));
    assert_eq!(dispute["lifecycle"]["open_request"], 207);
    assert_eq!(dispute["lifecycle"]["needs_action"], true);
}

#[test]
fn table_is_readable_in_both_languages() {
    let report = inspect_bytes(&fixture("billit/order-ppf-rejected.json")).unwrap();
    let fr = render_table(&report, Language::Fr);
    assert!(
        fr.contains("Statut actuel : 251 Rejetée (données fiscales)"),
        "{fr}"
    );
    assert!(fr.contains("Déclaration fiscale : échec"));
    let en = render_table(&report, Language::En);
    assert!(
        en.contains("Current status : 251 Tax data rejected"),
        "{en}"
    );
    assert!(en.contains("Reporting failed"));
    let cdar = inspect_bytes(&test_data("cdar-ppf-rejection-251.xml")).unwrap();
    assert!(render_table(&cdar, Language::En).contains("REJ_UNI (Not unique)"));
}

#[test]
fn unreadable_input_is_a_one_line_error() {
    for (bytes, expected) in [
        (&b""[..], "empty"),
        (b"   \n", "empty"),
        (b"hello", "neither JSON nor XML"),
        (b"{\"a\": 1}", "neither a Billit order"),
        (b"[1, 2]", "neither JSON nor XML"),
        (b"{\"OrderID\": ", "invalid JSON"),
        (b"<html></html>", "not a CDAR"),
    ] {
        let error: InspectError = inspect_bytes(bytes).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains('\n'));
    }
}

#[test]
#[ignore = "prints the table for a human to look at"]
fn show_table() {
    let report = inspect_bytes(&fixture(
        "billit/order-delivered-reported-partially-paid.json",
    ))
    .unwrap();
    println!("{}", render_table(&report, Language::Fr));
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

#[test]
fn a_cdar_for_two_invoices_reads_as_two_observations_with_their_numbers() {
    let report = inspect_json(&crate::support::two_invoice_cdar());
    check_shape(&report);
    assert_eq!(report["kind"], "cdar");
    let observations = report["observations"].as_array().unwrap();
    assert_eq!(observations.len(), 2);
    let by_number = |number: &str| {
        observations
            .iter()
            .find(|observation| observation["invoice_number"] == number)
            .unwrap_or_else(|| panic!("no observation for {number}"))
    };
    assert_eq!(by_number("F202500006")["code"], 207);
    assert_eq!(by_number("F202500006")["reasons"], json!(["TX_TVA_ERR"]));
    assert_eq!(by_number("F202500099")["code"], 205);
    assert_eq!(by_number("F202500099")["label"], "Approuvée");
    assert_eq!(by_number("F202500099")["reasons"], json!([]));
}
