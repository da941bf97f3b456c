//! The adaptor layer's error types. [`AdaptorError`] is everything one call can
//! return: a refused destination, a deadline, an HTTP error status, a network failure,
//! a request that cannot be built from the spec and arguments, or a response we cannot
//! use. Each variant has a stable [`AdaptorError::code`] the dialog's `on_error` path and
//! clients can rely on. [`AdaptorSpecError`] is one diagnostic of `validate_spec`,
//! naming the offending field the way the admin API shows it.
//!
//! Messages never carry secrets, header values or the rendered URL (which may hold
//! user input): only hosts, field names, statuses and library error texts.

use std::fmt;

/// Everything that can go wrong in one adaptor call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdaptorError {
    /// The network policy forbids the destination (private address, bad scheme, ...).
    /// Nothing was sent.
    #[error("destination refused: {reason}")]
    Refused { reason: String },
    /// The whole call (DNS, connect, headers and body) did not finish in time.
    #[error("adaptor call timed out after {after_ms} ms")]
    Timeout { after_ms: u64 },
    /// The API answered with a non-2xx status (redirects are not followed, so 3xx too).
    #[error("adaptor call failed with HTTP status {status}")]
    Status { status: u16 },
    /// Connecting, TLS, or reading the response failed.
    #[error("network error: {0}")]
    Network(String),
    /// The request could not be built: template, URL, header or body problems.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A 2xx response we cannot use: not JSON, too large, or not an object.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

impl AdaptorError {
    /// Stable machine-readable code, suitable for dialog branches and client frames.
    pub fn code(&self) -> &'static str {
        match self {
            AdaptorError::Refused { .. } => "adaptor_refused",
            AdaptorError::Timeout { .. } => "adaptor_timeout",
            AdaptorError::Status { .. } => "adaptor_status",
            AdaptorError::Network(_) => "adaptor_network",
            AdaptorError::InvalidRequest(_) => "adaptor_invalid_request",
            AdaptorError::InvalidResponse(_) => "adaptor_invalid_response",
        }
    }

    /// Whether trying again later might succeed (timeouts, network trouble, 408/429/5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            AdaptorError::Timeout { .. } | AdaptorError::Network(_) => true,
            AdaptorError::Status { status } => *status == 408 || *status == 429 || *status >= 500,
            AdaptorError::Refused { .. }
            | AdaptorError::InvalidRequest(_)
            | AdaptorError::InvalidResponse(_) => false,
        }
    }
}

/// One problem `validate_spec` found, e.g. `headers.X-Api-Key: invalid header name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptorSpecError {
    /// Dotted path of the offending field: `url`, `headers.X-Api-Key`, `response.status`.
    pub field: String,
    pub message: String,
}

impl AdaptorSpecError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for AdaptorSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// `error` followed by its `source()` chain, `: `-separated, for messages that must
/// explain a library failure (reqwest's own Display stops at the outermost layer).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_display() {
        let cases = [
            (
                AdaptorError::Refused {
                    reason: "loopback address 127.0.0.1".into(),
                },
                "adaptor_refused",
                "destination refused: loopback address 127.0.0.1",
            ),
            (
                AdaptorError::Timeout { after_ms: 300 },
                "adaptor_timeout",
                "adaptor call timed out after 300 ms",
            ),
            (
                AdaptorError::Status { status: 404 },
                "adaptor_status",
                "adaptor call failed with HTTP status 404",
            ),
            (
                AdaptorError::Network("x".into()),
                "adaptor_network",
                "network error: x",
            ),
            (
                AdaptorError::InvalidRequest("x".into()),
                "adaptor_invalid_request",
                "invalid request: x",
            ),
            (
                AdaptorError::InvalidResponse("x".into()),
                "adaptor_invalid_response",
                "invalid response: x",
            ),
        ];
        for (error, code, text) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn retryable() {
        assert!(AdaptorError::Timeout { after_ms: 1 }.is_retryable());
        assert!(AdaptorError::Status { status: 503 }.is_retryable());
        assert!(AdaptorError::Status { status: 429 }.is_retryable());
        assert!(!AdaptorError::Status { status: 404 }.is_retryable());
        assert!(!AdaptorError::Refused { reason: "x".into() }.is_retryable());
    }

    #[test]
    fn spec_error_display() {
        let e = AdaptorSpecError::new("headers.X-Api-Key", "invalid header name");
        assert_eq!(e.to_string(), "headers.X-Api-Key: invalid header name");
    }
}
