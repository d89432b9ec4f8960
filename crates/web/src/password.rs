//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), always off the async threads.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted anywhere in the portal.
pub const MIN_LENGTH: usize = 12;

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes on the blocking pool: about 20 ms of CPU that must not stall other requests.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("argon2 failed: {error}"))
    })
    .await
    .context("the hashing task stopped")?
}

/// True when `password` matches the stored PHC string; false for a mismatch or an unreadable hash.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .context("the verification task stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let first = hash("correct horse battery".to_owned()).await.unwrap();
        let second = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(
            verify("correct horse battery".to_owned(), first.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".to_owned(), first)
                .await
                .unwrap()
        );
        assert!(
            !verify("x".to_owned(), "not a hash".to_owned())
                .await
                .unwrap()
        );
    }
}
