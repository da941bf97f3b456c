//! HTTP helpers shared by every provider client (WhatsApp, Slack, Teams): one
//! `Retry-After` policy, capped body reads, secret-free error descriptions, and the
//! generic classification of a failed call into [`SendError`]. Provider clients add
//! only what is theirs (Graph error codes, Slack's `ok:false` errors).
//!
//! Nothing here formats a request body or header, so secrets cannot leak through these
//! strings; provider text that may echo a credential goes through [`scrub`].

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::channels::inbound::SendError;

/// The wait suggested for a rate limit without a usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;
/// The longest `Retry-After` passed on (one hour); the retry policy bounds it further.
pub const MAX_RETRY_AFTER_MS: u64 = 3_600_000;
/// Provider error text copied into a [`SendError`] is cut to this many characters.
pub const MAX_ERROR_CHARS: usize = 300;

/// `Retry-After` in delay-seconds (an integer, or a decimal as some providers send) in
/// milliseconds, at most [`MAX_RETRY_AFTER_MS`]. The HTTP-date form and junk give
/// `None`, and the caller's default applies.
pub fn parse_retry_after_ms(value: &str) -> Option<u64> {
    let raw = value.trim();
    let ms = match raw.parse::<u64>() {
        Ok(secs) => secs.saturating_mul(1_000),
        Err(_) => {
            let secs: f64 = raw.parse().ok()?;
            if !(secs.is_finite() && secs >= 0.0) {
                return None;
            }
            // `as` saturates for out-of-range floats.
            (secs * 1_000.0).ceil() as u64
        }
    };
    Some(ms.min(MAX_RETRY_AFTER_MS))
}

/// The `Retry-After` of a response, in milliseconds (see [`parse_retry_after_ms`]).
pub fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    parse_retry_after_ms(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

/// A rate limit, waiting for `Retry-After` or `default_ms`.
pub fn rate_limited(headers: &HeaderMap, default_ms: u64) -> SendError {
    SendError::RateLimited {
        retry_after_ms: retry_after_ms(headers).unwrap_or(default_ms),
    }
}

/// Reads at most `max` bytes of the body; the rest is discarded (a provider that
/// accepted a message must not look like a failure because its answer was long).
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    Ok(body)
}

/// A transport error with its source chain (reqwest's own `Display` is terse), without
/// the URL, so conversation ids do not end up in every log line.
pub fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "response body error"
    } else {
        "request error"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// A call that got no HTTP status: a request that could not be built is permanent;
/// connect errors, timeouts and resets are transient.
pub fn classify_transport(what: &str, error: &reqwest::Error) -> SendError {
    let text = format!("{what}: {}", describe_reqwest_error(error));
    if error.is_builder() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

/// A call answered with a non-success status: 429 waits for `Retry-After`, 5xx and 408
/// are transient, anything else is permanent. `detail` (already scrubbed) says more.
pub fn classify_status(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: &str,
) -> SendError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return rate_limited(headers, DEFAULT_RETRY_AFTER_MS);
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    let text = format!("{what} HTTP {}{detail}", status.as_u16());
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        SendError::Transient(text)
    } else {
        SendError::Permanent(text)
    }
}

/// Removes `secret` from provider- or transport-supplied text and bounds its length.
pub fn scrub(text: &str, secret: &str) -> String {
    let cleaned = if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    };
    match cleaned.char_indices().nth(MAX_ERROR_CHARS) {
        Some((idx, _)) => format!("{}…", &cleaned[..idx]),
        None => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_retry_after_policy() {
        assert_eq!(parse_retry_after_ms("3"), Some(3_000));
        assert_eq!(parse_retry_after_ms(" 0 "), Some(0));
        assert_eq!(parse_retry_after_ms("1.5"), Some(1_500));
        assert_eq!(parse_retry_after_ms("0.0004"), Some(1));
        assert_eq!(parse_retry_after_ms("soon"), None);
        assert_eq!(parse_retry_after_ms("-1"), None);
        assert_eq!(parse_retry_after_ms("NaN"), None);
        assert_eq!(parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(
            parse_retry_after_ms("99999999999999999"),
            Some(MAX_RETRY_AFTER_MS)
        );
        assert_eq!(parse_retry_after_ms("1e300"), Some(MAX_RETRY_AFTER_MS));
    }

    #[test]
    fn statuses_are_classified_once() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(
            classify_status("x", StatusCode::TOO_MANY_REQUESTS, &headers, ""),
            SendError::RateLimited {
                retry_after_ms: 7_000
            }
        );
        let empty = HeaderMap::new();
        assert!(matches!(
            classify_status("x", StatusCode::BAD_GATEWAY, &empty, "d"),
            SendError::Transient(text) if text == "x HTTP 502: d"
        ));
        assert!(matches!(
            classify_status("x", StatusCode::REQUEST_TIMEOUT, &empty, ""),
            SendError::Transient(_)
        ));
        assert!(matches!(
            classify_status("x", StatusCode::FORBIDDEN, &empty, ""),
            SendError::Permanent(_)
        ));
    }

    #[test]
    fn scrubbing_removes_the_secret_and_bounds_the_text() {
        assert_eq!(
            scrub("token sk-1 leaked", "sk-1"),
            "token [redacted] leaked"
        );
        let long = "é".repeat(MAX_ERROR_CHARS + 10);
        assert_eq!(scrub(&long, "").chars().count(), MAX_ERROR_CHARS + 1);
    }
}
