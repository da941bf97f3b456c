//! The request id: the client's `x-request-id` when it sent a usable one, else a new
//! UUID (v7, so ids sort by time). It is echoed on every response (`http/request_id.rs`,
//! and the web chat upgrade's own answers) and recorded in the request's span, so a
//! client's report, a log line and a trace find each other.
//!
//! A client's id is kept only when it is short and made of URL-safe characters: it is
//! written to logs and back into a header, so it can carry no spaces, quotes or control
//! characters (no forged log lines, no header injection).

use std::fmt;
use std::sync::Arc;

/// The header, request and response alike.
pub const HEADER: &str = "x-request-id";
/// Longest client id kept.
const MAX_LEN: usize = 128;

/// One request's id; cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The client's id (the header's raw value) when usable, else a fresh one.
    pub fn from_client(header: Option<&[u8]>) -> Self {
        match header.and_then(usable) {
            Some(id) => Self(Arc::from(id)),
            None => Self::generate(),
        }
    }

    pub fn generate() -> Self {
        Self(Arc::from(uuid::Uuid::now_v7().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn usable(value: &[u8]) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= MAX_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(b));
    ok.then(|| std::str::from_utf8(value).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn a_usable_client_id_is_kept_and_anything_else_replaced() {
        let kept = RequestId::from_client(Some(b"abc-123_X.y:z"));
        assert_eq!(kept.as_str(), "abc-123_X.y:z");
        for bad in [
            &b""[..],
            b"has space",
            b"line\nbreak",
            b"quote\"",
            "é".as_bytes(),
            &[b'a'; 129],
        ] {
            let id = RequestId::from_client(Some(bad));
            assert_ne!(id.as_str().as_bytes(), bad);
            assert_eq!(id.as_str().len(), 36, "{id}");
        }
        assert_eq!(RequestId::from_client(None).as_str().len(), 36);
    }
}
