use portal_domain::Localized;
use portal_domain::money::*;
use rust_decimal_macros::dec;

fn line(quantity: &str, price: &str, rate: VatRate) -> LineAmounts {
    LineAmounts {
        quantity: Quantity::parse(quantity).unwrap(),
        unit_price: UnitPrice::parse(price).unwrap(),
        vat_rate: rate,
        exemption: None,
    }
}

#[test]
fn billit_fixture_totals_400_at_20_percent() {
    let totals = compute_totals([line("1", "400", VatRate::STANDARD)]).unwrap();
    assert_eq!(totals.total_excl.value(), dec!(400.00));
    assert_eq!(totals.total_vat.value(), dec!(80.00));
    assert_eq!(totals.total_incl.value(), dec!(480.00));
    assert_eq!(totals.total_incl.to_string(), "480.00");
    assert_eq!(totals.vat_groups.len(), 1);
    assert_eq!(totals.vat_groups[0].base.value(), dec!(400));
    assert_eq!(totals.vat_groups[0].category, VatCategory::Standard);
}

#[test]
fn vat_is_rounded_per_group_not_per_line() {
    // Three lines of 0.10 at 5.5 %: per line 0.0055 -> 0.01 each (0.03); per group 0.30 -> 0.0165 -> 0.02.
    let lines = vec![line("1", "0.10", VatRate::REDUCED); 3];
    let totals = compute_totals(lines).unwrap();
    assert_eq!(totals.total_vat.value(), dec!(0.02));
    assert_eq!(totals.total_incl.value(), dec!(0.32));
}

#[test]
fn line_net_is_rounded_half_up_to_cents() {
    assert_eq!(
        line("3", "0.335", VatRate::STANDARD).net().value(),
        dec!(1.01)
    ); // 1.005 -> 1.01
    assert_eq!(
        line("1.5", "0.00333", VatRate::STANDARD).net().value(),
        dec!(0.00)
    ); // 0.004995
    assert_eq!(
        line("2.12345", "10.12345", VatRate::STANDARD).net().value(),
        dec!(21.50)
    ); // 21.4969...
    // PPF fixture: 1.01 at 20 % -> 0.202 -> 0.20.
    let totals = compute_totals([line("1", "1.01", VatRate::STANDARD)]).unwrap();
    assert_eq!(totals.total_vat.value(), dec!(0.20));
    assert_eq!(totals.total_incl.value(), dec!(1.21));
}

#[test]
fn groups_are_split_by_rate_and_exemption_highest_rate_first() {
    let mut exempt = line("1", "50", VatRate::ZERO);
    exempt.exemption = Some(ExemptionReason::FranchiseEnBase);
    let lines = [
        line("2", "10", VatRate::REDUCED),
        line("1", "100", VatRate::STANDARD),
        exempt,
        line("1", "1", VatRate::REDUCED),
    ];
    let totals = compute_totals(lines).unwrap();
    let rates: Vec<_> = totals.vat_groups.iter().map(|group| group.rate).collect();
    assert_eq!(
        rates,
        vec![VatRate::STANDARD, VatRate::REDUCED, VatRate::ZERO]
    );
    assert_eq!(totals.vat_groups[1].base.value(), dec!(21));
    assert_eq!(totals.vat_groups[1].vat.value(), dec!(1.16)); // 1.155 -> 1.16
    assert_eq!(totals.vat_groups[2].category, VatCategory::Exempt);
    assert_eq!(totals.vat_groups[2].vat.value(), dec!(0));
    assert_eq!(totals.total_excl.value(), dec!(171));
    assert_eq!(totals.total_incl.value(), dec!(192.16));
    assert_eq!(totals.lines.len(), 4);
}

#[test]
fn quantities_and_prices_accept_five_decimals_amounts_two() {
    assert!(Quantity::parse("1.12345").is_ok());
    assert_eq!(
        Quantity::parse("1.123456"),
        Err(MoneyError::TooManyDecimals { max: 5 })
    );
    assert!(UnitPrice::parse("0.00001").is_ok());
    assert!(UnitPrice::parse("0.000001").is_err());
    assert_eq!(Amount::parse("12.5").unwrap().to_string(), "12.50");
    assert_eq!(
        Amount::parse("12.345"),
        Err(MoneyError::TooManyDecimals { max: 2 })
    );
    assert_eq!(Amount::parse("1.50000").unwrap().value(), dec!(1.5)); // trailing zeros are fine
}

#[test]
fn french_number_formats_are_accepted() {
    assert_eq!(Amount::parse("1 234,56").unwrap().value(), dec!(1234.56));
    assert_eq!(UnitPrice::parse(" 19,99 ").unwrap().value(), dec!(19.99));
    assert_eq!(VatRate::parse("5,5 %").unwrap(), VatRate::REDUCED);
    assert!(Amount::parse("1,234.56").is_err());
    assert!(Amount::parse("1e3").is_err());
    assert!(Amount::parse("abc").is_err());
    assert_eq!(Amount::parse("  "), Err(MoneyError::Empty));
}

#[test]
fn negative_and_zero_values_are_refused() {
    assert_eq!(Quantity::parse("-1"), Err(MoneyError::Negative));
    assert_eq!(Quantity::parse("0"), Err(MoneyError::Zero));
    assert_eq!(UnitPrice::parse("-0.01"), Err(MoneyError::Negative));
    assert!(UnitPrice::parse("0").is_ok());
    assert_eq!(Amount::parse("-5"), Err(MoneyError::Negative));
    assert!(Quantity::parse("1000000001").is_err());
    assert!(UnitPrice::parse("1000000000").is_ok());
}

#[test]
fn vat_rates_and_sets() {
    for rate in ["20", "10", "5.5", "2.1", "0"] {
        assert!(
            VatRateSet::Mainland.allows(VatRate::parse(rate).unwrap()),
            "{rate}"
        );
    }
    for rate in ["8.5", "13", "0.9", "1.05", "1.75"] {
        let rate = VatRate::parse(rate).unwrap();
        assert!(!VatRateSet::Mainland.allows(rate));
        assert!(VatRateSet::CorsicaAndOverseas.allows(rate));
    }
    assert!(!VatRateSet::Mainland.allows(VatRate::parse("19.6").unwrap()));
    assert_eq!(VatRate::parse("101"), Err(MoneyError::RateOutOfRange));
    assert_eq!(VatRate::parse("20.00").unwrap(), VatRate::STANDARD);
    assert_eq!(VatRate::parse("5.50").unwrap().to_string(), "5.5");
}

#[test]
fn exemption_reasons_have_codes_and_mentions() {
    for reason in ExemptionReason::ALL {
        assert_eq!(
            ExemptionReason::from_vatex(reason.vatex_code()),
            Some(reason)
        );
        assert!(!reason.mention_fr().is_empty() && !reason.mention_en().is_empty());
        assert_ne!(reason.category(), VatCategory::Standard);
    }
    assert_eq!(ExemptionReason::ReverseCharge.category().code(), "AE");
}

#[test]
fn currency_defaults_to_euro() {
    assert_eq!(Currency::default().code(), "EUR");
    assert_eq!(Currency::parse("usd").unwrap().code(), "USD");
    assert!(Currency::parse("EURO").is_err());
    assert!(Currency::parse("€").is_err());
}

#[test]
fn errors_speak_french_and_english() {
    let error = MoneyError::TooManyDecimals { max: 2 };
    assert_eq!(error.message_en(), "at most 2 decimals are allowed");
    assert_eq!(error.message_fr(), "au plus 2 décimales sont permises");
    assert_eq!(error.to_string(), error.message_en());
}

#[test]
fn amounts_serialize_as_strings() {
    let amount = Amount::parse("480").unwrap();
    assert_eq!(serde_json::to_string(&amount).unwrap(), "\"480.00\"");
    let back: Amount = serde_json::from_str("\"480.00\"").unwrap();
    assert_eq!(back, amount);
    assert!(serde_json::from_str::<Amount>("\"1.234\"").is_err());
}
