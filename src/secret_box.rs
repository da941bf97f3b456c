//! Encryption of tenant secrets at rest (adaptor credentials): AES-256-GCM with a random
//! nonce per value. The key comes from `security.secrets_key`; without one it is
//! generated once and kept in the database (fine for the demo, weaker in production:
//! set the key through the environment so a database dump alone reveals nothing).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox { key: <redacted> }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretBoxError {
    #[error("the secrets key must be 32 bytes written as 64 hex digits")]
    BadKey,
    #[error("a stored secret could not be decrypted (wrong key or corrupt value)")]
    Undecryptable,
}

impl SecretBox {
    /// From 64 hex digits.
    pub fn from_hex(key: &str) -> Result<Self, SecretBoxError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SecretBoxError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SecretBoxError::BadKey)?;
        Ok(Self { cipher })
    }

    /// A fresh random key, as 64 hex digits.
    pub fn generate_key_hex() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// base64(nonce ‖ ciphertext).
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretBoxError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| SecretBoxError::Undecryptable)?;
        if bytes.len() < 12 {
            return Err(SecretBoxError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretBoxError::Undecryptable)?;
        String::from_utf8(plaintext).map_err(|_| SecretBoxError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_tampering() {
        let sealed_box = SecretBox::from_hex(&SecretBox::generate_key_hex()).unwrap();
        let sealed = sealed_box.seal("s3cret-token");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            sealed_box.seal("s3cret-token"),
            "random nonce per value"
        );
        assert_eq!(sealed_box.open(&sealed).unwrap(), "s3cret-token");
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealed_box.open(&STANDARD.encode(tampered)).is_err());
        let other = SecretBox::from_hex(&SecretBox::generate_key_hex()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(SecretBox::from_hex("abcd").is_err());
    }
}
