//! CDAR parsing: the official samples, the PPF rejection of seed 003, hostile XML.

use crate::support::{fixture_files, test_data};
use portal_billit::cdar::{CdarError, parse_cdar};
use portal_domain::status::StatusCode;

fn code_in_name(name: &str) -> u16 {
    let after = name.split("-CDV-").nth(1).unwrap();
    after[..3].parse().unwrap()
}

#[test]
fn every_official_sample_parses_to_the_code_in_its_name() {
    let files = fixture_files("cdar", "xml");
    assert_eq!(files.len(), 11);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{name} has a BOM");
        let doc = parse_cdar(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            doc.status_code(),
            Some(StatusCode(code_in_name(&name))),
            "{name}"
        );
        assert!(doc.invoice_number().unwrap().starts_with("F2025"), "{name}");
        assert_eq!(doc.seller_siren(), Some("100000009"), "{name}");
        assert!(doc.id.is_some() && doc.at().is_some(), "{name}");
        // Without the BOM too.
        let again = parse_cdar(&bytes[3..]).unwrap();
        assert_eq!(again, doc);
    }
}

#[test]
fn dispute_sample_has_its_reason_action_and_characteristics() {
    let bytes = crate::support::fixture("cdar/UC4_F202500006_04-CDV-207_En_litige.xml");
    let doc = parse_cdar(&bytes).unwrap();
    assert_eq!(
        doc.id.as_deref(),
        Some("F202500006_207_20250701161000#380_20250701")
    );
    assert_eq!(doc.type_code.as_deref(), Some("23"));
    assert_eq!(doc.status_label(), Some("En_litige"));
    assert_eq!(
        doc.issuer.as_ref().unwrap().role_code.as_deref(),
        Some("BY")
    );
    // 2025-07-01 18:00:00 Paris summer time.
    assert_eq!(doc.at().unwrap().to_rfc3339(), "2025-07-01T16:00:00+00:00");
    let statuses = doc.statuses();
    assert_eq!(statuses.len(), 1);
    let status = &statuses[0];
    assert_eq!(status.reason_code.as_deref(), Some("TX_TVA_ERR"));
    assert_eq!(status.reason.as_deref(), Some("Taux de TVA erroné"));
    assert_eq!(status.requested_action_code.as_deref(), Some("NIN"));
    assert_eq!(status.sequence, Some(1));
    assert_eq!(status.characteristics.len(), 2);
    let wrong = &status.characteristics[0];
    assert_eq!(wrong.id.as_deref(), Some("BT-152"));
    assert_eq!(wrong.type_code.as_deref(), Some("DIV"));
    assert_eq!(wrong.name.as_deref(), Some("Taux TVA"));
    assert_eq!(wrong.value_percent.as_deref(), Some("10.00"));
    assert_eq!(wrong.value_changed.as_deref(), Some("true"));
    assert_eq!(
        status.characteristics[1].value_percent.as_deref(),
        Some("20.00")
    );
}

#[test]
fn payment_sample_has_its_amount() {
    let bytes = crate::support::fixture("cdar/UC1_F202500003_07-CDV-212_Encaissee.xml");
    let doc = parse_cdar(&bytes).unwrap();
    let characteristic = &doc.statuses()[0].characteristics[0];
    assert_eq!(characteristic.type_code.as_deref(), Some("MEN"));
    assert_eq!(characteristic.value_amount.as_deref(), Some("12000"));
    assert_eq!(characteristic.value_currency.as_deref(), Some("EUR"));
}

#[test]
fn ppf_rejection_of_seed_003() {
    let doc = parse_cdar(&test_data("cdar-ppf-rejection-251.xml")).unwrap();
    assert_eq!(doc.status_code(), Some(StatusCode(251)));
    assert_eq!(doc.invoice_number(), Some("00004"));
    assert_eq!(doc.seller_siren(), Some("570501916"));
    assert_eq!(doc.reason_codes(), vec!["REJ_UNI", "REJ_SEMAN"]);
    let statuses = doc.statuses();
    let rules: Vec<&str> = statuses
        .iter()
        .map(|status| status.notes[0].content_code.as_deref().unwrap())
        .collect();
    assert_eq!(rules, vec!["G1.45", "G1.05"]);
    assert_eq!(
        statuses[0].notes[0].business_terms(),
        vec!["BT-1", "BT-2", "BT-30"]
    );
    assert_eq!(statuses[1].notes[0].business_terms(), vec!["BT-1"]);
    assert_eq!(
        statuses[0].notes[0].content.as_deref(),
        Some("Échec du contrôle de l'unicité du F1.")
    );
    assert_eq!(statuses[1].sequence, Some(2));
}

fn wrap(inner: &str) -> String {
    format!(
        r#"<r:CrossDomainAcknowledgementAndResponse xmlns:r="urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100" xmlns:a="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">{inner}</r:CrossDomainAcknowledgementAndResponse>"#
    )
}

#[test]
fn namespaces_are_matched_by_uri_and_entities_resolved() {
    let xml = wrap(
        "<r:AcknowledgementDocument><a:ReferenceReferencedDocument>\
         <a:IssuerAssignedID>A&amp;B&#x20;C&#233;</a:IssuerAssignedID>\
         <a:ProcessConditionCode>207</a:ProcessConditionCode>\
         </a:ReferenceReferencedDocument></r:AcknowledgementDocument>",
    );
    let doc = parse_cdar(xml.as_bytes()).unwrap();
    assert_eq!(doc.invoice_number(), Some("A&B Cé"));
    assert_eq!(doc.status_code(), Some(StatusCode(207)));

    // The right local names in a wrong namespace are not a CDAR.
    let wrong = r#"<x:CrossDomainAcknowledgementAndResponse xmlns:x="urn:other"/>"#;
    assert!(matches!(
        parse_cdar(wrong.as_bytes()),
        Err(CdarError::NotCdar(_))
    ));
}

#[test]
fn hostile_or_broken_xml_is_an_error() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    assert_eq!(
        parse_cdar(billion_laughs.as_bytes()),
        Err(CdarError::Doctype)
    );

    let unknown_entity = wrap("<r:ExchangedDocument><a:ID>&xxe;</a:ID></r:ExchangedDocument>");
    assert!(matches!(
        parse_cdar(unknown_entity.as_bytes()),
        Err(CdarError::Entity(_))
    ));

    let deep = wrap(&format!(
        "{}{}",
        "<a:X>".repeat(10_000),
        "</a:X>".repeat(10_000)
    ));
    assert_eq!(
        parse_cdar(deep.as_bytes()),
        Err(CdarError::Limit("nesting too deep"))
    );

    let huge = vec![b' '; portal_billit::cdar::MAX_CDAR_BYTES + 1];
    assert!(matches!(parse_cdar(&huge), Err(CdarError::TooLarge(_))));

    let long_text = wrap(&format!(
        "<r:ExchangedDocument><a:ID>{}</a:ID></r:ExchangedDocument>",
        "x".repeat(100_000)
    ));
    assert_eq!(
        parse_cdar(long_text.as_bytes()),
        Err(CdarError::Limit("text too long"))
    );

    for broken in [
        &b""[..],
        b"\xEF\xBB\xBF",
        b"not xml",
        b"<a>",
        b"<a></b>",
        b"\xff\xfe<\x00a\x00>\x00",
        b"<r:X xmlns:r='urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100'/>",
        wrap("").as_bytes(),
        wrap("<r:AcknowledgementDocument><a:ReferenceReferencedDocument><a:ProcessConditionCode>abc</a:ProcessConditionCode></a:ReferenceReferencedDocument></r:AcknowledgementDocument>").as_bytes(),
        b"<undeclared:Root/>",
    ] {
        assert!(parse_cdar(broken).is_err(), "{:?}", String::from_utf8_lossy(broken));
    }
}

#[test]
fn a_status_file_for_two_invoices_gives_one_observation_each() {
    use portal_billit::classify::{classify_cdar, classify_cdar_all};
    use portal_domain::lifecycle::Source;
    use portal_domain::status::StatusCode;
    let doc = portal_billit::cdar::parse_cdar(&crate::support::two_invoice_cdar()).unwrap();
    assert_eq!(doc.references.len(), 2);
    let observations = classify_cdar_all(&doc, Some("billit:file:abc"), Some("abc"));
    assert_eq!(observations.len(), 2);
    let (disputed, approved) = (&observations[0], &observations[1]);
    assert_eq!(disputed.invoice_number.as_deref(), Some("F202500006"));
    assert_eq!(disputed.event.code, Some(StatusCode(207)));
    assert_eq!(disputed.event.reasons, vec!["TX_TVA_ERR".to_owned()]);
    assert_eq!(disputed.event.requested_action.as_deref(), Some("NIN"));
    assert_eq!(disputed.event.source, Source::Buyer);
    assert_eq!(disputed.event.dedup_key, "billit:file:abc:F202500006");
    assert_eq!(approved.invoice_number.as_deref(), Some("F202500099"));
    assert_eq!(approved.event.code, Some(StatusCode(205)));
    assert!(approved.event.reasons.is_empty());
    assert_eq!(approved.event.requested_action, None);
    assert_eq!(approved.event.comment, None);
    assert_eq!(approved.event.dedup_key, "billit:file:abc:F202500099");
    assert_eq!(approved.event.file_id.as_deref(), Some("abc"));
    // Without a message's key, each is keyed by the file's id and its invoice.
    let alone = classify_cdar_all(&doc, None, None);
    assert_eq!(
        alone[1].event.dedup_key,
        "cdar:F202500006_207_20250701161000#380_20250701:F202500099"
    );
    // The one-event reading still gives the first invoice's status, and a one-invoice file keeps its key.
    assert_eq!(classify_cdar(&doc, None, None).code, Some(StatusCode(207)));
    let single = portal_billit::cdar::parse_cdar(&crate::support::fixture(
        "cdar/UC4_F202500006_04-CDV-207_En_litige.xml",
    ))
    .unwrap();
    let one = classify_cdar_all(&single, Some("k"), None);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].event.dedup_key, "k");
    assert_eq!(one[0].invoice_number.as_deref(), Some("F202500006"));
}
