//! Property tests: the CDAR parser, the webhook parsers, classification and inspect never panic
//! on any input. `PROPTEST_CASES=N` runs more cases (see the crate's notes for the long run).

use crate::support::{fixture, fixture_files, test_data};
use chrono::{DateTime, TimeZone, Utc};
use portal_billit::cdar::parse_cdar;
use portal_billit::classify::{classify_order, classify_webhook};
use portal_billit::inspect::{inspect_bytes, render_table};
use portal_billit::webhook::{
    DEFAULT_TOLERANCE, parse_payload, parse_signature_header, sign, verify_signature,
};
use portal_billit::wire::Order;
use portal_domain::Language;
use portal_domain::lifecycle::Lifecycle;
use proptest::prelude::*;
use std::sync::OnceLock;

fn samples() -> &'static Vec<Vec<u8>> {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut all: Vec<Vec<u8>> = fixture_files("cdar", "xml")
            .into_iter()
            .chain(fixture_files("billit", "json"))
            .map(|path| std::fs::read(path).unwrap())
            .collect();
        all.push(test_data("cdar-ppf-rejection-251.xml"));
        all
    })
}

/// A mutation of a real sample: flips, cuts, insertions, duplications of slices.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let count = samples().len();
    (
        0..count,
        prop::collection::vec(
            (any::<u8>(), any::<prop::sample::Index>(), any::<u8>()),
            1..8,
        ),
    )
        .prop_map(|(which, edits)| {
            let mut bytes = samples()[which].clone();
            for (kind, at, value) in edits {
                if bytes.is_empty() {
                    bytes.push(value);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind % 6 {
                    0 => bytes[i] ^= value | 1,
                    1 => bytes.truncate(i),
                    2 => bytes.insert(i, value),
                    3 => {
                        let piece: Vec<u8> = bytes[i..].iter().take(64).copied().collect();
                        bytes.splice(i..i, piece);
                    }
                    4 => {
                        let tokens: [&[u8]; 8] = [
                            b"<",
                            b">",
                            b"&",
                            b"&amp;",
                            b"<!DOCTYPE x>",
                            b"]]>",
                            b"\"",
                            b"{",
                        ];
                        let token = tokens[usize::from(value) % tokens.len()];
                        bytes.splice(i..i, token.iter().copied());
                    }
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        })
}

/// Random XML-ish text from CDAR tags and entities.
fn xmlish() -> impl Strategy<Value = String> {
    let parts = prop::sample::select(vec![
        "<rsm:CrossDomainAcknowledgementAndResponse xmlns:rsm=\"urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100\" xmlns:ram=\"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100\">",
        "</rsm:CrossDomainAcknowledgementAndResponse>",
        "<rsm:AcknowledgementDocument>",
        "</rsm:AcknowledgementDocument>",
        "<ram:ReferenceReferencedDocument>",
        "</ram:ReferenceReferencedDocument>",
        "<ram:SpecifiedDocumentStatus>",
        "</ram:SpecifiedDocumentStatus>",
        "<ram:ProcessConditionCode>",
        "</ram:ProcessConditionCode>",
        "<ram:ReasonCode>",
        "</ram:ReasonCode>",
        "<ram:IncludedNote>",
        "</ram:IncludedNote>",
        "<ram:SequenceNumeric>",
        "</ram:SequenceNumeric>",
        "207",
        "REJ_UNI",
        "&amp;",
        "&#233;",
        "&#x0;",
        "&bogus;",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "<?pi x?>",
        "<x/>",
        "<a:b xmlns:a=\"urn:x\">",
        "</a:b>",
        "99999999",
        "\u{feff}",
    ]);
    prop::collection::vec(parts, 0..40).prop_map(|parts| parts.concat())
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000, 0).single().unwrap()
}

proptest! {
    #[test]
    fn cdar_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_cdar(&bytes);
    }

    #[test]
    fn cdar_parser_never_panics_on_xmlish(text in xmlish()) {
        if let Ok(doc) = parse_cdar(text.as_bytes()) {
            prop_assert!(doc.status_code().is_some());
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_samples(bytes in mutated()) {
        let _ = parse_cdar(&bytes);
        if let Ok(payload) = parse_payload(&bytes) {
            let events = classify_webhook(&payload);
            let _ = Lifecycle::fold(&events, &Default::default());
        }
        if let Ok(order) = serde_json::from_slice::<Order>(&bytes) {
            let classified = classify_order(&order);
            let _ = Lifecycle::fold(&classified.events, &classified.facts);
        }
        if let Ok(report) = inspect_bytes(&bytes) {
            let _ = render_table(&report, Language::Fr);
            let _ = serde_json::to_string(&report);
        }
        let _ = verify_signature(
            std::str::from_utf8(&bytes).ok(), b"{}", b"secret", now(), DEFAULT_TOLERANCE,
        );
    }

    #[test]
    fn signature_header_parser_never_panics(header in ".{0,300}") {
        let _ = parse_signature_header(&header);
        let _ = verify_signature(Some(&header), b"{}", b"secret", now(), DEFAULT_TOLERANCE);
    }

    #[test]
    fn signature_header_like_text_never_panics(
        t in prop::option::of("-?[0-9]{0,25}"),
        s in prop::option::of("[0-9a-fA-Fg]{0,70}"),
        junk in "[ ,=a-z]{0,10}",
    ) {
        let mut header = String::new();
        if let Some(t) = t { header.push_str(&format!("t={t},")); }
        header.push_str(&junk);
        if let Some(s) = s { header.push_str(&format!(",s={s}")); }
        let _ = verify_signature(Some(&header), b"body", b"k", now(), DEFAULT_TOLERANCE);
    }

    #[test]
    fn signed_bodies_verify_and_any_change_is_caught(
        body in prop::collection::vec(any::<u8>(), 0..512),
        secret in prop::collection::vec(any::<u8>(), 0..64),
        skew in -300i64..=300,
        flip in any::<prop::sample::Index>(),
    ) {
        let t = now().timestamp() + skew;
        let header = sign(&secret, t, &body);
        prop_assert_eq!(verify_signature(Some(&header), &body, &secret, now(), DEFAULT_TOLERANCE), Ok(()));
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 0x01;
            prop_assert!(verify_signature(Some(&header), &tampered, &secret, now(), DEFAULT_TOLERANCE).is_err());
        }
    }

    #[test]
    fn webhook_payload_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(payload) = parse_payload(&bytes) {
            let _ = classify_webhook(&payload);
        }
        let _ = inspect_bytes(&bytes);
    }

    #[test]
    fn classification_is_stable_under_repeats_and_order(seed in any::<u64>()) {
        let order: Order = serde_json::from_slice(&fixture("billit/order-delivered-reported-partially-paid.json")).unwrap();
        let classified = classify_order(&order);
        let mut shuffled = classified.events.clone();
        shuffled.extend(classified.events.iter().take((seed % 5) as usize).cloned());
        let len = shuffled.len();
        shuffled.rotate_left((seed as usize) % len);
        prop_assert_eq!(
            Lifecycle::fold(&shuffled, &classified.facts),
            Lifecycle::fold(&classified.events, &classified.facts)
        );
    }
}
