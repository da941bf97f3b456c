//! Publish-time validation of an [`AdaptorSpec`]: every problem found, each with the
//! field it belongs to, so the admin API can show them all at once.
//!
//! Templates are compiled and then rendered with placeholder arguments (every variable
//! exists and prints `placeholder`), and the results go through the same rules as a
//! real call (`request.rs`): the URL must be absolute http(s) with an allowed literal
//! destination, the body must be JSON, header values must be valid. A render failure
//! that could be caused by the placeholders themselves (`{{ page + 1 }}`) is not
//! reported, since real arguments may well make it work; template mistakes that no
//! argument can fix (unknown filters, runaway loops) are. No DNS is done here: names
//! are judged by what they resolve to at call time.

use reqwest::header::{AUTHORIZATION, HeaderValue};
use url::Url;

use crate::adaptors::error::{AdaptorError, AdaptorSpecError};
use crate::adaptors::policy::NetworkPolicy;
use crate::adaptors::request::{check_json_body, header_name, parse_url};
use crate::adaptors::spec::{AdaptorAuth, AdaptorSpec, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS};
use crate::adaptors::template::{self, BODY, SpecTemplates, URL};

/// Checks `spec` against `policy`; `Err` lists every problem found.
pub fn validate_spec(
    spec: &AdaptorSpec,
    policy: &NetworkPolicy,
) -> Result<(), Vec<AdaptorSpecError>> {
    let mut errors = Vec::new();
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&spec.timeout_ms) {
        errors.push(AdaptorSpecError::new(
            "timeout_ms",
            format!("must be between {MIN_TIMEOUT_MS} and {MAX_TIMEOUT_MS}"),
        ));
    }
    check_headers(spec, &mut errors);
    for (field, pointer) in &spec.response {
        let name = format!("response.{field}");
        if field.is_empty() {
            errors.push(AdaptorSpecError::new(name, "output field name is empty"));
        } else if let Err(message) = check_pointer(pointer) {
            errors.push(AdaptorSpecError::new(name, message));
        }
    }
    let (templates, template_errors) = SpecTemplates::compile_partial(spec);
    errors.extend(template_errors);
    check_rendered(spec, &templates, policy, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Header names (including `auth.name`) and clashes between headers and auth.
fn check_headers(spec: &AdaptorSpec, errors: &mut Vec<AdaptorSpecError>) {
    let mut auth_header = None;
    match &spec.auth {
        Some(AdaptorAuth::Bearer {}) => auth_header = Some(AUTHORIZATION),
        Some(AdaptorAuth::Header { name }) => match header_name(name) {
            Ok(header) => auth_header = Some(header),
            Err(message) => errors.push(AdaptorSpecError::new("auth.name", message)),
        },
        None => {}
    }
    for name in spec.headers.keys() {
        let field = template::header_field(name);
        match header_name(name) {
            Ok(header) if auth_header.as_ref() == Some(&header) => errors.push(
                AdaptorSpecError::new(field, "is set by `auth`; remove it from `headers`"),
            ),
            Ok(_) => {}
            Err(message) => errors.push(AdaptorSpecError::new(field, message)),
        }
    }
}

/// RFC 6901: empty (the whole document) or `/`-separated tokens with `~0`/`~1` escapes.
fn check_pointer(pointer: &str) -> Result<(), &'static str> {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return Err("a JSON pointer must be empty or start with `/`");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err("`~` must be followed by 0 or 1 in a JSON pointer");
        }
    }
    Ok(())
}

/// Renders every template that compiled with placeholders and checks the results
/// (one that did not compile is "not found" here, which is not reported twice).
fn check_rendered(
    spec: &AdaptorSpec,
    templates: &SpecTemplates,
    policy: &NetworkPolicy,
    errors: &mut Vec<AdaptorSpecError>,
) {
    let ctx = template::placeholder_context();
    let render = |name: &str, errors: &mut Vec<AdaptorSpecError>| match templates.render(name, &ctx)
    {
        Ok(text) => Some(text),
        Err(e) => {
            if template::is_static_error(&e) {
                errors.push(AdaptorSpecError::new(name, template::describe(&e)));
            }
            None
        }
    };

    if let Some(rendered) = render(URL, errors) {
        let checked = parse_url(&rendered)
            .map_err(str::to_owned)
            .and_then(|url| check_destination(&url, policy));
        if let Err(message) = checked {
            errors.push(AdaptorSpecError::new(URL, message));
        }
    }
    if spec.body.is_some()
        && let Some(rendered) = render(BODY, errors)
        && let Err(message) = check_json_body(&rendered)
    {
        errors.push(AdaptorSpecError::new(BODY, message));
    }
    for name in spec.headers.keys() {
        let field = template::header_field(name);
        if let Some(rendered) = render(&field, errors)
            && HeaderValue::from_bytes(rendered.as_bytes()).is_err()
        {
            errors.push(AdaptorSpecError::new(
                field,
                "does not render to a valid header value (control characters?)",
            ));
        }
    }
}

fn check_destination(url: &Url, policy: &NetworkPolicy) -> Result<(), String> {
    policy.check_url(url, true).map_err(|e| match e {
        AdaptorError::Refused { reason } => format!("refused at validation: {reason}"),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> AdaptorSpec {
        serde_json::from_value(value).unwrap()
    }

    fn fields(result: Result<(), Vec<AdaptorSpecError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    const DENY: NetworkPolicy = NetworkPolicy {
        allow_private: false,
    };

    #[test]
    fn a_good_spec_passes() {
        let s = spec(json!({
            "method": "POST",
            "url": "https://shop.example/api/orders/{{ order.id }}?page={{ page + 1 }}",
            "headers": {"X-Trace": "{{ trace | upper }}"},
            "body": "{\"items\": [{% for i in items %}{{ i }}{% if not loop.last %},{% endif %}{% endfor %}], \"q\": {{ q }}}",
            "auth": {"type": "header", "name": "X-Api-Key"},
            "response": {"status": "/status", "eta": "/delivery/eta", "all": "", "odd": "/a~1b~0c"}
        }));
        assert_eq!(validate_spec(&s, &DENY), Ok(()));
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let s = spec(json!({
            "method": "GET",
            "url": "https://shop.example/{{ id | nosuchfilter }}",
            "headers": {"Bad Name": "x", "X-Ok": "{{ a", "Authorization": "x", "Host": "evil"},
            "body": "{\"q\": \"{{ q }}\"}",
            "auth": {"type": "bearer"},
            "timeout_ms": 0,
            "response": {"status": "status", "tilde": "/a~2", "": "/x"}
        }));
        let mut got = fields(validate_spec(&s, &DENY));
        got.sort();
        assert_eq!(
            got,
            [
                "body",
                "headers.Authorization",
                "headers.Bad Name",
                "headers.Host",
                "headers.X-Ok",
                "response.",
                "response.status",
                "response.tilde",
                "timeout_ms",
                "url",
            ]
        );
    }

    #[test]
    fn forbidden_literal_destinations_are_refused_at_validation() {
        for url in [
            "http://127.0.0.1:8080/orders/{{ id }}",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/",
            "http://[::1]:80/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://localhost:3000/",
            "ftp://shop.example/",
            "http://user:pass@shop.example/",
        ] {
            let s = spec(json!({"method": "GET", "url": url}));
            let errors = validate_spec(&s, &DENY).unwrap_err();
            assert_eq!(errors.len(), 1, "{url}: {errors:?}");
            assert_eq!(errors[0].field, "url");
            assert!(
                errors[0].message.starts_with("refused at validation"),
                "{url}: {}",
                errors[0]
            );
        }
        let s = spec(json!({"method": "GET", "url": "http://127.0.0.1:8080/"}));
        assert_eq!(
            validate_spec(
                &s,
                &NetworkPolicy {
                    allow_private: true
                }
            ),
            Ok(())
        );
    }

    #[test]
    fn urls_must_be_absolute_and_timeouts_in_range() {
        let s = spec(json!({"method": "GET", "url": "/orders/{{ id }}", "timeout_ms": 60001}));
        assert_eq!(fields(validate_spec(&s, &DENY)), ["timeout_ms", "url"]);
        let s = spec(json!({"method": "GET", "url": "https://a.example/x/../y"}));
        assert_eq!(fields(validate_spec(&s, &DENY)), ["url"]);
    }

    #[test]
    fn auth_header_name_is_checked() {
        let s = spec(json!({"method": "GET", "url": "https://a.example/",
                            "auth": {"type": "header", "name": "bad name"}}));
        assert_eq!(fields(validate_spec(&s, &DENY)), ["auth.name"]);
        let s = spec(json!({"method": "GET", "url": "https://a.example/",
                            "headers": {"x-api-key": "1"},
                            "auth": {"type": "header", "name": "X-Api-Key"}}));
        assert_eq!(fields(validate_spec(&s, &DENY)), ["headers.x-api-key"]);
    }
}
