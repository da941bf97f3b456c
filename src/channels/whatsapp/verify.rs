//! Webhook authentication for the WhatsApp Cloud API: the one-time subscription
//! handshake (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`) and the
//! `X-Hub-Signature-256` HMAC that Meta puts on every webhook POST. Both comparisons
//! are constant-time, and neither the verify token nor the app secret ever appears in
//! an error, a log line or a `Debug` output.
//!
//! [`sign`] produces the header value the way Meta does, so tests (here and in the
//! main crate) can build correctly signed requests.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of the `X-Hub-Signature-256` header value.
const SIGNATURE_PREFIX: &str = "sha256=";
/// Longest `hub.challenge` we echo back (Meta sends a short decimal number).
const MAX_CHALLENGE_LEN: usize = 512;

/// Why a subscription handshake or a webhook signature was rejected. The variants
/// carry no request data and no secrets, so they are safe to log and to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The expected verify token / app secret is empty: refuse rather than accept
    /// anything an attacker can compute.
    #[error("webhook secret is not configured")]
    NotConfigured,
    /// `hub.mode` is missing or is not `subscribe`.
    #[error("hub.mode is missing or is not `subscribe`")]
    BadMode,
    /// `hub.verify_token` is missing or does not match.
    #[error("hub.verify_token is missing or does not match")]
    BadToken,
    /// `hub.challenge` is missing or empty.
    #[error("hub.challenge is missing")]
    MissingChallenge,
    /// `hub.challenge` is longer than 512 bytes or contains control characters.
    #[error("hub.challenge is malformed")]
    MalformedChallenge,
    /// No `X-Hub-Signature-256` header.
    #[error("signature header is missing")]
    MissingSignature,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("signature header is malformed")]
    MalformedSignature,
    /// Well-formed, but not the HMAC of this body under our app secret.
    #[error("signature does not match")]
    BadSignature,
}

/// Answers Meta's subscription handshake: returns the challenge to echo back (as the
/// plain-text response body) when `mode` is `subscribe` and `token` equals
/// `expected_verify_token` (compared in constant time).
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_verify_token: &str,
) -> Result<String, VerifyError> {
    if expected_verify_token.is_empty() {
        return Err(VerifyError::NotConfigured);
    }
    if mode != Some("subscribe") {
        return Err(VerifyError::BadMode);
    }
    let token = token.ok_or(VerifyError::BadToken)?;
    if !bool::from(token.as_bytes().ct_eq(expected_verify_token.as_bytes())) {
        return Err(VerifyError::BadToken);
    }
    let challenge = match challenge {
        None | Some("") => return Err(VerifyError::MissingChallenge),
        Some(c) => c,
    };
    if challenge.len() > MAX_CHALLENGE_LEN || challenge.chars().any(char::is_control) {
        return Err(VerifyError::MalformedChallenge);
    }
    Ok(challenge.to_owned())
}

/// Checks `X-Hub-Signature-256` (`sha256=<hex HMAC-SHA256(app_secret, raw_body)>`)
/// against the raw request body, exactly as received (before any JSON parsing).
/// Hex digits may be upper or lower case; any other prefix (e.g. `sha1=`) is
/// malformed. The MAC comparison is constant-time (`Mac::verify_slice`).
pub fn verify_signature(
    raw_body: &[u8],
    header: Option<&str>,
    app_secret: &str,
) -> Result<(), VerifyError> {
    if app_secret.is_empty() {
        return Err(VerifyError::NotConfigured);
    }
    let header = header.ok_or(VerifyError::MissingSignature)?;
    let hex_sig = header
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(VerifyError::MalformedSignature)?;
    // SHA-256 output is 32 bytes = 64 hex digits.
    if hex_sig.len() != 64 {
        return Err(VerifyError::MalformedSignature);
    }
    let expected = hex::decode(hex_sig).map_err(|_| VerifyError::MalformedSignature)?;
    let mut mac = new_mac(app_secret).ok_or(VerifyError::NotConfigured)?;
    mac.update(raw_body);
    mac.verify_slice(&expected)
        .map_err(|_| VerifyError::BadSignature)
}

/// The `X-Hub-Signature-256` header value Meta would send for `body` under
/// `app_secret`: `sha256=` + lowercase hex HMAC-SHA256. Test helper.
pub fn sign(body: &[u8], app_secret: &str) -> String {
    let Some(mut mac) = new_mac(app_secret) else {
        // Unreachable: HMAC accepts keys of any length. Never panic, though.
        return SIGNATURE_PREFIX.to_owned();
    };
    mac.update(body);
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn new_mac(secret: &str) -> Option<HmacSha256> {
    HmacSha256::new_from_slice(secret.as_bytes()).ok()
}
