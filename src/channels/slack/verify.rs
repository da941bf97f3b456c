//! Slack request signing (Events API): every request carries
//! `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`, where the hex is
//! HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`). [`verify`] checks it in
//! constant time and rejects timestamps more than five minutes from "now" (either
//! direction) to blunt replays. The signing secret never appears in errors or logs.
//!
//! [`sign`] computes the header value like Slack does, for tests.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION_PREFIX: &str = "v0=";
/// Largest accepted distance between the request timestamp and now, in seconds.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Why a request failed verification. Carries no request data or secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signing secret is empty: refuse rather than accept computable signatures.
    #[error("signing secret is not configured")]
    NotConfigured,
    #[error("X-Slack-Request-Timestamp is missing")]
    MissingTimestamp,
    /// Not a plain decimal number of seconds.
    #[error("X-Slack-Request-Timestamp is malformed")]
    MalformedTimestamp,
    /// More than 300 s before or after now.
    #[error("X-Slack-Request-Timestamp is too far from the current time")]
    StaleTimestamp,
    #[error("X-Slack-Signature is missing")]
    MissingSignature,
    /// Not `v0=` followed by 64 hex digits.
    #[error("X-Slack-Signature is malformed")]
    MalformedSignature,
    #[error("X-Slack-Signature does not match")]
    BadSignature,
}

/// Verifies a Slack request: `timestamp` and `signature` are the raw header values,
/// `raw_body` the body exactly as received, `now_unix` the current Unix time.
pub fn verify(
    raw_body: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    signing_secret: &str,
    now_unix: i64,
) -> Result<(), VerifyError> {
    if signing_secret.is_empty() {
        return Err(VerifyError::NotConfigured);
    }
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    if timestamp.is_empty()
        || timestamp.len() > 18
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VerifyError::MalformedTimestamp);
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    if now_unix.abs_diff(ts) > MAX_CLOCK_SKEW_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let hex_sig = signature
        .strip_prefix(VERSION_PREFIX)
        .ok_or(VerifyError::MalformedSignature)?;
    if hex_sig.len() != 64 {
        return Err(VerifyError::MalformedSignature);
    }
    let expected = hex::decode(hex_sig).map_err(|_| VerifyError::MalformedSignature)?;
    let mac =
        base_string_mac(raw_body, signing_secret, timestamp).ok_or(VerifyError::NotConfigured)?;
    mac.verify_slice(&expected)
        .map_err(|_| VerifyError::BadSignature)
}

/// The `X-Slack-Signature` value Slack would send for `body` at Unix time `ts`
/// (send `ts.to_string()` as `X-Slack-Request-Timestamp`). Test helper.
pub fn sign(body: &[u8], secret: &str, ts: i64) -> String {
    match base_string_mac(body, secret, &ts.to_string()) {
        Some(mac) => format!(
            "{VERSION_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        ),
        // Unreachable: HMAC accepts keys of any length. Never panic, though.
        None => VERSION_PREFIX.to_owned(),
    }
}

/// HMAC over Slack's base string `v0:{timestamp}:{body}`, fed in pieces so the body is
/// not copied.
fn base_string_mac(body: &[u8], secret: &str, timestamp: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}
