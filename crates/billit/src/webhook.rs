//! Billit webhooks: the `Billit-Signature` header and the payload.
//!
//! Billit signs each call with `Billit-Signature: t=<unix seconds>,s=<hex>`, where `s` is the
//! HMAC-SHA256, keyed by the webhook's secret, of `"<t>.<raw body>"`. [`verify_signature`] checks
//! it in constant time and refuses a timestamp further than the tolerance from now (either way).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use portal_domain::Localized;
use sha2::Sha256;
use std::time::Duration;

pub use crate::wire::WebhookPayload;

/// The header's name.
pub const SIGNATURE_HEADER: &str = "Billit-Signature";
/// The default timestamp tolerance: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// The largest header accepted.
const MAX_HEADER_LEN: usize = 1024;
/// The largest body accepted by [`parse_payload`] (the web layer refuses more than 1 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Billit-Signature` header.
    #[error("missing Billit-Signature header")]
    MissingHeader,
    /// The header is not `t=<digits>,s=<hex>`.
    #[error("malformed Billit-Signature header: {0}")]
    Malformed(&'static str),
    /// The timestamp is too far from now.
    #[error(
        "stale Billit-Signature timestamp ({age_seconds} s from now, tolerance {tolerance_seconds} s)"
    )]
    Stale {
        /// Now minus the timestamp, in seconds (negative: in the future).
        age_seconds: i64,
        /// The tolerance, in seconds.
        tolerance_seconds: u64,
    },
    /// The signature does not match the body and secret.
    #[error("Billit-Signature does not match")]
    Mismatch,
}

impl Localized for SignatureError {
    fn message_fr(&self) -> String {
        match self {
            Self::MissingHeader => "En-tête Billit-Signature absent".to_owned(),
            Self::Malformed(detail) => format!("En-tête Billit-Signature mal formé : {detail}"),
            Self::Stale { age_seconds, .. } => {
                format!("Signature Billit périmée ({age_seconds} s d'écart)")
            }
            Self::Mismatch => "La signature Billit ne correspond pas".to_owned(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A parsed `Billit-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The timestamp (unix seconds).
    pub timestamp: i64,
    /// The signatures (`s=`), decoded from hex; usually one.
    pub signatures: Vec<Vec<u8>>,
}

/// Parses `t=<unix seconds>,s=<hex>` (spaces around parts allowed, several `s=` accepted,
/// unknown keys ignored).
pub fn parse_signature_header(header: &str) -> Result<SignatureHeader, SignatureError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed("too long"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(SignatureError::Malformed("a part is not key=value"));
        };
        match key.trim() {
            "t" => {
                let value = value.trim();
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed("two timestamps"));
                }
                if value.is_empty()
                    || value.len() > 12
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SignatureError::Malformed("t is not unix seconds"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed("t is not unix seconds"))?,
                );
            }
            "s" => {
                let value = value.trim();
                let decoded = hex::decode(value)
                    .map_err(|_| SignatureError::Malformed("s is not hexadecimal"))?;
                if decoded.len() != 32 {
                    return Err(SignatureError::Malformed("s is not a SHA-256 HMAC"));
                }
                signatures.push(decoded);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no t= timestamp"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no s= signature"));
    }
    Ok(SignatureHeader {
        timestamp,
        signatures,
    })
}

fn mac(secret: &[u8], timestamp: i64, raw_body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; an empty MAC would simply never match.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => HmacSha256::new(&Default::default()),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(raw_body);
    mac
}

/// The hex HMAC-SHA256 of `"<timestamp>.<raw body>"` keyed by `secret`.
pub fn compute_signature(secret: &[u8], timestamp: i64, raw_body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, raw_body).finalize().into_bytes())
}

/// The `Billit-Signature` header value for a body (what the sandbox sends).
pub fn sign(secret: &[u8], timestamp: i64, raw_body: &[u8]) -> String {
    format!(
        "t={timestamp},s={}",
        compute_signature(secret, timestamp, raw_body)
    )
}

/// Verifies a `Billit-Signature` header against the raw body, in constant time.
pub fn verify_signature(
    header: Option<&str>,
    raw_body: &[u8],
    secret: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    if header.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    let parsed = parse_signature_header(header)?;
    let age_seconds = now.timestamp().saturating_sub(parsed.timestamp);
    let tolerance_seconds = tolerance.as_secs();
    if age_seconds.unsigned_abs() > tolerance_seconds {
        return Err(SignatureError::Stale {
            age_seconds,
            tolerance_seconds,
        });
    }
    let expected = mac(secret, parsed.timestamp, raw_body);
    // `verify_slice` compares in constant time; try every given signature.
    let matched = parsed
        .signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok());
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Why a webhook body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("webhook body too large ({0} bytes)")]
    TooLarge(usize),
    /// Not the JSON of a webhook payload.
    #[error("webhook body is not a Billit webhook payload: {0}")]
    Json(#[from] serde_json::Error),
}

impl Localized for PayloadError {
    fn message_fr(&self) -> String {
        match self {
            Self::TooLarge(size) => format!("Corps du webhook trop volumineux ({size} octets)"),
            Self::Json(error) => format!("Corps du webhook illisible : {error}"),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Reads a webhook body (after its signature was verified).
pub fn parse_payload(raw_body: &[u8]) -> Result<WebhookPayload, PayloadError> {
    if raw_body.len() > MAX_PAYLOAD_BYTES {
        return Err(PayloadError::TooLarge(raw_body.len()));
    }
    let body = raw_body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw_body);
    Ok(serde_json::from_slice(body)?)
}
