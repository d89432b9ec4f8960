//! The master key that encrypts tenants' secrets at rest (AES-256-GCM, in the accounts issue).
//!
//! From configuration when given; otherwise generated once into `<data_dir>/master.key` (mode 0600) so that the
//! embedded default needs nothing and no key is ever committed as a default.

use rand::RngCore;
use std::io::Write;
use std::path::Path;

pub const FILE_NAME: &str = "master.key";

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// 64 hexadecimal characters. The message never repeats the input.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| "must be 64 hexadecimal characters".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 64 hexadecimal characters (32 bytes)".to_owned())?;
        Ok(Self(key))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads `<dir>/master.key`, creating it (owner-only) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let path = dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(&text)
                .map_err(|message| format!("{} is damaged: it {message}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options
                    .open(&path)
                    .map_err(|error| format!("cannot create {}: {error}", path.display()))?;
                file.write_all(hex::encode(key.0).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
                Ok(key)
            }
            Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_generated_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path()).unwrap();
        let second = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.bytes(), second.bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&hex::encode(first.bytes())));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "not hex").unwrap();
        let error = MasterKey::load_or_create(dir.path()).unwrap_err();
        assert!(error.contains("damaged"), "{error}");
    }

    #[test]
    fn hex_keys_must_be_32_bytes() {
        assert!(MasterKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::from_hex(&"ab".repeat(31)).is_err());
        assert!(MasterKey::from_hex("zz").is_err());
    }
}
