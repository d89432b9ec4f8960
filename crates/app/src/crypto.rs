//! Secrets at rest (AES-256-GCM under the master key, bound to their company) and keys derived from the master key
//! for other purposes.

use crate::master_key::MasterKey;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use portal_domain::ids::TenantId;
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored secret is damaged or was encrypted under another master key")]
    Undecryptable,
    #[error("encryption failed")]
    Encryption,
}

/// What a secret's ciphertext starts with since secrets are bound to their company.
pub const BOUND_PREFIX: &str = "v2:";
const BOUND: &str = BOUND_PREFIX;

/// The associated data binding a secret to its company: moved to another company's row, it does not decrypt.
fn owner_data(owner: TenantId) -> String {
    format!("portal/tenant/{owner}")
}

/// Encrypts `plain` for the company `owner`: `v2:` then base64 of a random 96-bit nonce followed by the ciphertext
/// and tag, with the company's id as associated data.
pub fn encrypt(key: &MasterKey, owner: TenantId, plain: &str) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| CryptoError::Encryption)?;
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let aad = owner_data(owner);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::Encryption)?;
    let mut out = Vec::with_capacity(12 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(format!("{BOUND}{}", STANDARD.encode(out)))
}

/// Decrypts a secret of the company `owner`; one encrypted for another company (or not bound to one) does not
/// decrypt.
pub fn decrypt(key: &MasterKey, owner: TenantId, stored: &str) -> Result<String, CryptoError> {
    let sealed = stored
        .strip_prefix(BOUND)
        .ok_or(CryptoError::Undecryptable)?;
    open(key, sealed, owner_data(owner).as_bytes())
}

/// A secret stored before secrets were bound to their company, encrypted again bound to `owner` (the company
/// whose row holds it); `None` when it is bound already. Run once at start-up, before anything reads secrets.
pub fn bind_legacy(
    key: &MasterKey,
    owner: TenantId,
    stored: &str,
) -> Result<Option<String>, CryptoError> {
    if stored.starts_with(BOUND) {
        return Ok(None);
    }
    let plain = open(key, stored, b"")?;
    encrypt(key, owner, &plain).map(Some)
}

fn open(key: &MasterKey, encoded: &str, aad: &[u8]) -> Result<String, CryptoError> {
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| CryptoError::Undecryptable)?;
    if bytes.len() < 12 + 16 {
        return Err(CryptoError::Undecryptable);
    }
    let (nonce, sealed) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Undecryptable)?;
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| CryptoError::Undecryptable)?;
    let plain = cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
        .map_err(|_| CryptoError::Undecryptable)?;
    String::from_utf8(plain).map_err(|_| CryptoError::Undecryptable)
}

/// HMAC-SHA256 of `message` under a key derived from the master key for `purpose`, hex-encoded.
pub fn tag(key: &MasterKey, purpose: &str, message: &str) -> String {
    let derived = derive(key, purpose);
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(&derived) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a tag made by [`tag`].
pub fn verify_tag(key: &MasterKey, purpose: &str, message: &str, candidate: &str) -> bool {
    let Ok(candidate) = hex::decode(candidate) else {
        return false;
    };
    let derived = derive(key, purpose);
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(&derived) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&candidate).is_ok()
}

fn derive(key: &MasterKey, purpose: &str) -> Vec<u8> {
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(key.bytes()) else {
        return Vec::new();
    };
    mac.update(b"portal/");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_never_repeat_their_ciphertext() {
        let key = MasterKey::generate();
        let acme = TenantId::new();
        let first = encrypt(&key, acme, "api-key-123").unwrap();
        let second = encrypt(&key, acme, "api-key-123").unwrap();
        assert_ne!(first, second, "a fresh nonce each time");
        assert!(!first.contains("api-key-123"));
        assert_eq!(decrypt(&key, acme, &first).unwrap(), "api-key-123");
        assert!(
            decrypt(&MasterKey::generate(), acme, &first).is_err(),
            "another key cannot read it"
        );
        assert!(decrypt(&key, acme, "garbage").is_err());
        let mut tampered = STANDARD.decode(&first[BOUND.len()..]).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(decrypt(&key, acme, &format!("{BOUND}{}", STANDARD.encode(tampered))).is_err());
    }

    #[test]
    fn a_secret_moved_to_another_company_does_not_decrypt() {
        let key = MasterKey::generate();
        let (acme, globex) = (TenantId::new(), TenantId::new());
        let acmes = encrypt(&key, acme, "acme's key").unwrap();
        assert!(matches!(
            decrypt(&key, globex, &acmes),
            Err(CryptoError::Undecryptable)
        ));
    }

    /// The format before secrets were bound: base64 of nonce and ciphertext, no associated data.
    fn legacy(key: &MasterKey, plain: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(key.bytes()).unwrap();
        let nonce = [7u8; 12];
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .unwrap();
        STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    #[test]
    fn a_legacy_secret_is_bound_to_the_company_whose_row_holds_it_and_no_longer_read_unbound() {
        let key = MasterKey::generate();
        let (acme, globex) = (TenantId::new(), TenantId::new());
        let old = legacy(&key, "old key");
        assert!(
            decrypt(&key, acme, &old).is_err(),
            "unbound secrets are not read as they are"
        );
        let bound = bind_legacy(&key, acme, &old).unwrap().unwrap();
        assert_eq!(decrypt(&key, acme, &bound).unwrap(), "old key");
        assert!(decrypt(&key, globex, &bound).is_err());
        assert_eq!(
            bind_legacy(&key, acme, &bound).unwrap(),
            None,
            "bound already"
        );
        assert!(bind_legacy(&key, acme, "garbage").is_err());
    }

    #[test]
    fn tags_depend_on_key_purpose_and_message() {
        let key = MasterKey::generate();
        let csrf = tag(&key, "csrf", "session-1");
        assert!(verify_tag(&key, "csrf", "session-1", &csrf));
        assert!(!verify_tag(&key, "csrf", "session-2", &csrf));
        assert!(!verify_tag(&key, "other", "session-1", &csrf));
        assert!(!verify_tag(
            &MasterKey::generate(),
            "csrf",
            "session-1",
            &csrf
        ));
        assert!(!verify_tag(&key, "csrf", "session-1", "zz"));
    }
}
