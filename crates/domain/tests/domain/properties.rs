use crate::lifecycle::{at, ev};
use portal_domain::identifiers::*;
use portal_domain::invoice::{
    BuyerDraft, InvoiceDraft, LineDraft, UniquenessKey, check_before_submission,
};
use portal_domain::lifecycle::{EventKind, History, InvoiceFacts, Lifecycle, Source, StatusEvent};
use portal_domain::money::*;
use portal_domain::status::{RequestedAction, StatusCode, reason_allowed};
use portal_domain::{Language, Localized};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|candidate| luhn_valid(candidate))
        .unwrap()
}

fn digits(count: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, count)
        .prop_map(|ds| ds.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn valid_siren() -> impl Strategy<Value = String> {
    digits(8)
        .prop_map(|prefix| luhn_complete(&prefix))
        .prop_filter("not La Poste", |s| s != LA_POSTE_SIREN)
}

fn valid_siret() -> impl Strategy<Value = String> {
    (valid_siren(), digits(4)).prop_map(|(siren, nic)| luhn_complete(&format!("{siren}{nic}")))
}

fn french_iban() -> impl Strategy<Value = String> {
    digits(23).prop_map(|bban| {
        // FR = 15 27; check digits = 98 - (BBAN + "FR00") mod 97.
        let numeric = format!("{bban}152700");
        let remainder = numeric
            .bytes()
            .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
        format!("FR{:02}{bban}", 98 - remainder)
    })
}

/// Changes the digit at `position` (modulo the count of digits) by `delta` (1..=9).
fn change_digit(text: &str, position: usize, delta: u8) -> String {
    let digit_positions: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let index = digit_positions[position % digit_positions.len()];
    let mut bytes = text.as_bytes().to_vec();
    bytes[index] = b'0' + (bytes[index] - b'0' + delta) % 10;
    String::from_utf8(bytes).unwrap()
}

fn event_strategy() -> impl Strategy<Value = StatusEvent> {
    let codes = prop::sample::select(vec![
        200u16, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 220, 221, 250,
        251, 500, 501, 999,
    ]);
    (
        codes,
        0i64..50,
        prop::bool::weighted(0.3),
        0u8..6,
        prop::option::of(0u32..500),
    )
        .prop_map(|(code, minute, doublon, kind, amount)| {
            let key = format!("{code}-{minute}-{doublon}-{kind}-{amount:?}");
            let mut event = match kind {
                0 => StatusEvent::step(EventKind::TaxReportingDone, Source::Ppf, at(minute), key),
                1 => StatusEvent::unclassified(Source::Unknown, at(minute), "??", key),
                _ => ev(code, minute, &key),
            };
            if doublon {
                event = event.with_reasons(["DOUBLON"]);
            }
            if let Some(amount) = amount {
                event = event.with_amount(Decimal::from(amount));
            }
            event
        })
}

fn facts_strategy() -> impl Strategy<Value = InvoiceFacts> {
    (
        0u32..1000,
        prop::option::of(any::<bool>()),
        prop::option::of(0u32..1000),
        any::<bool>(),
    )
        .prop_map(|(total, paid, to_pay, failing)| InvoiceFacts {
            total_incl: Decimal::from(total),
            paid,
            to_pay: to_pay.map(Decimal::from),
            submission_failing: failing,
            ..InvoiceFacts::default()
        })
}

proptest! {
    #[test]
    fn valid_sirens_parse_and_any_digit_change_fails(siren in valid_siren(), position in 0usize..9, delta in 1u8..10) {
        prop_assert!(Siren::parse(&siren).is_ok());
        prop_assert!(Siren::parse(&change_digit(&siren, position, delta)).is_err());
    }

    #[test]
    fn valid_sirets_parse_and_any_digit_change_fails(siret in valid_siret(), position in 0usize..14, delta in 1u8..10) {
        let parsed = Siret::parse(&siret).unwrap();
        prop_assert_eq!(parsed.to_string(), siret.clone());
        prop_assert!(Siret::parse(&change_digit(&siret, position, delta)).is_err());
    }

    #[test]
    fn vat_numbers_derive_parse_and_any_digit_change_fails(siren in valid_siren(), position in 0usize..11, delta in 1u8..10) {
        let vat = VatNumber::from_siren(Siren::parse(&siren).unwrap()).to_string();
        prop_assert_eq!(VatNumber::parse(&vat).unwrap().siren().to_string(), siren);
        prop_assert!(VatNumber::parse(&change_digit(&vat, position, delta)).is_err());
    }

    #[test]
    fn valid_ibans_parse_and_any_digit_change_fails(iban in french_iban(), position in 0usize..25, delta in 1u8..10) {
        prop_assert!(Iban::parse(&iban).is_ok());
        prop_assert!(Iban::parse(&change_digit(&iban, position, delta)).is_err());
    }

    #[test]
    fn fold_ignores_order_and_duplicates(
        (events, shuffled) in proptest::collection::vec(event_strategy(), 0..12)
            .prop_flat_map(|events| (Just(events.clone()), Just(events).prop_shuffle())),
        repeats in proptest::collection::vec(0usize..12, 0..6),
        facts in facts_strategy(),
    ) {
        let reference = Lifecycle::fold(&events, &facts);
        prop_assert_eq!(&Lifecycle::fold(&shuffled, &facts), &reference);
        let mut duplicated = shuffled.clone();
        if !events.is_empty() {
            for index in repeats {
                duplicated.push(events[index % events.len()].clone());
            }
        }
        prop_assert_eq!(&Lifecycle::fold(&duplicated, &facts), &reference);
        // The timeline is sorted and holds each distinct event once.
        prop_assert!(reference.timeline.windows(2).all(|pair| (pair[0].at, &pair[0].dedup_key) < (pair[1].at, &pair[1].dedup_key)));
        prop_assert_eq!(reference.needs_action, !reference.action_reasons.is_empty());
    }

    #[test]
    fn the_history_a_page_reads_agrees_with_the_fold(
        events in proptest::collection::vec(event_strategy(), 0..12),
        facts in facts_strategy(),
        delivered in any::<bool>(),
    ) {
        let facts = InvoiceFacts {
            delivery_hint: delivered.then_some(portal_domain::lifecycle::Delivery::Delivered),
            ..facts
        };
        let fold = Lifecycle::fold(&events, &facts);
        let history = History::read(&events, &facts);
        prop_assert_eq!(&history.ignored, &fold.ignored);
        prop_assert_eq!(&history.open_request, &fold.open_request);
        let decision = fold.timeline.iter().rev().find_map(|event| {
            event.effective_code().filter(|code| (204..=210).contains(&code.0)).map(|code| (code, event.at))
        });
        prop_assert_eq!(history.decision, decision);
    }

    #[test]
    fn totals_equal_the_sum_of_groups(
        lines in proptest::collection::vec(
            (1u64..100_000_000, 0u32..6, 0u64..10_000_000_000, 0u32..6, 0usize..10),
            0..20,
        )
    ) {
        let rates = VatRateSet::CorsicaAndOverseas.rates();
        let lines: Vec<LineAmounts> = lines.into_iter().map(|(q, qs, p, ps, r)| {
            let rate = rates[r % rates.len()];
            LineAmounts {
                quantity: Quantity::new(Decimal::new(i64::try_from(q).unwrap(), qs.min(5))).unwrap(),
                unit_price: UnitPrice::new(Decimal::new(i64::try_from(p).unwrap(), ps.min(5)).min(Decimal::from(1_000_000_000))).unwrap(),
                vat_rate: rate,
                exemption: rate.is_zero().then_some(ExemptionReason::Export),
            }
        }).collect();
        let totals = compute_totals(lines.clone()).unwrap();
        let sum = |values: Vec<Amount>| values.into_iter().map(Amount::value).sum::<Decimal>();
        prop_assert_eq!(totals.total_excl.value(), sum(totals.lines.clone()));
        prop_assert_eq!(totals.total_excl.value(), sum(totals.vat_groups.iter().map(|g| g.base).collect()));
        prop_assert_eq!(totals.total_vat.value(), sum(totals.vat_groups.iter().map(|g| g.vat).collect()));
        prop_assert_eq!(totals.total_incl.value(), totals.total_excl.value() + totals.total_vat.value());
        for (line, net) in lines.iter().zip(&totals.lines) {
            prop_assert_eq!(*net, line.net());
            prop_assert!((net.value() - line.quantity.value() * line.unit_price.value()).abs() <= Decimal::new(5, 3));
        }
        for group in &totals.vat_groups {
            prop_assert_eq!(group.vat.value(), round_to_cents(group.base.value() * group.rate.value() / Decimal::ONE_HUNDRED));
        }
    }

    #[test]
    fn no_parser_panics_on_any_text(text in any::<String>()) {
        let _ = Siren::parse(&text).map_err(|e| e.message_fr());
        let _ = Siret::parse(&text).map_err(|e| e.message_fr());
        let _ = VatNumber::parse(&text).map_err(|e| e.message_fr());
        let _ = Iban::parse(&text).map(|iban| iban.formatted()).map_err(|e| e.message_fr());
        let _ = Bic::parse(&text).map_err(|e| e.message_fr());
        let _ = Email::parse(&text).map_err(|e| e.message_fr());
        let _ = InvoiceNumber::parse(&text).map_err(|e| e.message_fr());
        let _ = ElectronicAddress::parse(&text).map(|a| (a.value(), a.siren())).map_err(|e| e.message_fr());
        let _ = ElectronicAddress::parse(&format!("0225:{text}"));
        let _ = CtcAddress::parse(&text);
        let _ = Amount::parse(&text).map_err(|e| e.message(Language::Fr));
        let _ = Quantity::parse(&text);
        let _ = UnitPrice::parse(&text);
        let _ = VatRate::parse(&text);
        let _ = Currency::parse(&text);
        let _ = parse_decimal(&text);
        let _ = StatusCode::parse(&text);
        let _ = StatusCode::from_label(&text);
        let _ = Language::parse(&text);
        let _ = RequestedAction::parse(&text);
        let _ = reason_allowed(StatusCode(207), &text);
        let _ = ExemptionReason::from_vatex(&text);
    }

    #[test]
    fn no_parser_panics_on_numeric_looking_text(text in "[-+ 0-9.,_eE%]{0,60}") {
        let _ = Amount::parse(&text);
        let _ = Quantity::parse(&text);
        let _ = UnitPrice::parse(&text);
        let _ = VatRate::parse(&text);
        let _ = Siret::parse(&text);
        let _ = Iban::parse(&format!("FR76{text}"));
    }

    #[test]
    fn the_check_never_panics(
        number in any::<String>(), siren in any::<String>(), vat in any::<String>(), address in any::<String>(),
        quantity in "[-0-9.,]{0,30}", price in "[-0-9.,]{0,30}", rate in "[-0-9.,%]{0,8}", email in any::<String>(),
    ) {
        let draft = InvoiceDraft {
            number,
            seller_siren: Siren::parse("732829320").ok(),
            buyer: BuyerDraft { legal_name: "x".into(), siren, vat_number: vat, electronic_address: address, contact_emails: vec![email], ..BuyerDraft::default() },
            lines: vec![LineDraft { description: "x".into(), quantity, unit_price: price, vat_rate: rate, ..LineDraft::default() }],
            ..InvoiceDraft::default()
        };
        let _ = check_before_submission(&draft, &|_: &UniquenessKey| false);
    }
}
