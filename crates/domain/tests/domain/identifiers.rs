use portal_domain::Localized;
use portal_domain::identifiers::*;

#[test]
fn siren_luhn() {
    let siren = Siren::parse("732 829 320").unwrap();
    assert_eq!(siren.to_string(), "732829320");
    assert_eq!(Siren::parse("732829321"), Err(SirenError::Checksum));
    assert_eq!(Siren::parse("73282932"), Err(SirenError::WrongLength(8)));
    assert_eq!(Siren::parse("73282932A"), Err(SirenError::NotDigits));
    assert_eq!(Siren::parse(""), Err(SirenError::Empty));
    assert_eq!(Siren::parse("012345674").unwrap().to_string(), "012345674"); // leading zero kept
}

#[test]
fn siret_luhn_prefix_and_la_poste() {
    let siret = Siret::parse("732 829 320 00074").unwrap();
    assert_eq!(siret.siren(), Siren::parse("732829320").unwrap());
    assert_eq!(siret.nic(), "00074");
    assert_eq!(Siret::parse("73282932000075"), Err(SiretError::Checksum));
    assert_eq!(Siret::parse("12345678900000"), Err(SiretError::BadSiren));
    assert_eq!(
        Siret::parse("7328293200007"),
        Err(SiretError::WrongLength(13))
    );
    // La Poste: digit sum multiple of 5 instead of Luhn, and its head office is Luhn-valid.
    assert!(Siret::parse("35600000000001").is_ok());
    assert!(Siret::parse("35600000000048").is_ok());
    assert_eq!(Siret::parse("35600000000002"), Err(SiretError::Checksum));
    let other = Siren::parse("303265045").unwrap();
    assert_eq!(
        Siret::parse_for("73282932000074", other),
        Err(SiretError::NotOfSiren)
    );
}

#[test]
fn vat_number_key_and_derivation() {
    let siren = Siren::parse("303265045").unwrap();
    assert_eq!(VatNumber::from_siren(siren).to_string(), "FR40303265045");
    assert_eq!(siren.vat_number().key(), 40);
    let vat = VatNumber::parse("fr 40 303 265 045").unwrap();
    assert_eq!(vat.siren(), siren);
    assert_eq!(
        VatNumber::parse("FR41303265045"),
        Err(VatNumberError::WrongKey { expected: 40 })
    );
    assert_eq!(
        VatNumber::parse("BE0123456789"),
        Err(VatNumberError::NotFrench)
    );
    assert_eq!(
        VatNumber::parse("FR4030326504"),
        Err(VatNumberError::BadFormat)
    );
    assert_eq!(
        VatNumber::parse("FRAB303265045"),
        Err(VatNumberError::BadFormat)
    );
    assert_eq!(
        VatNumber::parse("FR40303265046"),
        Err(VatNumberError::BadSiren)
    );
    assert_eq!(
        VatNumber::from_siren(Siren::parse("732829320").unwrap()).to_string(),
        "FR44732829320"
    );
    let other = Siren::parse("732829320").unwrap();
    assert_eq!(
        VatNumber::parse_for("FR40303265045", other),
        Err(VatNumberError::NotOfSiren)
    );
}

#[test]
fn iban_mod_97() {
    let iban = Iban::parse("fr76 3000 6000 0112 3456 7890 189").unwrap();
    assert_eq!(iban.as_str(), "FR7630006000011234567890189");
    assert_eq!(iban.formatted(), "FR76 3000 6000 0112 3456 7890 189");
    assert_eq!(iban.country(), "FR");
    assert!(Iban::parse("BE43957767941201").is_ok()); // the Billit fixture's supplier account
    assert!(Iban::parse("DE89370400440532013000").is_ok());
    assert_eq!(
        Iban::parse("FR7630006000011234567890188"),
        Err(IbanError::Checksum)
    );
    assert!(matches!(
        Iban::parse("FR763000600001123456789018"),
        Err(IbanError::WrongLength { expected: 27, .. })
    ));
    assert_eq!(
        Iban::parse("7630006000011234567890189"),
        Err(IbanError::BadFormat)
    );
    assert_eq!(Iban::parse("FR76-3000"), Err(IbanError::BadFormat));
    assert_eq!(Iban::parse(" "), Err(IbanError::Empty));
}

#[test]
fn bic_format() {
    assert_eq!(Bic::parse("ctbkbebx").unwrap().as_str(), "CTBKBEBX");
    assert_eq!(Bic::parse("AGRIFRPP867").unwrap().country(), "FR");
    assert_eq!(Bic::parse("AGRIFRPP86"), Err(BicError::BadFormat));
    assert_eq!(Bic::parse("1GRIFRPP"), Err(BicError::BadFormat));
    assert_eq!(Bic::parse(""), Err(BicError::Empty));
}

#[test]
fn electronic_addresses() {
    let demo = ElectronicAddress::parse("0225:127362116_DEMO").unwrap();
    assert_eq!(demo.scheme(), "0225");
    assert_eq!(demo.value(), "127362116_DEMO");
    assert_eq!(demo.to_string(), "0225:127362116_DEMO");
    let ElectronicAddress::Ctc(ctc) = &demo else {
        panic!("not a CTC address")
    };
    assert_eq!(ctc.form(), CtcForm::SirenSuffix);
    assert_eq!(ctc.suffix(), Some("DEMO"));
    assert_eq!(ctc.siren(), None); // the sandbox identifier has no valid Luhn key
    assert_eq!(demo.siren(), None);

    let plain = ElectronicAddress::parse("0225:732829320").unwrap();
    assert!(matches!(&plain, ElectronicAddress::Ctc(ctc) if ctc.form() == CtcForm::Siren));
    assert_eq!(plain.siren(), Some(Siren::parse("732829320").unwrap()));

    let with_siret = ElectronicAddress::parse("0225:732829320_73282932000074").unwrap();
    let ElectronicAddress::Ctc(ctc) = &with_siret else {
        panic!("not a CTC address")
    };
    assert_eq!(ctc.form(), CtcForm::SirenSiret);
    assert_eq!(ctc.siret(), Some(Siret::parse("73282932000074").unwrap()));

    let routed = ElectronicAddress::parse("0225:732829320_73282932000074_SERVICE-42").unwrap();
    let ElectronicAddress::Ctc(ctc) = &routed else {
        panic!("not a CTC address")
    };
    assert_eq!(ctc.form(), CtcForm::SirenSiretRouting);
    assert_eq!(ctc.routing_code(), Some("SERVICE-42"));
    assert_eq!(routed.value(), "732829320_73282932000074_SERVICE-42");

    // Without a scheme, 0225 is assumed.
    assert_eq!(
        ElectronicAddress::parse("227010068_ERROR")
            .unwrap()
            .to_string(),
        "0225:227010068_ERROR"
    );

    let siren = ElectronicAddress::parse("0002:732829320").unwrap();
    assert_eq!(
        (siren.scheme(), siren.value().as_str()),
        ("0002", "732829320")
    );
    assert_eq!(
        ElectronicAddress::parse("0009:73282932000074")
            .unwrap()
            .scheme(),
        "0009"
    );
    let vat = ElectronicAddress::parse("9957:FR40303265045").unwrap();
    assert_eq!(vat.siren(), Some(Siren::parse("303265045").unwrap()));
    assert!(
        vat.routing_rank()
            > ElectronicAddress::parse("0225:732829320")
                .unwrap()
                .routing_rank()
    );

    assert!(matches!(
        ElectronicAddress::parse("0088:123"),
        Err(ElectronicAddressError::UnknownScheme(_))
    ));
    assert_eq!(
        ElectronicAddress::parse("0225:12345"),
        Err(ElectronicAddressError::BadCtc)
    );
    assert_eq!(
        ElectronicAddress::parse("0225:127362116_"),
        Err(ElectronicAddressError::BadCtc)
    );
    assert_eq!(
        ElectronicAddress::parse("0225:127362116_a b"),
        Err(ElectronicAddressError::BadCtc)
    );
    assert!(matches!(
        ElectronicAddress::parse("0002:34532578572"),
        Err(ElectronicAddressError::Siren(_))
    ));
    assert_eq!(
        ElectronicAddress::parse("0225:"),
        Err(ElectronicAddressError::Empty)
    );
}

#[test]
fn emails() {
    assert_eq!(
        Email::parse(" Jean.Dupont+factures@Example.FR ")
            .unwrap()
            .as_str(),
        "Jean.Dupont+factures@example.fr"
    );
    for bad in [
        "jean",
        "jean@",
        "@example.fr",
        "jean@example",
        "jean@@example.fr",
        "je an@example.fr",
        "jean@exa_mple.fr",
        ".jean@example.fr",
        "jean@-example.fr",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Email::parse(""), Err(EmailError::Empty));
}

#[test]
fn invoice_numbers_follow_g1_05() {
    for good in ["F2026-0001", "227010068_Simple2", "A/B+C D", "00004", "X"] {
        assert!(InvoiceNumber::parse(good).is_ok(), "{good}");
    }
    assert_eq!(InvoiceNumber::parse(""), Err(InvoiceNumberError::Empty));
    assert_eq!(
        InvoiceNumber::parse(&"1".repeat(36)),
        Err(InvoiceNumberError::TooLong(36))
    );
    assert!(InvoiceNumber::parse(&"1".repeat(35)).is_ok());
    assert_eq!(
        InvoiceNumber::parse(" F1"),
        Err(InvoiceNumberError::EdgeSpace)
    );
    assert_eq!(
        InvoiceNumber::parse("F1 "),
        Err(InvoiceNumberError::EdgeSpace)
    );
    assert_eq!(
        InvoiceNumber::parse("F  1"),
        Err(InvoiceNumberError::DoubleSpace)
    );
    assert_eq!(
        InvoiceNumber::parse("F#1"),
        Err(InvoiceNumberError::ForbiddenCharacter('#'))
    );
    assert_eq!(
        InvoiceNumber::parse("Fé1"),
        Err(InvoiceNumberError::ForbiddenCharacter('é'))
    );
}

#[test]
fn errors_have_french_and_english_messages() {
    let errors: Vec<Box<dyn Localized>> = vec![
        Box::new(SirenError::Checksum),
        Box::new(SiretError::NotOfSiren),
        Box::new(VatNumberError::WrongKey { expected: 40 }),
        Box::new(IbanError::Checksum),
        Box::new(BicError::BadFormat),
        Box::new(EmailError::Invalid("x".into())),
        Box::new(InvoiceNumberError::DoubleSpace),
        Box::new(ElectronicAddressError::BadCtc),
    ];
    for error in errors {
        assert!(!error.message_fr().is_empty());
        assert!(!error.message_en().is_empty());
        assert_ne!(error.message_fr(), error.message_en());
    }
    assert_eq!(
        SirenError::Checksum.message(portal_domain::Language::Fr),
        SirenError::Checksum.message_fr()
    );
    assert_eq!(
        VatNumberError::WrongKey { expected: 4 }.to_string(),
        "the key of this VAT number does not match its SIREN (expected FR04)"
    );
}

#[test]
fn identifiers_round_trip_through_serde() {
    let vat = VatNumber::parse("FR40303265045").unwrap();
    let json = serde_json::to_string(&vat).unwrap();
    assert_eq!(json, "\"FR40303265045\"");
    assert_eq!(serde_json::from_str::<VatNumber>(&json).unwrap(), vat);
    let address = ElectronicAddress::parse("0225:127362116_DEMO").unwrap();
    assert_eq!(
        serde_json::to_string(&address).unwrap(),
        "\"0225:127362116_DEMO\""
    );
    assert!(serde_json::from_str::<Siren>("\"123456789\"").is_err());
}

#[test]
fn country_codes_are_two_letters_upper_cased() {
    use portal_domain::identifiers::country_code;
    assert_eq!(country_code(" fr ").as_deref(), Some("FR"));
    assert_eq!(country_code("BE").as_deref(), Some("BE"));
    for bad in ["", "F", "FRA", "F1", "é€"] {
        assert_eq!(country_code(bad), None, "{bad}");
    }
}

#[test]
fn the_default_electronic_address_is_0225_and_the_siren() {
    let siren = Siren::parse("552 100 554").unwrap();
    let address = ElectronicAddress::default_for(siren);
    assert_eq!(address.to_string(), "0225:552100554");
    assert_eq!(address.scheme(), "0225");
    assert_eq!(address.siren(), Some(siren));
    assert_eq!(siren.default_electronic_address(), address);
    // What the forms built by hand before: `format!("0225:{siren}")`, parsed.
    assert_eq!(
        ElectronicAddress::parse(&format!("0225:{siren}")).unwrap(),
        address
    );
    let ElectronicAddress::Ctc(ctc) = &address else {
        panic!("not a 0225 address: {address}");
    };
    assert_eq!(ctc.form(), CtcForm::Siren);
    // A leading zero is kept.
    let zero = Siren::parse("012345674").unwrap();
    assert_eq!(
        ElectronicAddress::default_for(zero).to_string(),
        "0225:012345674"
    );
    // And the VAT number derived from the same SIREN.
    assert_eq!(VatNumber::from_siren(siren).to_string(), "FR96552100554");
}

#[test]
fn a_default_address_may_carry_a_sandbox_suffix() {
    let siren = Siren::parse("552100554").unwrap();
    assert_eq!(
        ElectronicAddress::default_for_with_suffix(siren, "")
            .unwrap()
            .to_string(),
        "0225:552100554"
    );
    for suffix in ["DEMO", "_DEMO"] {
        let address = ElectronicAddress::default_for_with_suffix(siren, suffix).unwrap();
        assert_eq!(address.to_string(), "0225:552100554_DEMO");
        let ElectronicAddress::Ctc(ctc) = &address else {
            panic!("not a 0225 address: {address}");
        };
        assert_eq!(ctc.suffix(), Some("DEMO"));
    }
    assert_eq!(
        ElectronicAddress::default_for_with_suffix(siren, "bad suffix"),
        Err(ElectronicAddressError::BadCtc)
    );
    assert_eq!(
        ElectronicAddress::default_for_with_suffix(siren, &"X".repeat(100)),
        Err(ElectronicAddressError::TooLong)
    );
}
