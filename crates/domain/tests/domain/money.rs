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

#[test]
fn line_net_rounds_a_midpoint_away_from_zero_not_to_even() {
    let net = line_net(
        Quantity::parse("3").unwrap(),
        UnitPrice::parse("0.335").unwrap(),
    );
    // 1.005 -> 1.01; banker's rounding (`Decimal::round_dp`, `Decimal::round`) would give 1.00.
    assert_eq!(net.value(), dec!(1.01));
    assert_eq!(dec!(1.005).round_dp(2), dec!(1.00));
    assert_eq!(round_to_cents(dec!(1.005)), dec!(1.01));
    assert_eq!(round_to_cents(dec!(1.0049999)), dec!(1.00));
    // `LineAmounts::net` is the same function.
    assert_eq!(line("3", "0.335", VatRate::STANDARD).net(), net);
}

#[test]
fn totals_add_up_the_rounded_line_nets() {
    // Three lines of 1 × 0.335 (each 0.335 -> 0.34) are 1.02, not round(1.005) = 1.01: the total excl. VAT is
    // the sum of the nets as printed, so the page's lines always add up to its total.
    let lines = vec![line("1", "0.335", VatRate::STANDARD); 3];
    let totals = compute_totals(lines.clone()).unwrap();
    let nets: Vec<Amount> = lines.iter().map(LineAmounts::net).collect();
    assert_eq!(totals.lines, nets);
    assert!(nets.iter().all(|net| net.value() == dec!(0.34)));
    assert_eq!(totals.total_excl.value(), dec!(1.02));
    assert_eq!(totals.vat_groups[0].base.value(), dec!(1.02));
    // VAT once on the group's base: 1.02 × 20 % = 0.204 -> 0.20 (per line it would be 3 × 0.07 = 0.21).
    assert_eq!(totals.total_vat.value(), dec!(0.20));
    assert_eq!(totals.total_incl.value(), dec!(1.22));
    // One line of 3 × 0.335 is 1.01: the same goods written differently round differently, as the standard
    // wants (each BT-131 is rounded).
    let single = compute_totals([line("3", "0.335", VatRate::STANDARD)]).unwrap();
    assert_eq!(single.total_excl.value(), dec!(1.01));
    // Two half-cent lines: 0.01 + 0.01, where the exact sum 0.010 would round to 0.01.
    let halves = compute_totals(vec![line("1", "0.005", VatRate::STANDARD); 2]).unwrap();
    assert_eq!(halves.total_excl.value(), dec!(0.02));
}

#[test]
fn totals_are_always_the_sum_of_the_line_nets_and_of_the_groups() {
    let lines = [
        line("3", "0.335", VatRate::STANDARD),
        line("1.5", "19.99999", VatRate::REDUCED),
        line("2.12345", "10.12345", VatRate::STANDARD),
        line("7", "0.00333", VatRate::INTERMEDIATE),
    ];
    let totals = compute_totals(lines).unwrap();
    let sum_of_nets: rust_decimal::Decimal = lines.iter().map(|line| line.net().value()).sum();
    assert_eq!(totals.total_excl.value(), sum_of_nets);
    let sum_of_bases: rust_decimal::Decimal = totals
        .vat_groups
        .iter()
        .map(|group| group.base.value())
        .sum();
    assert_eq!(sum_of_bases, sum_of_nets);
    for group in &totals.vat_groups {
        let base: rust_decimal::Decimal = lines
            .iter()
            .filter(|line| line.vat_rate == group.rate)
            .map(|line| line.net().value())
            .sum();
        assert_eq!(group.base.value(), base);
        assert_eq!(Some(group.vat), group.rate.vat_on(group.base));
    }
}

#[test]
fn amounts_convert_to_cents_exactly() {
    assert_eq!(Amount::parse("1234.56").unwrap().cents(), 123_456);
    assert_eq!(Amount::parse("12").unwrap().cents(), 1_200);
    assert_eq!(Amount::ZERO.cents(), 0);
    assert_eq!(Amount::from_cents(99).unwrap().cents(), 99);
    // Beyond i64::MAX cents (about 92 million billion euros): saturates.
    assert_eq!(
        Amount::parse("92233720368547758.07").unwrap().cents(),
        i64::MAX
    );
    assert_eq!(
        Amount::parse("1000000000000000000").unwrap().cents(),
        i64::MAX
    );
}

#[test]
fn any_decimal_converts_to_cents_half_away_from_zero_saturating() {
    assert_eq!(cents_of(dec!(480)), 48_000);
    assert_eq!(cents_of(dec!(1.005)), 101);
    assert_eq!(cents_of(dec!(1.015)), 102);
    assert_eq!(cents_of(dec!(0.125)), 13); // banker's would give 12
    assert_eq!(cents_of(dec!(-0.125)), -13);
    assert_eq!(cents_of(dec!(1.0049)), 100);
    assert_eq!(cents_of(rust_decimal::Decimal::MAX), i64::MAX);
    assert_eq!(cents_of(rust_decimal::Decimal::MIN), i64::MIN);
}

#[test]
fn the_rate_set_follows_the_rates_used() {
    assert_eq!(VatRateSet::for_rates([]), VatRateSet::Mainland);
    assert_eq!(
        VatRateSet::for_rates([VatRate::STANDARD, VatRate::REDUCED, VatRate::ZERO]),
        VatRateSet::Mainland
    );
    for overseas in [
        VatRate::OVERSEAS_8_5,
        VatRate::CORSICA_13,
        VatRate::CORSICA_0_9,
        VatRate::OVERSEAS_1_75,
        VatRate::OVERSEAS_1_05,
    ] {
        assert_eq!(
            VatRateSet::for_rates([VatRate::STANDARD, overseas]),
            VatRateSet::CorsicaAndOverseas,
            "{overseas}"
        );
    }
    // A rate of neither set decides nothing (the check then refuses it against the mainland set).
    assert_eq!(
        VatRateSet::for_rates([VatRate::parse("7").unwrap()]),
        VatRateSet::Mainland
    );
}
