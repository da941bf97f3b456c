//! What a tenant configures for one adaptor ([`AdaptorSpec`], stored as JSON by the
//! admin API) and the secret that goes with it ([`AdaptorSecret`], stored separately and
//! handed in only at call time). The spec names *where* the secret goes (`auth`), never
//! the secret itself, so a spec can be shown, logged and diffed freely; templates cannot
//! read the secret either, so it cannot be smuggled into a URL or body.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Default whole-call deadline, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Smallest accepted `timeout_ms`.
pub const MIN_TIMEOUT_MS: u64 = 1;
/// Largest accepted `timeout_ms` (also caps a per-call override).
pub const MAX_TIMEOUT_MS: u64 = 60_000;

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// One tenant-configured outbound HTTP call.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdaptorSpec {
    pub method: HttpMethod,
    /// Template of an absolute http(s) URL. Every `{{ value }}` is percent-encoded
    /// (everything but RFC 3986 unreserved characters), so an argument can never add a
    /// path segment, a query parameter or a fragment.
    pub url: String,
    /// Header name -> value template (rendered as plain text, then checked).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Template of a JSON body; every `{{ value }}` renders as a JSON literal
    /// (`"text"`, `42`, `{"a":1}`), so write `{"q": {{ q }}}`, not `{"q": "{{ q }}"}`.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub auth: Option<AdaptorAuth>,
    /// Whole-call deadline (DNS + connect + headers + body), 1..=60000 ms.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Output field -> JSON pointer into the response body; empty = the whole body,
    /// which must then be a JSON object.
    #[serde(default)]
    pub response: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the call's [`AdaptorSecret`] is sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdaptorAuth {
    /// `Authorization: Bearer <secret>`. (A struct variant, so that `deny_unknown_fields`
    /// also rejects `{"type": "bearer", "token": "..."}`: secrets never go in a spec.)
    Bearer {},
    /// `<name>: <secret>`, e.g. `X-Api-Key`.
    Header { name: String },
}

/// The credential of one adaptor. It prints as `<redacted>` and is not serialisable,
/// so it cannot leak through `Debug`, `Display`, logs or API responses by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AdaptorSecret(String);

impl AdaptorSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The raw value, for building the auth header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for AdaptorSecret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for AdaptorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdaptorSecret(<redacted>)")
    }
}

impl fmt::Display for AdaptorSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_minimal_and_full_specs() {
        let minimal: AdaptorSpec =
            serde_json::from_value(json!({"method": "GET", "url": "https://shop.example/x"}))
                .unwrap();
        assert_eq!(minimal.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(minimal.headers.is_empty() && minimal.response.is_empty());
        assert_eq!(minimal.auth, None);

        let full: AdaptorSpec = serde_json::from_value(json!({
            "method": "POST",
            "url": "https://shop.example/orders",
            "headers": {"X-Trace": "{{ trace }}"},
            "body": "{\"q\": {{ q }}}",
            "auth": {"type": "header", "name": "X-Api-Key"},
            "timeout_ms": 250,
            "response": {"status": "/status"}
        }))
        .unwrap();
        assert_eq!(
            full.auth,
            Some(AdaptorAuth::Header {
                name: "X-Api-Key".into()
            })
        );
        let back: AdaptorSpec =
            serde_json::from_value(serde_json::to_value(&full).unwrap()).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn rejects_unknown_fields_and_methods() {
        let unknown = serde_json::from_value::<AdaptorSpec>(
            json!({"method": "GET", "url": "https://a.example", "secret": "x"}),
        );
        assert!(unknown.is_err());
        let method =
            serde_json::from_value::<AdaptorSpec>(json!({"method": "TRACE", "url": "https://a"}));
        assert!(method.is_err());
        let auth = serde_json::from_value::<AdaptorAuth>(json!({"type": "bearer", "token": "x"}));
        assert!(auth.is_err());
    }

    #[test]
    fn auth_wire_shapes() {
        assert_eq!(
            serde_json::to_value(AdaptorAuth::Bearer {}).unwrap(),
            json!({"type": "bearer"})
        );
        let header: AdaptorAuth =
            serde_json::from_value(json!({"type": "header", "name": "X-Api-Key"})).unwrap();
        assert_eq!(
            header,
            AdaptorAuth::Header {
                name: "X-Api-Key".into()
            }
        );
    }

    #[test]
    fn secret_is_redacted() {
        let secret = AdaptorSecret::new("hunter2");
        assert_eq!(secret.to_string(), "<redacted>");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
