//! Visitor tokens: the server-signed identity of a web chat visitor.
//!
//! Format: `v1.<visitor id>.<base64url HMAC-SHA256>` where the MAC covers the version,
//! the tenant and the visitor id, so a token is valid for one tenant only. Verification
//! is constant-time (`Mac::verify_slice`). A conversation is resumed only with the token
//! of the visitor who owns it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub struct VisitorTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for VisitorTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorTokens { key: <redacted> }")
    }
}

impl VisitorTokens {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self, tenant_id: &str, visitor_id: &str) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"v1\0");
        mac.update(tenant_id.as_bytes());
        mac.update(b"\0");
        mac.update(visitor_id.as_bytes());
        mac
    }

    pub fn issue(&self, tenant_id: &str, visitor_id: &str) -> String {
        let tag = self.mac(tenant_id, visitor_id).finalize().into_bytes();
        format!("v1.{visitor_id}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The visitor id of a genuine token for this tenant.
    pub fn verify(&self, tenant_id: &str, token: &str) -> Option<String> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(visitor_id), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if visitor_id.is_empty() || visitor_id.len() > 64 {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(tenant_id, visitor_id)
            .verify_slice(&tag)
            .ok()
            .map(|()| visitor_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgeries() {
        let tokens = VisitorTokens::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let token = tokens.issue("acme", "visitor-1");
        assert_eq!(tokens.verify("acme", &token).as_deref(), Some("visitor-1"));
        // bound to the tenant
        assert_eq!(tokens.verify("other", &token), None);
        // another visitor id with the same tag
        let forged = token.replace("visitor-1", "visitor-2");
        assert_eq!(tokens.verify("acme", &forged), None);
        // another key
        let other = VisitorTokens::new(b"another key of sufficient length!!".to_vec());
        assert_eq!(other.verify("acme", &token), None);
        for junk in [
            "",
            "v1",
            "v1..",
            "v2.visitor-1.abc",
            "v1.a.b.c",
            "v1.visitor-1.%%%",
        ] {
            assert_eq!(tokens.verify("acme", junk), None, "{junk}");
        }
    }
}
