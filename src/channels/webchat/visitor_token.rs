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

    /// A preview ticket: lets a web chat `hello` open a conversation on a preview version
    /// of a flow (`p1.<flow>.<version>.<expires ms>.<tag>`), for this tenant, until
    /// `expires_at_ms`. Issued by the admin API to an editor.
    pub fn issue_preview(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: i64,
        expires_at_ms: i64,
    ) -> String {
        let body = format!("{flow_id}.{version}.{expires_at_ms}");
        let tag = self.preview_mac(tenant_id, &body).finalize().into_bytes();
        format!("p1.{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The flow and preview version of a genuine, unexpired ticket for this tenant.
    pub fn verify_preview(
        &self,
        tenant_id: &str,
        ticket: &str,
        now_ms: i64,
    ) -> Option<(String, i64)> {
        let mut parts = ticket.split('.');
        let (Some("p1"), Some(flow_id), Some(version), Some(expires), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let version: i64 = version.parse().ok().filter(|v| *v < 0)?;
        let expires: i64 = expires.parse().ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.preview_mac(tenant_id, &format!("{flow_id}.{version}.{expires}"))
            .verify_slice(&tag)
            .ok()?;
        (now_ms < expires).then(|| (flow_id.to_string(), version))
    }

    fn preview_mac(&self, tenant_id: &str, body: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"p1\0");
        mac.update(tenant_id.as_bytes());
        mac.update(b"\0");
        mac.update(body.as_bytes());
        mac
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
    fn preview_tickets_are_bound_to_tenant_flow_version_and_time() {
        let tokens = VisitorTokens::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let ticket = tokens.issue_preview("acme", "main", -3, 2_000);
        assert_eq!(
            tokens.verify_preview("acme", &ticket, 1_999),
            Some(("main".to_string(), -3))
        );
        assert_eq!(
            tokens.verify_preview("acme", &ticket, 2_000),
            None,
            "expired"
        );
        assert_eq!(
            tokens.verify_preview("other", &ticket, 0),
            None,
            "another tenant"
        );
        let other_version = ticket.replace(".-3.", ".-2.");
        assert_eq!(tokens.verify_preview("acme", &other_version, 0), None);
        let later = ticket.replace(".2000.", ".9000.");
        assert_eq!(
            tokens.verify_preview("acme", &later, 0),
            None,
            "expiry is signed"
        );
        let published = tokens.issue_preview("acme", "main", 3, 2_000);
        assert_eq!(
            tokens.verify_preview("acme", &published, 0),
            None,
            "only previews"
        );
        let visitor = tokens.issue("acme", "main");
        assert_eq!(tokens.verify_preview("acme", &visitor, 0), None);
    }

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
