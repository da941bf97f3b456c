//! Small HTTP helpers shared by the Teams clients (JWKS, token, connector): reading a
//! response body with a size cap, classifying HTTP statuses and transport errors into
//! the shared [`SendError`], and percent-encoding a path segment the way the Bot
//! Framework SDKs do (`encodeURIComponent`). Nothing here ever formats a request body
//! or header, so secrets cannot leak through these error strings.

use std::time::Duration;

use reqwest::StatusCode;

use crate::channels::inbound::SendError;

/// Default wait suggested to the sender for a 429 without a usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;
/// Upper bound for a `Retry-After` we pass on (one hour).
const MAX_RETRY_AFTER_MS: u64 = 3_600_000;

/// Reads the whole body, failing if it exceeds `max` bytes.
pub async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if let Some(len) = response.content_length()
        && len > max as u64
    {
        return Err(format!("response body too large ({len} bytes)"));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(format!("response body larger than {max} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(describe_reqwest_error(&e)),
        }
    }
}

/// A short, secret-free description of a transport error (no URL query, no body).
pub fn describe_reqwest_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else if e.is_request() {
        "request error"
    } else {
        "http error"
    };
    // reqwest's Display includes the URL; our URLs carry no credentials, but strip the
    // URL anyway so conversation ids do not end up in every log line.
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{kind}: {text}")
}

/// Maps a transport error (no HTTP status received) to a [`SendError`]: builder errors
/// (bad URL…) are permanent, everything else (connect, timeout, reset) is transient.
pub fn classify_transport(e: &reqwest::Error) -> SendError {
    if e.is_builder() {
        SendError::Permanent(describe_reqwest_error(e))
    } else {
        SendError::Transient(describe_reqwest_error(e))
    }
}

/// Maps a non-success HTTP status to a [`SendError`]. `what` names the call.
pub fn classify_status(
    what: &str,
    status: StatusCode,
    retry_after: Option<&reqwest::header::HeaderValue>,
    detail: &str,
) -> SendError {
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::RateLimited {
            retry_after_ms: retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after_ms)
                .unwrap_or(DEFAULT_RETRY_AFTER_MS),
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        SendError::Transient(format!("{what}: HTTP {}{detail}", status.as_u16()))
    } else {
        SendError::Permanent(format!("{what}: HTTP {}{detail}", status.as_u16()))
    }
}

/// `Retry-After` in delta-seconds form (HTTP-date form is not used by the Bot Connector).
pub fn parse_retry_after_ms(value: &str) -> Option<u64> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(secs.saturating_mul(1_000).min(MAX_RETRY_AFTER_MS))
}

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

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after_ms("3"), Some(3_000));
        assert_eq!(parse_retry_after_ms(" 0 "), Some(0));
        assert_eq!(parse_retry_after_ms("soon"), None);
        assert_eq!(parse_retry_after_ms("99999999999999999"), Some(3_600_000));
    }
}
