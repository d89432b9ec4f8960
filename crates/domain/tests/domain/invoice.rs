use chrono::NaiveDate;
use portal_domain::Language;
use portal_domain::identifiers::{InvoiceNumber, Siren};
use portal_domain::invoice::*;
use portal_domain::money::{ExemptionReason, VatRateSet};
use rust_decimal_macros::dec;
use std::collections::HashSet;

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

pub fn valid_draft() -> InvoiceDraft {
    InvoiceDraft {
        number: "F2026-0001".into(),
        issue_date: date(2026, 6, 2),
        due_date: date(2026, 6, 24),
        delivery_date: date(2026, 4, 27),
        seller_siren: Some(Siren::parse("303265045").unwrap()),
        buyer: BuyerDraft {
            legal_name: "Client SA".into(),
            siren: "732829320".into(),
            siret: "73282932000074".into(),
            vat_number: "FR44732829320".into(),
            electronic_address: "0225:127362116_DEMO".into(),
            contact_emails: vec!["compta@client.fr".into()],
            address: Address {
                street: "1 rue de la Paix".into(),
                postcode: "75001".into(),
                city: "Paris".into(),
                ..Address::default()
            },
            language: Language::Fr,
        },
        lines: vec![LineDraft {
            description: "just a single line".into(),
            quantity: "1".into(),
            unit_price: "400".into(),
            vat_rate: "20".into(),
            ..LineDraft::default()
        }],
        purchase_order: "PurchaseOrderReference 546458".into(),
        notes: vec!["additional info".into(), "  ".into()],
        ..InvoiceDraft::default()
    }
}

fn never_taken() -> impl Fn(&UniquenessKey) -> bool {
    |_: &UniquenessKey| false
}

fn terms(problems: &[Problem]) -> Vec<&'static str> {
    problems.iter().map(|problem| problem.term).collect()
}

#[test]
fn a_valid_draft_becomes_an_invoice() {
    let invoice = check_before_submission(&valid_draft(), &never_taken()).unwrap();
    assert_eq!(invoice.number().as_str(), "F2026-0001");
    assert_eq!(invoice.kind(), &InvoiceKind::Invoice);
    assert_eq!(invoice.kind().type_code(), 380);
    assert_eq!(invoice.currency().code(), "EUR");
    assert_eq!(invoice.totals().total_incl.value(), dec!(480));
    assert_eq!(invoice.totals().total_vat.value(), dec!(80));
    assert_eq!(invoice.buyer().address.country_code, "FR");
    assert_eq!(
        invoice.buyer().electronic_address.to_string(),
        "0225:127362116_DEMO"
    );
    assert_eq!(
        invoice.references().purchase_order.as_deref(),
        Some("PurchaseOrderReference 546458")
    );
    assert_eq!(invoice.references().contract, None);
    assert_eq!(invoice.notes(), ["additional info".to_owned()]);
    assert_eq!(invoice.uniqueness_key().year, 2026);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut draft = valid_draft();
    draft.number = "F 2026#1".into();
    draft.due_date = date(2026, 5, 1);
    draft.buyer.siren = "732829321".into();
    draft.buyer.vat_number = "FR00732829320".into();
    draft.buyer.electronic_address = String::new();
    draft.buyer.contact_emails.push("not-an-email".into());
    draft.lines.push(LineDraft {
        description: "x".into(),
        quantity: "1".into(),
        unit_price: "10".into(),
        vat_rate: "19.6".into(),
        ..LineDraft::default()
    });
    draft.lines.push(LineDraft {
        description: "y".into(),
        quantity: "1".into(),
        unit_price: "10".into(),
        vat_rate: "0".into(),
        ..LineDraft::default()
    });
    draft.lines.push(LineDraft {
        description: String::new(),
        quantity: "0".into(),
        unit_price: "1.123456".into(),
        vat_rate: "20".into(),
        exemption: Some(ExemptionReason::Export),
        ..LineDraft::default()
    });
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    let found = terms(&problems);
    for term in [
        "BT-1", "BT-9", "BT-47", "BT-48", "BT-49", "BT-58", "BT-152", "BT-121", "BT-153", "BT-129",
        "BT-146",
    ] {
        assert!(found.contains(&term), "{term} missing from {found:?}");
    }
    let codes: Vec<ProblemCode> = problems.iter().map(|problem| problem.code).collect();
    for code in [
        ProblemCode::NumberInvalid,
        ProblemCode::DueBeforeIssue,
        ProblemCode::BuyerSirenInvalid,
        ProblemCode::BuyerVatInvalid,
        ProblemCode::ElectronicAddressMissing,
        ProblemCode::EmailInvalid,
        ProblemCode::VatRateNotAllowed,
        ProblemCode::ExemptionReasonMissing,
        ProblemCode::ExemptionReasonUnexpected,
        ProblemCode::LineDescriptionMissing,
        ProblemCode::QuantityInvalid,
        ProblemCode::UnitPriceInvalid,
    ] {
        assert!(codes.contains(&code), "{code:?} missing");
    }
    let email = problems
        .iter()
        .find(|problem| problem.code == ProblemCode::EmailInvalid)
        .unwrap();
    assert_eq!(email.position, Some(1));
    let missing = problems
        .iter()
        .find(|problem| problem.code == ProblemCode::ExemptionReasonMissing)
        .unwrap();
    assert_eq!(missing.position, Some(2));
    assert!(missing.message_fr.starts_with("ligne 3"));
    assert!(missing.message_en.starts_with("line 3"));
    for problem in &problems {
        assert!(
            !problem.message(Language::Fr).is_empty() && !problem.message(Language::En).is_empty()
        );
    }
}

#[test]
fn buyer_vat_and_siret_must_match_the_siren() {
    let mut draft = valid_draft();
    draft.buyer.vat_number = "FR40303265045".into(); // valid, but another company's
    draft.buyer.siret = "35600000000048".into();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    let codes: Vec<ProblemCode> = problems.iter().map(|problem| problem.code).collect();
    assert_eq!(
        codes,
        vec![
            ProblemCode::BuyerSiretMismatch,
            ProblemCode::BuyerVatMismatch
        ]
    );
    assert_eq!(terms(&problems), vec!["BT-46", "BT-48"]);
}

#[test]
fn buyer_siren_and_electronic_address_are_required() {
    let mut draft = valid_draft();
    draft.buyer.siren = String::new();
    draft.buyer.electronic_address = "0088:1234".into();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    let codes: Vec<ProblemCode> = problems.iter().map(|problem| problem.code).collect();
    assert!(codes.contains(&ProblemCode::BuyerSirenMissing));
    assert!(codes.contains(&ProblemCode::ElectronicAddressInvalid));
}

#[test]
fn lines_and_a_non_zero_total_are_required() {
    let mut draft = valid_draft();
    draft.lines.clear();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    assert_eq!(problems[0].code, ProblemCode::LinesMissing);
    let mut draft = valid_draft();
    draft.lines[0].unit_price = "0".into();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    assert_eq!(
        problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        vec![ProblemCode::TotalZero]
    );
    assert_eq!(problems[0].term, "BT-112");
}

#[test]
fn exempt_lines_need_a_reason_and_the_seller_rate_set_applies() {
    let mut draft = valid_draft();
    draft.lines[0].vat_rate = "0".into();
    draft.lines[0].exemption = Some(ExemptionReason::FranchiseEnBase);
    let invoice = check_before_submission(&draft, &never_taken()).unwrap();
    assert_eq!(invoice.totals().total_incl.value(), dec!(400));

    let mut draft = valid_draft();
    draft.lines[0].vat_rate = "8.5".into();
    assert!(check_before_submission(&draft, &never_taken()).is_err());
    draft.vat_rate_set = VatRateSet::CorsicaAndOverseas;
    let invoice = check_before_submission(&draft, &never_taken()).unwrap();
    assert_eq!(invoice.totals().total_vat.value(), dec!(34));
}

#[test]
fn credit_notes_name_the_invoice_they_correct() {
    let mut draft = valid_draft();
    draft.document_type = DocumentType::CreditNote;
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    assert_eq!(problems[0].code, ProblemCode::CreditNoteReferenceMissing);
    assert_eq!(problems[0].term, "BT-25");
    draft.corrects = "bad#ref".into();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    assert_eq!(problems[0].code, ProblemCode::CreditNoteReferenceInvalid);
    draft.corrects = "F2026-0000".into();
    let invoice = check_before_submission(&draft, &never_taken()).unwrap();
    assert_eq!(
        invoice.kind(),
        &InvoiceKind::CreditNote {
            corrects: InvoiceNumber::parse("F2026-0000").unwrap()
        }
    );
    assert_eq!(invoice.kind().type_code(), 381);
}

#[test]
fn uniqueness_is_number_year_and_seller() {
    let draft = valid_draft();
    let taken: HashSet<UniquenessKey> = [UniquenessKey {
        seller_siren: Siren::parse("303265045").unwrap(),
        year: 2026,
        number: InvoiceNumber::parse("F2026-0001").unwrap(),
    }]
    .into_iter()
    .collect();
    let problems = check_before_submission(&draft, &taken).unwrap_err();
    assert_eq!(problems[0].code, ProblemCode::NumberNotUnique);
    assert_eq!(problems[0].term, "BT-1");
    // Another year is fine.
    let mut next_year = valid_draft();
    next_year.issue_date = date(2027, 1, 2);
    next_year.due_date = None;
    assert!(check_before_submission(&next_year, &taken).is_ok());
    // The seller's SIREN is needed to know.
    let mut no_seller = valid_draft();
    no_seller.seller_siren = None;
    let problems = check_before_submission(&no_seller, &never_taken()).unwrap_err();
    assert_eq!(problems[0].code, ProblemCode::SellerSirenMissing);
}

#[test]
fn missing_issue_date_and_bad_currency() {
    let mut draft = valid_draft();
    draft.issue_date = None;
    draft.currency = "EURO".into();
    let problems = check_before_submission(&draft, &never_taken()).unwrap_err();
    assert_eq!(terms(&problems), vec!["BT-2", "BT-5"]);
}

fn typed(quantity: &str, price: &str, rate: &str) -> LineDraft {
    LineDraft {
        description: "item".into(),
        quantity: quantity.into(),
        unit_price: price.into(),
        vat_rate: rate.into(),
        ..LineDraft::default()
    }
}

#[test]
fn a_typed_line_reads_as_amounts_or_not_at_all() {
    let line = typed("3", "0,335", "20 %");
    let amounts = line.amounts().unwrap();
    assert_eq!(amounts.quantity.value(), dec!(3));
    assert_eq!(amounts.unit_price.value(), dec!(0.335));
    assert_eq!(amounts.vat_rate, portal_domain::money::VatRate::STANDARD);
    assert_eq!(line.net().unwrap().value(), dec!(1.01)); // 1.005, half away from zero
    let mut exempt = typed("1", "10", "0");
    exempt.exemption = Some(ExemptionReason::Export);
    assert_eq!(
        exempt.amounts().unwrap().exemption,
        Some(ExemptionReason::Export)
    );
    for line in [
        typed("", "10", "20"),
        typed("1", "", "20"),
        typed("1", "10", ""),
        typed("0", "10", "20"),
        typed("1", "-10", "20"),
        typed("1", "abc", "20"),
    ] {
        assert_eq!(line.amounts(), None, "{line:?}");
        assert_eq!(line.net(), None, "{line:?}");
    }
}

#[test]
fn the_page_line_amounts_and_the_totals_agree() {
    // Each 0.335 -> 0.34: the lines show 0.34 three times and the totals say 1.02 (not 1.01).
    let lines = vec![typed("1", "0.335", "20"); 3];
    let shown: Vec<_> = lines.iter().map(|line| line.net().unwrap()).collect();
    for totals in [
        totals_so_far(&lines).unwrap(),
        totals_if_complete(&lines).unwrap(),
    ] {
        assert_eq!(totals.lines, shown);
        assert_eq!(totals.total_excl.value(), dec!(1.02));
        assert_eq!(totals.vat_groups[0].base.value(), dec!(1.02));
        assert_eq!(totals.total_vat.value(), dec!(0.20));
    }
    // The checked invoice computes the same totals as the page.
    let mut draft = valid_draft();
    draft.lines = lines.clone();
    let invoice = check_before_submission(&draft, &never_taken()).unwrap();
    assert_eq!(invoice.totals(), &totals_if_complete(&lines).unwrap());
    let nets: Vec<_> = invoice.lines().iter().map(InvoiceLine::net).collect();
    assert_eq!(nets, shown);
}

#[test]
fn the_editor_counts_the_lines_that_read_the_page_needs_them_all() {
    let lines = vec![
        typed("2", "10", "20"),
        typed("1", "", "20"), // still being typed
        typed("1", "5", "5.5"),
    ];
    let so_far = totals_so_far(&lines).unwrap();
    assert_eq!(so_far.lines.len(), 2);
    assert_eq!(so_far.total_excl.value(), dec!(25));
    assert_eq!(so_far.total_incl.value(), dec!(29.28)); // 4.00 + 0.275 -> 0.28
    assert_eq!(totals_if_complete(&lines), None);
    // No lines: zero totals for the editor, nothing for the page.
    assert!(totals_so_far(&[]).unwrap().total_incl.is_zero());
    assert_eq!(totals_if_complete(&[]), None);
}

#[test]
fn the_rate_set_is_inferred_from_the_typed_rates() {
    assert_eq!(VatRateSet::inferred_from(&[]), VatRateSet::Mainland);
    assert_eq!(
        VatRateSet::inferred_from(&[typed("1", "1", "20"), typed("1", "1", "5,5")]),
        VatRateSet::Mainland
    );
    assert_eq!(
        VatRateSet::inferred_from(&[typed("1", "1", "20"), typed("1", "1", "8,5 %")]),
        VatRateSet::CorsicaAndOverseas
    );
    assert_eq!(
        VatRateSet::inferred_from(&[typed("1", "1", "13")]),
        VatRateSet::CorsicaAndOverseas
    );
    // Unreadable or unknown rates decide nothing.
    assert_eq!(
        VatRateSet::inferred_from(&[typed("1", "1", "abc"), typed("1", "1", "7")]),
        VatRateSet::Mainland
    );
    // The inferred set lets the check accept an overseas rate.
    let mut draft = valid_draft();
    draft.lines = vec![typed("1", "100", "8.5")];
    draft.vat_rate_set = VatRateSet::inferred_from(&draft.lines);
    assert!(check_before_submission(&draft, &never_taken()).is_ok());
}
