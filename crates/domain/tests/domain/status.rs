use portal_domain::Language;
use portal_domain::status::*;

const CODES: [u16; 33] = [
    200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 220, 221, 224, 225,
    226, 227, 228, 250, 251, 280, 281, 300, 301, 400, 401, 500, 501, 601,
];

#[test]
fn the_other_official_codes_are_labelled_with_their_source() {
    let info = |code| StatusCode(code).info().unwrap();
    for (code, fr, en, emitter) in [
        (214, "Visée", "Endorsed", Emitter::Buyer),
        (220, "Annulée", "Cancelled", Emitter::Supplier),
        (
            221,
            "Erreur de routage",
            "Routing error",
            Emitter::BuyerPlatform,
        ),
        (
            224,
            "Demande de paiement direct",
            "Direct payment requested",
            Emitter::Supplier,
        ),
        (225, "Affacturée", "Factored", Emitter::Supplier),
        (
            226,
            "Affacturée confidentiel",
            "Factored (confidential)",
            Emitter::Supplier,
        ),
        (
            227,
            "Changement de compte à payer",
            "Payee account changed",
            Emitter::Supplier,
        ),
        (228, "Non affacturée", "Not factored", Emitter::Supplier),
        (
            300,
            "E-reporting déposé",
            "E-reporting deposited",
            Emitter::Ppf,
        ),
        (
            301,
            "E-reporting rejeté",
            "E-reporting rejected",
            Emitter::Ppf,
        ),
        (
            400,
            "Annuaire : demande acceptée",
            "Directory: request accepted",
            Emitter::Ppf,
        ),
        (
            401,
            "Annuaire : demande rejetée",
            "Directory: request rejected",
            Emitter::Ppf,
        ),
        (601, "Statut rejeté", "Status rejected", Emitter::Ppf),
    ] {
        assert_eq!(StatusCode(code).label(Language::Fr), fr, "{code}");
        assert_eq!(StatusCode(code).label(Language::En), en, "{code}");
        assert_eq!(info(code).emitter, emitter, "{code}");
    }
    assert_eq!(
        StatusCode::from_label("Annuaire : demande rejetée"),
        Some(StatusCode(401))
    );
}

#[test]
fn every_code_of_the_guide_is_in_the_catalogue_once() {
    for code in CODES {
        let info = StatusCode(code)
            .info()
            .unwrap_or_else(|| panic!("{code} missing"));
        assert_eq!(info.code, code);
        assert!(!info.label_fr.is_empty() && !info.label_en.is_empty());
        assert!(!info.meaning_fr.is_empty() && !info.meaning_en.is_empty());
    }
    assert_eq!(STATUSES.len(), CODES.len());
    let mut seen: Vec<u16> = STATUSES.iter().map(|info| info.code).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), CODES.len());
}

#[test]
fn catalogue_attributes_follow_the_guide() {
    let info = |code| StatusCode(code).info().unwrap();
    assert_eq!(info(200).label_fr, "Déposée");
    assert_eq!(info(207).label_fr, "En litige");
    assert_eq!(info(212).label_fr, "Encaissée");
    for code in [200, 210, 212, 213] {
        assert!(info(code).mandatory, "{code}");
    }
    for code in [201, 202, 203, 204, 205, 206, 207, 208, 209, 211] {
        assert!(!info(code).mandatory, "{code}");
    }
    for code in [210, 213, 220, 251, 501] {
        assert!(StatusCode(code).is_final(), "{code}");
    }
    for code in [200, 203, 207, 208, 212, 500] {
        assert!(!StatusCode(code).is_final(), "{code}");
    }
    assert_eq!(info(213).emitter, Emitter::EitherPlatform);
    assert_eq!(info(212).emitter, Emitter::Supplier);
    assert_eq!(info(204).emitter, Emitter::Buyer);
    assert_eq!(info(203).phase, Phase::Transmission);
    assert_eq!(info(211).phase, Phase::Processing);
    assert_eq!(info(251).phase, Phase::Reporting);
    assert_eq!(
        info(207).supplier_action,
        Some(SupplierAction::AnswerDispute)
    );
    assert_eq!(
        info(208).supplier_action,
        Some(SupplierAction::ProvideInformation)
    );
    for code in [210, 213, 501, 251] {
        assert_eq!(
            info(code).supplier_action,
            Some(SupplierAction::FixAndReissue),
            "{code}"
        );
    }
    assert_eq!(
        info(212).supplier_action,
        Some(SupplierAction::RecordPayment)
    );
    assert_eq!(info(203).supplier_action, None);
    assert!(!SupplierAction::FixAndReissue.label(Language::Fr).is_empty());
}

#[test]
fn unknown_codes_are_shown_not_dropped() {
    let unknown = StatusCode(999);
    assert!(unknown.info().is_none());
    assert_eq!(unknown.label(Language::Fr), "Statut inconnu 999");
    assert_eq!(unknown.label(Language::En), "unknown status 999");
    assert_eq!(StatusCode(207).label(Language::Fr), "En litige");
    assert_eq!(StatusCode(207).label(Language::En), "Disputed");
}

#[test]
fn codes_parse_from_digits_and_labels() {
    assert_eq!(StatusCode::parse(" 207 "), Some(StatusCode(207)));
    assert_eq!(StatusCode::parse("2O7"), None);
    assert_eq!(StatusCode::parse("99999999"), None);
    assert_eq!(StatusCode::from_label("En litige"), Some(StatusCode(207)));
    assert_eq!(
        StatusCode::from_label("mise a disposition"),
        Some(StatusCode(203))
    );
    assert_eq!(StatusCode::from_label("REFUSÉE"), Some(StatusCode(210)));
    assert_eq!(StatusCode::from_label("Rejetée"), Some(StatusCode(213)));
    assert_eq!(StatusCode::from_label("Approved"), Some(StatusCode(205)));
    assert_eq!(StatusCode::from_label("whatever"), None);
    assert_eq!(serde_json::to_string(&StatusCode(207)).unwrap(), "207");
}

#[test]
fn reason_codes_per_status() {
    assert!(reason_allowed(StatusCode(207), "TX_TVA_ERR"));
    assert!(reason_allowed(StatusCode(210), "tx_tva_err"));
    assert!(!reason_allowed(StatusCode(206), "TX_TVA_ERR"));
    assert!(reason_allowed(StatusCode(208), "JUSTIF_ABS"));
    assert!(!reason_allowed(StatusCode(207), "JUSTIF_ABS"));
    assert!(reason_allowed(StatusCode(213), "DOUBLON"));
    assert!(reason_allowed(StatusCode(213), "REJ_UNI"));
    assert!(reason_allowed(StatusCode(501), "IRR_SYNTAX"));
    assert!(!reason_allowed(StatusCode(213), "IRR_SYNTAX"));
    assert!(!reason_allowed(StatusCode(207), "NOT_A_CODE"));
    assert_eq!(reasons_for(StatusCode(207)).len(), 26);
    assert_eq!(reasons_for(StatusCode(206)).len(), 13);
    assert_eq!(reasons_for(StatusCode(208)).len(), 7);
    assert_eq!(reasons_for(StatusCode(210)).len(), 13);
    assert_eq!(reasons_for(StatusCode(213)).len(), 12);
    assert_eq!(reasons_for(StatusCode(501)).len(), 10);
    let first_13: Vec<&str> = reasons_for(StatusCode(207))
        .iter()
        .take(13)
        .map(|r| r.code)
        .collect();
    let on_206: Vec<&str> = reasons_for(StatusCode(206))
        .iter()
        .map(|r| r.code)
        .collect();
    assert_eq!(first_13, on_206);
    for status in [206, 207, 208, 210, 213, 501] {
        assert!(reason_required(StatusCode(status)));
    }
    assert!(!reason_required(StatusCode(205)));
    assert_eq!(
        reason_label("TX_TVA_ERR", Language::Fr),
        "Taux de TVA erroné"
    );
    assert_eq!(reason_label("TX_TVA_ERR", Language::En), "Wrong VAT rate");
    assert_eq!(reason_label("XYZ", Language::Fr), "XYZ");
    for reason in &REASONS {
        assert!(
            !reason.label_fr.is_empty()
                && !reason.label_en.is_empty()
                && !reason.allowed_on.is_empty()
        );
    }
}

#[test]
fn requested_actions() {
    let codes: Vec<&str> = RequestedAction::ALL
        .iter()
        .map(|action| action.code())
        .collect();
    assert_eq!(codes, ["NOA", "PIN", "NIN", "CNF", "CNP", "CNA", "OTH"]);
    assert_eq!(RequestedAction::parse("nin"), Some(RequestedAction::Nin));
    assert_eq!(RequestedAction::parse("XXX"), None);
    assert_eq!(
        RequestedAction::Nin.label(Language::Fr),
        "Émettre une facture rectificative"
    );
    assert_eq!(
        requested_action_label("PIN", Language::En),
        "Provide information"
    );
    assert_eq!(requested_action_label("ZZZ", Language::En), "ZZZ");
    assert_eq!(
        serde_json::to_string(&RequestedAction::Cnp).unwrap(),
        "\"CNP\""
    );
}
