//! Secrets at rest (AES-256-GCM under the master key) and keys derived from the master key for other purposes.

use crate::master_key::MasterKey;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
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

/// Encrypts `plain`: base64 of a random 96-bit nonce followed by the ciphertext and tag.
pub fn encrypt(key: &MasterKey, plain: &str) -> Result<String, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| CryptoError::Encryption)?;
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), plain.as_bytes())
        .map_err(|_| CryptoError::Encryption)?;
    let mut out = Vec::with_capacity(12 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

pub fn decrypt(key: &MasterKey, stored: &str) -> Result<String, CryptoError> {
    let bytes = STANDARD
        .decode(stored)
        .map_err(|_| CryptoError::Undecryptable)?;
    if bytes.len() < 12 + 16 {
        return Err(CryptoError::Undecryptable);
    }
    let (nonce, sealed) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Undecryptable)?;
    let cipher = Aes256Gcm::new_from_slice(key.bytes()).map_err(|_| CryptoError::Undecryptable)?;
    let plain = cipher
        .decrypt(&Nonce::from(nonce), sealed)
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
        let first = encrypt(&key, "api-key-123").unwrap();
        let second = encrypt(&key, "api-key-123").unwrap();
        assert_ne!(first, second, "a fresh nonce each time");
        assert!(!first.contains("api-key-123"));
        assert_eq!(decrypt(&key, &first).unwrap(), "api-key-123");
        assert!(
            decrypt(&MasterKey::generate(), &first).is_err(),
            "another key cannot read it"
        );
        assert!(decrypt(&key, "garbage").is_err());
        let mut tampered = STANDARD.decode(&first).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(decrypt(&key, &STANDARD.encode(tampered)).is_err());
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
