//! Turns a spec, the call's arguments and the secret into the exact request to send:
//! a vetted URL, checked headers (auth last, marked sensitive) and a JSON body.
//!
//! The per-part rules (`parse_url`, `header_name`, `check_json_body`) are shared with
//! `validate_spec`, so publishing a spec and calling it apply the same rules. Nothing
//! here touches the network; the rendered URL only goes through the text checks of the
//! policy, and name resolution is judged later by the client's resolver.

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::adaptors::error::AdaptorError;
use crate::adaptors::policy::NetworkPolicy;
use crate::adaptors::spec::{AdaptorAuth, AdaptorSecret, AdaptorSpec, HttpMethod};
use crate::adaptors::template::{self, BODY, SpecTemplates, URL};

/// Headers a spec may not set: they define the message framing or the connection,
/// which belong to the HTTP client.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

/// A request ready to hand to reqwest.
#[derive(Debug)]
pub(crate) struct PreparedRequest {
    pub(crate) method: HttpMethod,
    pub(crate) url: Url,
    /// The auth header, if any, is marked sensitive so it never prints.
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<String>,
}

impl PreparedRequest {
    pub(crate) fn build(
        spec: &AdaptorSpec,
        secret: Option<&AdaptorSecret>,
        args: &serde_json::Map<String, serde_json::Value>,
        policy: &NetworkPolicy,
    ) -> Result<Self, AdaptorError> {
        let templates = SpecTemplates::compile(spec).map_err(|errors| {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            AdaptorError::InvalidRequest(format!("template error: {}", list.join("; ")))
        })?;
        let ctx = template::args_context(args);
        let render = |name: &str| {
            templates.render(name, &ctx).map_err(|e| {
                AdaptorError::InvalidRequest(format!("{name}: {}", template::describe(&e)))
            })
        };

        let url = parse_url(&render(URL)?)
            .map_err(|m| AdaptorError::InvalidRequest(format!("{URL}: {m}")))?;
        policy.check_url(&url, false)?;

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let body = match &spec.body {
            Some(_) => {
                let body = render(BODY)?;
                check_json_body(&body)
                    .map_err(|m| AdaptorError::InvalidRequest(format!("{BODY}: {m}")))?;
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Some(body)
            }
            None => None,
        };
        for name in spec.headers.keys() {
            let field = template::header_field(name);
            let header = header_name(name)
                .map_err(|m| AdaptorError::InvalidRequest(format!("{field}: {m}")))?;
            let value = HeaderValue::from_bytes(render(&field)?.as_bytes()).map_err(|_| {
                AdaptorError::InvalidRequest(format!(
                    "{field}: rendered value is not a valid header value (control characters?)"
                ))
            })?;
            headers.insert(header, value);
        }
        if let Some(auth) = &spec.auth {
            let (name, value) = auth_header(auth, secret)?;
            headers.insert(name, value);
        }
        Ok(Self {
            method: spec.method,
            url,
            headers,
            body,
        })
    }
}

/// Parses a rendered URL: it must be absolute and must not contain `.`/`..` path
/// segments (WHATWG parsing would resolve them, and `%2e%2e` counts too, so an
/// argument of `..` could otherwise climb out of its path segment).
pub(crate) fn parse_url(rendered: &str) -> Result<Url, &'static str> {
    if has_dot_segment(rendered) {
        return Err("`.` and `..` path segments are not allowed");
    }
    Url::parse(rendered).map_err(|_| "does not render to a valid absolute URL")
}

fn has_dot_segment(url: &str) -> bool {
    // The URL parser drops tabs and newlines before anything else, so `.\t.` is `..`.
    let url = url.replace(['\t', '\n', '\r'], "");
    let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let before_query = rest.split(['?', '#']).next().unwrap_or_default();
    let Some(path_start) = before_query.find(['/', '\\']) else {
        return false;
    };
    before_query[path_start..]
        .split(['/', '\\'])
        .any(|segment| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        })
}

/// A header name a spec may set (also used for `auth.name`).
pub(crate) fn header_name(name: &str) -> Result<HeaderName, &'static str> {
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| "invalid header name")?;
    if RESERVED_HEADERS.contains(&header.as_str()) {
        return Err("this header is managed by the HTTP client and cannot be set");
    }
    Ok(header)
}

/// The rendered body must be JSON.
pub(crate) fn check_json_body(body: &str) -> Result<(), &'static str> {
    serde_json::from_str::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|_| {
            "does not render to valid JSON (values render as JSON literals: \
         write {{ x }}, not \"{{ x }}\")"
        })
}

/// The header carrying the secret. Its value is marked sensitive and errors never
/// include it.
fn auth_header(
    auth: &AdaptorAuth,
    secret: Option<&AdaptorSecret>,
) -> Result<(HeaderName, HeaderValue), AdaptorError> {
    let secret = secret.ok_or_else(|| {
        AdaptorError::InvalidRequest("auth is configured but no secret was provided".into())
    })?;
    let (name, value) = match auth {
        AdaptorAuth::Bearer {} => (AUTHORIZATION, format!("Bearer {}", secret.expose())),
        AdaptorAuth::Header { name } => (
            header_name(name)
                .map_err(|m| AdaptorError::InvalidRequest(format!("auth.name: {m}")))?,
            secret.expose().to_owned(),
        ),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        AdaptorError::InvalidRequest(
            "the secret contains characters not allowed in a header".into(),
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> AdaptorSpec {
        serde_json::from_value(value).unwrap()
    }

    fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        match value {
            serde_json::Value::Object(map) => map,
            _ => panic!("args must be an object"),
        }
    }

    const OPEN: NetworkPolicy = NetworkPolicy {
        allow_private: true,
    };

    #[test]
    fn builds_url_headers_auth_and_body() {
        let spec = spec(json!({
            "method": "POST",
            "url": "https://shop.example/orders/{{ id }}?lang={{ lang }}",
            "headers": {"X-Trace": "{{ trace }}", "Accept": "application/vnd.shop+json"},
            "body": "{\"note\": {{ note }}}",
            "auth": {"type": "bearer"}
        }));
        let secret = AdaptorSecret::new("s3cret");
        let req = PreparedRequest::build(
            &spec,
            Some(&secret),
            &args(json!({"id": "7/8", "lang": "de ch", "trace": "abc", "note": "\"x\""})),
            &OPEN,
        )
        .unwrap();
        assert_eq!(
            req.url.as_str(),
            "https://shop.example/orders/7%2F8?lang=de%20ch"
        );
        assert_eq!(req.headers["x-trace"], "abc");
        assert_eq!(req.headers[ACCEPT], "application/vnd.shop+json");
        assert_eq!(req.headers[CONTENT_TYPE], "application/json");
        assert_eq!(req.headers[AUTHORIZATION], "Bearer s3cret");
        assert!(req.headers[AUTHORIZATION].is_sensitive());
        assert!(!format!("{req:?}").contains("s3cret"));
        assert_eq!(req.body.as_deref(), Some(r#"{"note": "\"x\""}"#));
    }

    #[test]
    fn rejects_bad_parts_without_echoing_values() {
        let base = json!({"method": "GET", "url": "https://shop.example/{{ id }}"});
        let bad = |patch: serde_json::Value, a: serde_json::Value| {
            let mut s = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                s[k] = v.clone();
            }
            PreparedRequest::build(&spec(s), None, &args(a), &OPEN).unwrap_err()
        };
        let e = bad(
            json!({"headers": {"X-A": "{{ v }}"}}),
            json!({"id": 1, "v": "a\r\nX-Evil: 1"}),
        );
        assert!(
            matches!(e, AdaptorError::InvalidRequest(ref m) if !m.contains("Evil")),
            "{e}"
        );
        let e = bad(
            json!({"headers": {"Content-Length": "1"}}),
            json!({"id": 1}),
        );
        assert!(matches!(e, AdaptorError::InvalidRequest(_)), "{e}");
        let e = bad(json!({"body": "{\"q\": \"{{ id }}\"}"}), json!({"id": "x"}));
        assert!(
            matches!(e, AdaptorError::InvalidRequest(ref m) if m.contains("JSON")),
            "{e}"
        );
        let e = bad(json!({}), json!({}));
        assert!(
            matches!(e, AdaptorError::InvalidRequest(ref m) if m.contains("undefined")),
            "{e}"
        );
        let e = bad(json!({"auth": {"type": "bearer"}}), json!({"id": 1}));
        assert!(
            matches!(e, AdaptorError::InvalidRequest(ref m) if m.contains("no secret")),
            "{e}"
        );
        let e = bad(json!({"url": "{{ id }}"}), json!({"id": "/relative"}));
        assert!(matches!(e, AdaptorError::InvalidRequest(_)), "{e}");
    }

    #[test]
    fn secrets_with_newlines_are_rejected_without_echo() {
        let s = spec(json!({"method": "GET", "url": "https://shop.example/",
                            "auth": {"type": "header", "name": "X-Api-Key"}}));
        let secret = AdaptorSecret::new("abc\ndef");
        let e = PreparedRequest::build(&s, Some(&secret), &args(json!({})), &OPEN).unwrap_err();
        assert!(!e.to_string().contains("abc") && !format!("{e:?}").contains("def"));
    }

    #[test]
    fn dot_segments_are_refused_even_when_encoded() {
        for url in [
            "https://a.example/x/../admin",
            "https://a.example/x/%2e%2E/admin",
            "https://a.example/x/.",
            "https://a.example/x/..?q=1",
            "https://a.example/x/.\t./admin",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
        for url in [
            "https://a.example/x/..a/b",
            "https://a.example/x?q=..",
            "https://a.example",
            "https://a.example/v1.2/...",
        ] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
        let s = spec(json!({"method": "GET", "url": "https://a.example/orders/{{ id }}"}));
        let e = PreparedRequest::build(&s, None, &args(json!({"id": ".."})), &OPEN).unwrap_err();
        assert!(matches!(e, AdaptorError::InvalidRequest(_)), "{e}");
    }

    #[test]
    fn literal_destinations_are_checked_against_the_policy() {
        let s = spec(json!({"method": "GET", "url": "http://{{ host }}/x"}));
        let e = PreparedRequest::build(
            &s,
            None,
            &args(json!({"host": "169.254.169.254"})),
            &NetworkPolicy::default(),
        )
        .unwrap_err();
        assert!(matches!(e, AdaptorError::Refused { .. }), "{e}");
    }
}
