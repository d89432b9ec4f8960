use chrono::{DateTime, TimeZone, Utc};
use portal_domain::lifecycle::*;
use portal_domain::status::StatusCode;
use rust_decimal_macros::dec;

pub fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

pub fn ev(code: u16, minute: i64, key: &str) -> StatusEvent {
    let source = StatusCode(code)
        .info()
        .map_or(Source::Unknown, |info| Source::from(info.emitter));
    StatusEvent::status(StatusCode(code), source, at(minute), key)
}

fn fold(events: &[StatusEvent]) -> Lifecycle {
    Lifecycle::fold(events, &InvoiceFacts::new(dec!(480)))
}

fn sent_and_delivered() -> Vec<StatusEvent> {
    vec![
        ev(200, 0, "a"),
        ev(201, 1, "b"),
        ev(202, 2, "c"),
        ev(203, 3, "d"),
    ]
}

#[test]
fn nothing_yet() {
    let lifecycle = fold(&[]);
    assert_eq!(lifecycle.current, None);
    assert!(!lifecycle.is_final && !lifecycle.needs_action);
    assert_eq!(
        (
            lifecycle.delivery,
            lifecycle.tax_reporting,
            lifecycle.payment
        ),
        (Delivery::Pending, TaxReporting::Pending, Payment::Unpaid)
    );
}

#[test]
fn furthest_transmission_step() {
    assert_eq!(
        fold(&[ev(201, 5, "b"), ev(200, 9, "a")]).current,
        Some(StatusCode(201))
    );
    let lifecycle = fold(&sent_and_delivered());
    assert_eq!(lifecycle.current, Some(StatusCode(203)));
    assert_eq!(lifecycle.delivery, Delivery::Delivered);
    // A late 202 does not move back from 203.
    let mut events = sent_and_delivered();
    events.push(ev(202, 10, "late"));
    assert_eq!(fold(&events).current, Some(StatusCode(203)));
}

#[test]
fn processing_statuses_latest_wins() {
    let mut events = sent_and_delivered();
    events.extend([ev(204, 10, "e"), ev(205, 20, "f")]);
    assert_eq!(fold(&events).current, Some(StatusCode(205)));
    events.push(ev(211, 30, "g"));
    assert_eq!(fold(&events).current, Some(StatusCode(211)));
    events.push(ev(204, 40, "h"));
    assert_eq!(fold(&events).current, Some(StatusCode(204)));
}

#[test]
fn open_dispute_needs_action_until_answered() {
    let mut events = sent_and_delivered();
    events.push(
        ev(207, 10, "dispute")
            .with_reasons(["TX_TVA_ERR"])
            .with_requested_action("NIN")
            .with_comment("taux faux"),
    );
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(207)));
    assert!(lifecycle.needs_action && !lifecycle.is_final);
    assert_eq!(lifecycle.action_reasons, vec![ActionReason::OpenDispute]);
    let request = lifecycle.open_request.unwrap();
    assert_eq!(request.code, StatusCode(207));
    assert_eq!(request.since, at(10));
    assert_eq!(request.reasons, vec!["TX_TVA_ERR".to_owned()]);
    assert_eq!(request.requested_action.as_deref(), Some("NIN"));
    assert_eq!(request.comment.as_deref(), Some("taux faux"));

    // An answer *before* the dispute does not close it.
    events.push(ev(205, 5, "early-approval"));
    assert_eq!(fold(&events).current, Some(StatusCode(207)));

    // A later approval closes it.
    events.push(ev(205, 20, "approval"));
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(205)));
    assert!(!lifecycle.needs_action);
    assert!(lifecycle.open_request.is_none());
}

#[test]
fn suspension_closed_by_209_and_latest_open_request_wins() {
    let mut events = sent_and_delivered();
    events.push(ev(208, 10, "s").with_reasons(["JUSTIF_ABS"]));
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(208)));
    assert_eq!(lifecycle.action_reasons, vec![ActionReason::OpenSuspension]);
    events.push(ev(209, 20, "c2"));
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(209)));
    assert!(!lifecycle.needs_action);

    let both = vec![ev(207, 10, "x"), ev(208, 12, "y")];
    assert_eq!(fold(&both).current, Some(StatusCode(208)));
}

#[test]
fn final_rejection_earliest_wins_and_nothing_changes_it() {
    let mut events = sent_and_delivered();
    events.extend([
        ev(210, 10, "refused").with_reasons(["CONTRAT_TERM"]),
        ev(205, 20, "approved-later"),
        ev(212, 30, "p").with_amount(dec!(480)),
    ]);
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(210)));
    assert!(lifecycle.is_final && lifecycle.needs_action);
    assert_eq!(lifecycle.action_reasons, vec![ActionReason::Refused]);
    assert_eq!(lifecycle.payment, Payment::Paid);

    let rejected = vec![ev(200, 0, "a"), ev(213, 1, "r"), ev(251, 2, "t")];
    let lifecycle = fold(&rejected);
    assert_eq!(lifecycle.current, Some(StatusCode(213)));
    assert_eq!(lifecycle.delivery, Delivery::Failed);
    assert_eq!(lifecycle.tax_reporting, TaxReporting::Failed);
    assert_eq!(
        lifecycle.action_reasons,
        vec![ActionReason::Rejected, ActionReason::TaxDataRejected]
    );

    let irrecevable = fold(&[
        ev(200, 0, "a"),
        ev(501, 1, "n").with_reasons(["IRR_SYNTAX"]),
    ]);
    assert_eq!(irrecevable.current, Some(StatusCode(501)));
    assert_eq!(
        irrecevable.action_reasons,
        vec![ActionReason::NotReceivable]
    );
}

#[test]
fn duplicate_rejection_after_delivery_is_ignored() {
    let mut events = sent_and_delivered();
    events.push(ev(213, 10, "dup").with_reasons(["DOUBLON"]));
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(203)));
    assert!(!lifecycle.is_final && !lifecycle.needs_action);
    assert_eq!(lifecycle.delivery, Delivery::Delivered);
    assert_eq!(lifecycle.ignored, vec!["dup".to_owned()]);
    assert_eq!(lifecycle.timeline.len(), 5, "still in the timeline");

    // Also when the 204 is the proof of delivery, and whatever the times.
    let events = vec![
        ev(200, 0, "a"),
        ev(213, 1, "dup").with_reasons(["DOUBLON"]),
        ev(204, 5, "b"),
    ];
    assert_eq!(fold(&events).current, Some(StatusCode(204)));

    // A DOUBLON before any delivery is a real rejection, and so is another reason after delivery.
    let events = vec![ev(200, 0, "a"), ev(213, 1, "dup").with_reasons(["DOUBLON"])];
    assert_eq!(fold(&events).current, Some(StatusCode(213)));
    let mut events = sent_and_delivered();
    events.push(ev(213, 10, "r").with_reasons(["REJ_SEMAN"]));
    assert_eq!(fold(&events).current, Some(StatusCode(213)));
}

#[test]
fn cancellation_is_final_and_needs_no_action() {
    let mut events = sent_and_delivered();
    events.extend([ev(207, 10, "dispute"), ev(220, 20, "cancel")]);
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.current, Some(StatusCode(220)));
    assert!(lifecycle.is_final && lifecycle.cancelled && !lifecycle.needs_action);
    assert!(lifecycle.open_request.is_none());
}

#[test]
fn payment_from_212_amounts_and_billit_hints() {
    let mut events = sent_and_delivered();
    events.push(ev(212, 10, "p1").with_amount(dec!(100)));
    let lifecycle = fold(&events);
    assert_eq!(
        (lifecycle.payment, lifecycle.amount_paid),
        (Payment::Partial, dec!(100))
    );
    assert_eq!(lifecycle.current, Some(StatusCode(203)));
    events.push(ev(212, 20, "p2").with_amount(dec!(380)));
    let lifecycle = fold(&events);
    assert_eq!(
        (lifecycle.payment, lifecycle.amount_paid),
        (Payment::Paid, dec!(480))
    );
    assert_eq!(lifecycle.current, Some(StatusCode(212)));

    // A 212 without an amount is at least partial.
    assert_eq!(fold(&[ev(212, 1, "p")]).payment, Payment::Partial);

    // Billit's Paid / ToPay.
    let facts = InvoiceFacts {
        to_pay: Some(dec!(100)),
        ..InvoiceFacts::new(dec!(480))
    };
    let lifecycle = Lifecycle::fold(&sent_and_delivered(), &facts);
    assert_eq!(
        (lifecycle.payment, lifecycle.amount_paid),
        (Payment::Partial, dec!(380))
    );
    let facts = InvoiceFacts {
        paid: Some(true),
        ..InvoiceFacts::new(dec!(480))
    };
    assert_eq!(
        Lifecycle::fold(&sent_and_delivered(), &facts).payment,
        Payment::Paid
    );
    let facts = InvoiceFacts {
        to_pay: Some(dec!(480)),
        paid: Some(false),
        ..InvoiceFacts::new(dec!(480))
    };
    assert_eq!(
        Lifecycle::fold(&sent_and_delivered(), &facts).payment,
        Payment::Unpaid
    );
}

#[test]
fn tax_reporting_and_hints() {
    let done = StatusEvent::step(EventKind::TaxReportingDone, Source::Ppf, at(5), "ack");
    let sent = StatusEvent::step(
        EventKind::TaxDataSent,
        Source::SellerPlatform,
        at(4),
        "ffe0111a",
    );
    let lifecycle = fold(&[ev(200, 0, "a"), sent.clone(), done.clone()]);
    assert_eq!(lifecycle.tax_reporting, TaxReporting::Done);
    assert_eq!(lifecycle.current, Some(StatusCode(200)));
    assert_eq!(lifecycle.unclassified, 0);
    // A rejection wins over an earlier acknowledgement.
    assert_eq!(
        fold(&[done.clone(), ev(251, 6, "r")]).tax_reporting,
        TaxReporting::Failed
    );
    let facts = InvoiceFacts {
        tax_reporting_hint: Some(TaxReporting::Done),
        ..InvoiceFacts::default()
    };
    assert_eq!(
        Lifecycle::fold(&[], &facts).tax_reporting,
        TaxReporting::Done
    );
    let facts = InvoiceFacts {
        delivery_hint: Some(Delivery::Failed),
        ..InvoiceFacts::default()
    };
    assert_eq!(Lifecycle::fold(&[], &facts).delivery, Delivery::Failed);
}

#[test]
fn submission_failing_needs_action() {
    let facts = InvoiceFacts {
        submission_failing: true,
        ..InvoiceFacts::default()
    };
    let lifecycle = Lifecycle::fold(&[], &facts);
    assert!(lifecycle.needs_action);
    assert_eq!(
        lifecycle.action_reasons,
        vec![ActionReason::SubmissionFailing]
    );
}

#[test]
fn unclassified_and_unknown_events_are_kept() {
    let events = vec![
        ev(200, 0, "a"),
        StatusEvent::unclassified(Source::Unknown, at(1), "Something new", "u1"),
        ev(999, 2, "unknown-code"),
    ];
    let lifecycle = fold(&events);
    assert_eq!(lifecycle.timeline.len(), 3);
    assert_eq!(lifecycle.unclassified, 1);
    assert_eq!(lifecycle.current, Some(StatusCode(200)));
    assert_eq!(lifecycle.timeline[1].description, "Something new");
}

#[test]
fn duplicates_and_order_do_not_matter() {
    let mut events = sent_and_delivered();
    events.push(ev(207, 10, "dispute"));
    let reference = fold(&events);
    let mut shuffled = events.clone();
    shuffled.reverse();
    shuffled.extend(events.iter().cloned());
    assert_eq!(fold(&shuffled), reference);
    assert_eq!(reference.timeline.len(), 5);
    // Same key, different content: one of them is kept, whatever the order.
    let a = ev(205, 10, "same");
    let b = ev(207, 10, "same");
    assert_eq!(fold(&[a.clone(), b.clone()]), fold(&[b, a]));
}

#[test]
fn serializes_with_contract_names() {
    let mut events = sent_and_delivered();
    events.push(ev(207, 10, "dispute"));
    let json = serde_json::to_value(fold(&events)).unwrap();
    assert_eq!(json["current"], 207);
    assert_eq!(json["final"], false);
    assert_eq!(json["needs_action"], true);
    assert_eq!(json["open_request"]["code"], 207);
    assert_eq!(json["delivery"], "delivered");
    assert_eq!(json["tax_reporting"], "pending");
    assert_eq!(json["payment"], "unpaid");
    assert_eq!(json["timeline"][0]["source"], "seller_platform");
    assert_eq!(json["timeline"][0]["kind"], "status");
    for (source, name) in [
        (Source::Supplier, "supplier"),
        (Source::SellerPlatform, "seller_platform"),
        (Source::Ppf, "ppf"),
        (Source::BuyerPlatform, "buyer_platform"),
        (Source::Buyer, "buyer"),
        (Source::Unknown, "unknown"),
    ] {
        assert_eq!(serde_json::to_value(source).unwrap(), name);
        assert_eq!(source.as_str(), name);
    }
}

#[test]
fn a_payment_acknowledgement_is_a_212_marked_so() {
    let report = ev(212, 1, "report");
    let acknowledgement = ev(212, 2, "answer").acknowledging_payment();
    assert!(!report.is_payment_acknowledgement());
    assert!(acknowledgement.is_payment_acknowledgement());
    // A status file that says it is something else wins.
    let mut other = acknowledgement.clone();
    other.code = Some(StatusCode(500));
    assert!(!other.is_payment_acknowledgement());
    // It counts as a 212 like the report (the fold adds only the amounts).
    let facts = InvoiceFacts::new(dec!(100));
    assert_eq!(
        Lifecycle::fold(&[acknowledgement], &facts).payment,
        Lifecycle::fold(&[report], &facts).payment
    );
}

#[test]
fn the_headline_waits_since_its_first_counting_event_whatever_the_order_given() {
    let at = |day: u32| Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap();
    let events = [
        StatusEvent::status(StatusCode(251), Source::Ppf, at(20), "251-b"),
        StatusEvent::status(StatusCode(200), Source::Ppf, at(10), "200"),
        StatusEvent::status(StatusCode(251), Source::Ppf, at(14), "251-a"),
    ];
    let lifecycle = Lifecycle::fold(&events, &InvoiceFacts::default());
    assert_eq!(lifecycle.current, Some(StatusCode(251)));
    assert_eq!(lifecycle.headline_since(), Some(at(14)));
    assert_eq!(
        Lifecycle::fold(&[], &InvoiceFacts::default()).headline_since(),
        None
    );
}
