//! The three Billit orders of `fixtures/billit/` (copied from `shared/fixtures`), their events hand-encoded per the
//! signal table of the domain guide (the Billit crate will feed them through the real classifier).

use chrono::{DateTime, NaiveDateTime, Utc};
use portal_domain::lifecycle::*;
use portal_domain::money::{LineAmounts, Quantity, UnitPrice, VatRate, compute_totals};
use portal_domain::status::StatusCode;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::path::PathBuf;
use std::str::FromStr;

/// Billit's `CreationDate` has no time zone; read as UTC.
fn t(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

fn status(code: u16, source: Source, at: &str, description: &str) -> StatusEvent {
    StatusEvent::status(
        StatusCode(code),
        source,
        t(at),
        format!("{at}/{description}"),
    )
    .with_description(description)
}

fn step(kind: EventKind, source: Source, at: &str, description: &str) -> StatusEvent {
    StatusEvent::step(kind, source, t(at), format!("{at}/{description}"))
        .with_description(description)
}

fn fixture(name: &str) -> Option<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/billit")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("fixture {}: {error}", path.display()));
    Some(serde_json::from_str(&text).unwrap())
}

fn decimal(value: &serde_json::Value) -> Decimal {
    Decimal::from_str(&value.to_string()).unwrap()
}

/// Recomputes the order's totals from its lines and compares with Billit's VatGroups and totals.
fn check_totals(order: &serde_json::Value) {
    let lines = order["OrderLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| LineAmounts {
            quantity: Quantity::new(decimal(&line["Quantity"])).unwrap(),
            unit_price: UnitPrice::new(decimal(&line["UnitPriceExcl"])).unwrap(),
            vat_rate: VatRate::new(decimal(&line["VATPercentage"])).unwrap(),
            exemption: None,
        });
    let totals = compute_totals(lines).unwrap();
    let groups = order["VatGroups"].as_array().unwrap();
    assert_eq!(totals.vat_groups.len(), groups.len());
    for (group, billit) in totals.vat_groups.iter().zip(groups) {
        assert_eq!(group.rate.value(), decimal(&billit["VATPercentage"]));
        assert_eq!(group.base.value(), decimal(&billit["TotalExcl"]));
        assert_eq!(group.vat.value(), decimal(&billit["TotalVAT"]));
        assert_eq!(group.total_incl().value(), decimal(&billit["TotalIncl"]));
    }
    assert_eq!(totals.total_excl.value(), decimal(&order["TotalExcl"]));
    assert_eq!(totals.total_vat.value(), decimal(&order["TotalVAT"]));
    assert_eq!(totals.total_incl.value(), decimal(&order["TotalIncl"]));
}

fn facts_from(order: Option<&serde_json::Value>, fallback: InvoiceFacts) -> InvoiceFacts {
    let Some(order) = order else { return fallback };
    check_totals(order);
    let facts = InvoiceFacts {
        total_incl: decimal(&order["TotalIncl"]),
        paid: order["Paid"].as_bool(),
        to_pay: Some(decimal(&order["ToPay"])),
        delivery_hint: match order["CurrentDocumentDeliveryDetails"]["DocumentDeliveryStatus"]
            .as_str()
        {
            Some("Delivered") => Some(Delivery::Delivered),
            Some("Error") => Some(Delivery::Failed),
            Some(_) => Some(Delivery::Pending),
            None => None,
        },
        tax_reporting_hint: match order["TaxReportingStatusTC"].as_str() {
            Some("Done") => Some(TaxReporting::Done),
            Some("Failed") => Some(TaxReporting::Failed),
            _ => None,
        },
        submission_failing: false,
    };
    assert_eq!(facts, fallback, "hand-encoded facts match the fixture");
    facts
}

struct Case {
    name: &'static str,
    events: Vec<StatusEvent>,
    facts: InvoiceFacts,
    current: u16,
    is_final: bool,
    needs_action: bool,
    delivery: Delivery,
    tax_reporting: TaxReporting,
    payment: Payment,
}

fn cases() -> Vec<Case> {
    use EventKind::{TaxDataSent, TaxReportingDone};
    use Source::{BuyerPlatform, Ppf, SellerPlatform, Supplier};
    vec![
        Case {
            name: "order-delivered.json",
            events: vec![
                status(201, SellerPlatform, "2026-05-06T16:13:55.88", ""),
                status(200, SellerPlatform, "2026-05-06T16:15:11.237", "FFE0614A"),
                status(500, Ppf, "2026-05-06T16:20:17.083", "CFE0614A"),
                step(
                    TaxDataSent,
                    SellerPlatform,
                    "2026-05-06T16:20:51.223",
                    "FFE0111A",
                ),
                status(250, Ppf, "2026-05-06T16:25:07.617", "CFE0111A"),
                step(TaxReportingDone, Ppf, "2026-05-06T16:55:45.533", "ack"),
                status(
                    203,
                    BuyerPlatform,
                    "2026-05-06T17:00:44.203",
                    "DocumentDeliveryStatus: Delivered",
                ),
                status(
                    202,
                    BuyerPlatform,
                    "2026-05-06T17:11:58.147",
                    "AB: The document has been successfully received.",
                ),
            ],
            facts: InvoiceFacts {
                total_incl: dec!(480),
                paid: Some(false),
                to_pay: Some(dec!(480)),
                delivery_hint: Some(Delivery::Delivered),
                tax_reporting_hint: None,
                submission_failing: false,
            },
            current: 203,
            is_final: false,
            needs_action: false,
            delivery: Delivery::Delivered,
            tax_reporting: TaxReporting::Done,
            payment: Payment::Unpaid,
        },
        Case {
            name: "order-delivered-reported-partially-paid.json",
            events: vec![
                status(201, SellerPlatform, "2026-06-02T11:29:02.493", ""),
                status(200, SellerPlatform, "2026-06-02T11:30:22.713", "Submitted"),
                status(500, Ppf, "2026-06-02T11:31:11.01", "Submitted: Recevable"),
                step(
                    TaxDataSent,
                    SellerPlatform,
                    "2026-06-02T11:31:28.23",
                    "Document data",
                ),
                status(250, Ppf, "2026-06-02T11:32:08.823", "Flux1: Recevable"),
                step(TaxReportingDone, Ppf, "2026-06-02T12:33:45.8", "Accepted"),
                status(
                    203,
                    BuyerPlatform,
                    "2026-06-02T13:00:39.05",
                    "DocumentDeliveryStatus: Delivered",
                ),
                status(
                    202,
                    BuyerPlatform,
                    "2026-06-02T13:11:48.697",
                    "AB: The document has been successfully received.",
                ),
                status(212, Supplier, "2026-06-05T13:45:14.687", "CashCollected"),
                status(212, Supplier, "2026-06-05T13:54:15.19", "CashCollected"),
                status(
                    212,
                    Supplier,
                    "2026-06-05T14:04:15.417",
                    "CashCollected: Recevable",
                ),
                status(
                    212,
                    Supplier,
                    "2026-06-05T14:37:16.48",
                    "CashCollected: Recevable",
                ),
            ],
            facts: InvoiceFacts {
                total_incl: dec!(480),
                paid: Some(false),
                to_pay: Some(dec!(100)),
                delivery_hint: Some(Delivery::Delivered),
                tax_reporting_hint: Some(TaxReporting::Done),
                submission_failing: false,
            },
            current: 203,
            is_final: false,
            needs_action: false,
            delivery: Delivery::Delivered,
            tax_reporting: TaxReporting::Done,
            payment: Payment::Partial,
        },
        Case {
            name: "order-ppf-rejected.json",
            events: vec![
                status(251, Ppf, "2026-05-18T13:28:20.72", "Reporting failed"),
                status(200, SellerPlatform, "2026-05-18T13:29:33.07", "FFE0614A"),
                status(500, Ppf, "2026-05-18T13:29:34.07", "CFE0614A"),
                step(
                    TaxDataSent,
                    SellerPlatform,
                    "2026-05-18T13:29:35.07",
                    "FFE0111A",
                ),
                status(250, Ppf, "2026-05-18T13:29:36.07", "CFE0111A"),
                step(TaxReportingDone, Ppf, "2026-05-18T13:29:37.07", "ack"),
                status(
                    251,
                    Ppf,
                    "2026-05-18T13:29:32.977",
                    "TaxReportingStatusTC: Failed",
                ),
            ],
            facts: InvoiceFacts {
                total_incl: dec!(1.21),
                paid: Some(false),
                to_pay: Some(dec!(1.21)),
                delivery_hint: Some(Delivery::Pending),
                tax_reporting_hint: Some(TaxReporting::Failed),
                submission_failing: false,
            },
            current: 251,
            is_final: true,
            needs_action: true,
            delivery: Delivery::Pending,
            tax_reporting: TaxReporting::Failed,
            payment: Payment::Unpaid,
        },
    ]
}

#[test]
fn billit_fixtures_fold_to_the_expected_lifecycles() {
    for case in cases() {
        let order = fixture(case.name);
        let facts = facts_from(order.as_ref(), case.facts.clone());
        let lifecycle = Lifecycle::fold(&case.events, &facts);
        let name = case.name;
        assert_eq!(lifecycle.current, Some(StatusCode(case.current)), "{name}");
        assert_eq!(lifecycle.is_final, case.is_final, "{name}");
        assert_eq!(lifecycle.needs_action, case.needs_action, "{name}");
        assert_eq!(lifecycle.delivery, case.delivery, "{name}");
        assert_eq!(lifecycle.tax_reporting, case.tax_reporting, "{name}");
        assert_eq!(lifecycle.payment, case.payment, "{name}");
        assert_eq!(lifecycle.timeline.len(), case.events.len(), "{name}");
        assert!(lifecycle.open_request.is_none(), "{name}");
        if let Some(order) = &order {
            assert_eq!(
                lifecycle.timeline.len(),
                order["Messages"].as_array().unwrap().len() + 1,
                "{name}: one event per message plus the order's status"
            );
        }
        // Without Billit's hints the events alone give the same headline.
        let bare = Lifecycle::fold(&case.events, &InvoiceFacts::new(facts.total_incl));
        assert_eq!(bare.current, lifecycle.current, "{name}");
    }
}

#[test]
fn partially_paid_fixture_reports_the_amount_paid() {
    let case = cases().into_iter().nth(1).unwrap();
    let lifecycle = Lifecycle::fold(&case.events, &case.facts);
    assert_eq!(lifecycle.amount_paid, dec!(380));
}

#[test]
fn ppf_rejected_fixture_needs_a_fix() {
    let case = cases().into_iter().nth(2).unwrap();
    let lifecycle = Lifecycle::fold(&case.events, &case.facts);
    assert_eq!(
        lifecycle.action_reasons,
        vec![ActionReason::TaxDataRejected]
    );
}
