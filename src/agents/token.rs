//! Agent tokens: `sba_` and 256 random bits, shown once at creation. The store keeps
//! the SHA-256 only, so a lookup by digest finds the agent and a leaked table signs no
//! one in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{AgentRow, Store, StoreError};

/// A new token and its display prefix.
pub fn generate() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("sba_{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = token[..12].to_string();
    (token, prefix)
}

/// SHA-256 of a token, hex encoded: what the store keeps.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The agent a token belongs to; `None` for an unknown, deleted or malformed token.
pub async fn authenticate(store: &Store, token: &str) -> Result<Option<AgentRow>, StoreError> {
    if !token.starts_with("sba_") || token.len() > 100 {
        return Ok(None);
    }
    store.agent_by_token_hash(&digest(token)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_digest_is_kept() {
        let (a, prefix) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(a.starts_with("sba_") && a.starts_with(&prefix));
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
        assert!(!digest(&a).contains(&a[4..]));
    }
}
