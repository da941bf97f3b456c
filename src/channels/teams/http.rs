//! What the Teams clients (JWKS, token, connector) share beyond the provider-neutral
//! helpers of [`crate::channels::provider_http`]: percent-encoding a path segment the
//! way the Bot Framework SDKs do (`encodeURIComponent`), bounding text taken from
//! responses, and their default timeout.

use std::time::Duration;

/// Percent-encodes everything but RFC 3986 unreserved characters, so a conversation id
/// such as `19:abc@thread.skype;messageid=1` stays one path segment.
pub fn encode_path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A string cut to at most `max` characters (for error details taken from bodies).
pub fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Default per-request timeout used by the Teams clients.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_teams_conversation_ids() {
        assert_eq!(
            encode_path_segment("19:abc@thread.skype;messageid=1"),
            "19%3Aabc%40thread.skype%3Bmessageid%3D1"
        );
        assert_eq!(encode_path_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }
}
