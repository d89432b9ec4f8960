//! Webhook signatures: an independently computed vector, and every way to fail.

use crate::support::fixture;
use chrono::{DateTime, TimeZone, Utc};
use portal_billit::webhook::{
    DEFAULT_TOLERANCE, SignatureError, compute_signature, parse_payload, parse_signature_header,
    sign, verify_signature,
};
use std::time::Duration;

const SECRET: &[u8] = b"whsec_test_secret";
const T: i64 = 1_780_000_000;
// Computed with Python: hmac.new(b"whsec_test_secret", b"1780000000." + body, sha256).hexdigest()
const VECTOR: &str = "d29af9578c3d4437870d66c8aa71ed2e58d42d9bf2b308c3d6a9d2112b3ccbd0";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap()
}

#[test]
fn known_vectors() {
    let body = fixture("billit/webhook-message-refused.json");
    assert_eq!(compute_signature(SECRET, T, &body), VECTOR);
    assert_eq!(
        compute_signature(b"key", 1_700_000_000, br#"{"a":1}"#),
        "a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
    );
    let header = format!("t={T},s={VECTOR}");
    assert_eq!(sign(SECRET, T, &body), header);
    assert_eq!(
        verify_signature(Some(&header), &body, SECRET, at(T), DEFAULT_TOLERANCE),
        Ok(())
    );
    // Upper-case hex, spaces and an unknown key are fine.
    let loose = format!(" t={T} , v=1, s={} ", VECTOR.to_uppercase());
    assert_eq!(
        verify_signature(Some(&loose), &body, SECRET, at(T + 10), DEFAULT_TOLERANCE),
        Ok(())
    );
}

#[test]
fn tampered_body_wrong_secret() {
    let body = fixture("billit/webhook-message-refused.json");
    let header = sign(SECRET, T, &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        verify_signature(Some(&header), &tampered, SECRET, at(T), DEFAULT_TOLERANCE),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(
            Some(&header),
            &body,
            b"another secret",
            at(T),
            DEFAULT_TOLERANCE
        ),
        Err(SignatureError::Mismatch)
    );
    // A signature for another timestamp does not match.
    let moved = format!("t={},s={VECTOR}", T + 1);
    assert_eq!(
        verify_signature(Some(&moved), &body, SECRET, at(T), DEFAULT_TOLERANCE),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stale_timestamps() {
    let body = b"{}";
    let header = sign(SECRET, T, body);
    assert_eq!(
        verify_signature(Some(&header), body, SECRET, at(T + 301), DEFAULT_TOLERANCE),
        Err(SignatureError::Stale {
            age_seconds: 301,
            tolerance_seconds: 300
        })
    );
    assert_eq!(
        verify_signature(Some(&header), body, SECRET, at(T - 301), DEFAULT_TOLERANCE),
        Err(SignatureError::Stale {
            age_seconds: -301,
            tolerance_seconds: 300
        })
    );
    assert_eq!(
        verify_signature(Some(&header), body, SECRET, at(T + 300), DEFAULT_TOLERANCE),
        Ok(())
    );
    assert_eq!(
        verify_signature(
            Some(&header),
            body,
            SECRET,
            at(T + 3_000),
            Duration::from_secs(3_600)
        ),
        Ok(())
    );
}

#[test]
fn bad_headers() {
    let body = b"{}";
    assert_eq!(
        verify_signature(None, body, SECRET, at(T), DEFAULT_TOLERANCE),
        Err(SignatureError::MissingHeader)
    );
    assert_eq!(
        verify_signature(Some("  "), body, SECRET, at(T), DEFAULT_TOLERANCE),
        Err(SignatureError::MissingHeader)
    );
    let sig = compute_signature(SECRET, T, body);
    for bad in [
        "garbage".to_owned(),
        format!("s={sig}"),
        format!("t={T}"),
        format!("t=abc,s={sig}"),
        format!("t=-5,s={sig}"),
        format!("t={T},s=zz"),
        format!("t={T},s=abcd"),
        format!("t={T},t={T},s={sig}"),
        format!("t=99999999999999999999,s={sig}"),
        "x".repeat(5_000),
    ] {
        assert!(
            matches!(
                verify_signature(Some(&bad), body, SECRET, at(T), DEFAULT_TOLERANCE),
                Err(SignatureError::Malformed(_))
            ),
            "{bad}"
        );
    }
    assert!(parse_signature_header(&format!("t={T},s={sig},s={sig}")).is_ok());
}

#[test]
fn payloads() {
    let payload = parse_payload(&fixture("billit/webhook-message-refused.json")).unwrap();
    assert_eq!(payload.updated_entity_id, Some(100));
    assert!(parse_payload(b"not json").is_err());
    assert!(parse_payload(b"[]").is_err());
    assert!(parse_payload(&vec![b' '; 2 * 1024 * 1024]).is_err());
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_payload(nested.as_bytes()).is_err());
}
