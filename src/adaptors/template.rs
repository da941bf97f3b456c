//! The sandboxed minijinja templates of one adaptor spec (URL, header values, body)
//! and the escaping that makes arguments safe in each place.
//!
//! Escaping is chosen by template name and applied by one custom formatter to every
//! `{{ value }}`:
//! - `url`: percent-encode everything but RFC 3986 unreserved characters, so a value
//!   cannot add a path segment, a query parameter or a fragment;
//! - `body`: serialise as a JSON literal, so a value cannot break out of the JSON
//!   structure;
//! - headers: plain text, checked as a header value afterwards.
//!
//! There is no opt-out: `|safe` and `{% autoescape false %}` are ignored on purpose,
//! since either would let an argument reshape the URL or the JSON.
//!
//! Like the dialog templates, there is no loader, a fuel limit and a recursion limit;
//! in addition the rendered output is capped, so no template can exhaust memory.
//! Printing an undefined value is an error (`SemiStrict`) rather than a silently empty
//! URL segment, while `{% if x is defined %}` still works.

use std::fmt::Write as _;
use std::io;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

use crate::adaptors::error::AdaptorSpecError;
use crate::adaptors::spec::AdaptorSpec;

/// Instructions one render may execute before it is aborted.
const FUEL: u64 = 50_000;
/// Longest accepted template source, in bytes.
const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// Largest rendered output of one template, in bytes.
const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Template name of the URL; also its field name in diagnostics.
pub(crate) const URL: &str = "url";
/// Template name of the body; also its field name in diagnostics.
pub(crate) const BODY: &str = "body";

/// Template name (and diagnostic field) of the header called `name`.
pub(crate) fn header_field(name: &str) -> String {
    format!("headers.{name}")
}

/// The compiled templates of one spec.
#[derive(Debug)]
pub(crate) struct SpecTemplates {
    env: Environment<'static>,
}

impl SpecTemplates {
    /// Compiles the URL, header and body templates of `spec`, reporting every syntax
    /// error with its field.
    pub(crate) fn compile(spec: &AdaptorSpec) -> Result<Self, Vec<AdaptorSpecError>> {
        let (templates, errors) = Self::compile_partial(spec);
        if errors.is_empty() {
            Ok(templates)
        } else {
            Err(errors)
        }
    }

    /// Like [`SpecTemplates::compile`], but keeps the templates that did compile, so
    /// validation can go on checking them.
    pub(crate) fn compile_partial(spec: &AdaptorSpec) -> (Self, Vec<AdaptorSpecError>) {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(32);
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // Debug mode would copy template state (argument values) into errors.
        env.set_debug(false);
        env.set_formatter(format_value);

        let mut sources = vec![(URL.to_owned(), spec.url.as_str())];
        sources.extend(
            spec.headers
                .iter()
                .map(|(name, value)| (header_field(name), value.as_str())),
        );
        sources.extend(spec.body.as_deref().map(|body| (BODY.to_owned(), body)));

        let mut errors = Vec::new();
        for (name, source) in sources {
            if source.len() > MAX_SOURCE_BYTES {
                let message = format!("template is longer than {MAX_SOURCE_BYTES} bytes");
                errors.push(AdaptorSpecError::new(name, message));
            } else if let Err(e) = env.add_template_owned(name.clone(), source.to_owned()) {
                errors.push(AdaptorSpecError::new(name, describe(&e)));
            }
        }
        (Self { env }, errors)
    }

    /// Renders the template `name` with `ctx`. A template the spec does not have
    /// renders as an error, never a panic.
    pub(crate) fn render(&self, name: &str, ctx: &Value) -> Result<String, Error> {
        let template = self.env.get_template(name)?;
        let mut out = CappedBuffer::default();
        template.render_captured_to(ctx, &mut out)?;
        String::from_utf8(out.bytes)
            .map_err(|_| Error::new(ErrorKind::BadSerialization, "output is not UTF-8"))
    }
}

/// The context for rendering with call arguments.
pub(crate) fn args_context(args: &serde_json::Map<String, serde_json::Value>) -> Value {
    Value::from(minijinja::value::Serde(args))
}

/// A context in which every variable (and every attribute or item of it) exists and
/// prints as `placeholder`: validation renders with it to check what the templates
/// produce without knowing the real arguments.
pub(crate) fn placeholder_context() -> Value {
    Value::from_object(Placeholder)
}

/// Whether a render error during validation points at the template itself rather
/// than at the placeholder arguments (`{{ x + 1 }}` fails on placeholders but may be
/// fine with real numbers, while an unknown filter is wrong with any arguments).
pub(crate) fn is_static_error(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::UnknownFilter
            | ErrorKind::UnknownTest
            | ErrorKind::UnknownFunction
            | ErrorKind::SyntaxError
            | ErrorKind::OutOfFuel
            | ErrorKind::WriteFailure
    )
}

/// A short, value-free description of a template error.
pub(crate) fn describe(e: &Error) -> String {
    let mut text = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_owned);
    if e.kind() == ErrorKind::UndefinedError && e.detail().is_none() {
        text = "undefined value (a missing argument?)".into();
    }
    match e.line() {
        Some(line) => format!("{text} (line {line})"),
        None => text,
    }
}

fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    // `SemiStrict` already rejected printing a plain undefined; what is left is the
    // "silent" undefined of `{{ x if cond }}`, which prints nothing, as in Jinja.
    if value.is_undefined() {
        return Ok(());
    }
    // Escaping follows the template's name, not minijinja's auto-escape state, so an
    // `{% autoescape false %}` block cannot switch it off.
    match state.name() {
        URL => percent_encode(out, &plain_text(value)),
        BODY => {
            let json = serde_json::to_string(value).map_err(|e| {
                Error::new(ErrorKind::BadSerialization, "cannot render value as JSON")
                    .with_source(e)
            })?;
            out.write_str(&json).map_err(Error::from)
        }
        _ => out.write_str(&plain_text(value)).map_err(Error::from),
    }
}

/// How a value reads as text: `none` is empty, everything else uses its Display.
fn plain_text(value: &Value) -> String {
    if value.is_none() {
        String::new()
    } else {
        value.to_string()
    }
}

/// Writes `text` with every byte outside RFC 3986 "unreserved" as `%XX`. This is
/// right for both a path segment and a query name or value.
fn percent_encode(out: &mut Output, text: &str) -> Result<(), Error> {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.write_char(char::from(byte))?;
        } else {
            write!(out, "%{byte:02X}")?;
        }
    }
    Ok(())
}

/// An in-memory writer that fails once more than [`MAX_OUTPUT_BYTES`] are written.
#[derive(Default)]
struct CappedBuffer {
    bytes: Vec<u8>,
}

impl io::Write for CappedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > MAX_OUTPUT_BYTES {
            return Err(io::Error::other(format!(
                "rendered output exceeds {MAX_OUTPUT_BYTES} bytes"
            )));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// See [`placeholder_context`].
#[derive(Debug)]
struct Placeholder;

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        Some(Value::from_object(Placeholder))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("placeholder")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(url: &str, body: Option<&str>) -> AdaptorSpec {
        serde_json::from_value(json!({
            "method": "POST",
            "url": url,
            "headers": {"X-Trace": "t-{{ trace }}"},
            "body": body,
        }))
        .unwrap()
    }

    fn args(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Object(map) => args_context(&map),
            _ => panic!("args must be an object"),
        }
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let t =
            SpecTemplates::compile(&spec("https://a.example/o/{{ id }}?q={{ q }}", None)).unwrap();
        let out = t
            .render(URL, &args(json!({"id": "a/b?c#d e", "q": "x&y=z", "n": 1})))
            .unwrap();
        assert_eq!(out, "https://a.example/o/a%2Fb%3Fc%23d%20e?q=x%26y%3Dz");
        let out = t.render(URL, &args(json!({"id": "é€", "q": 42}))).unwrap();
        assert_eq!(out, "https://a.example/o/%C3%A9%E2%82%AC?q=42");
        for opt_out in [
            "https://a.example/{{ p | safe }}",
            "https://a.example/{% autoescape false %}{{ p }}{% endautoescape %}",
        ] {
            let t = SpecTemplates::compile(&spec(opt_out, None)).unwrap();
            assert_eq!(
                t.render(URL, &args(json!({"p": "../x"}))).unwrap(),
                "https://a.example/..%2Fx",
                "{opt_out}"
            );
        }
    }

    #[test]
    fn body_values_are_json_literals() {
        let t = SpecTemplates::compile(&spec(
            "https://a.example/",
            Some(r#"{"note": {{ note }}, "n": {{ n }}, "o": {{ o }}, "none": {{ nothing }}}"#),
        ))
        .unwrap();
        let out = t
            .render(
                BODY,
                &args(json!({"note": "say \"hi\"\n}", "n": 3, "o": {"a": [1]}, "nothing": null})),
            )
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            parsed,
            json!({"note": "say \"hi\"\n}", "n": 3, "o": {"a": [1]}, "none": null})
        );
    }

    #[test]
    fn headers_are_plain_text_and_undefined_is_an_error() {
        let t = SpecTemplates::compile(&spec("https://a.example/", None)).unwrap();
        let name = header_field("X-Trace");
        assert_eq!(
            t.render(&name, &args(json!({"trace": "a b/c"}))).unwrap(),
            "t-a b/c"
        );
        let err = t.render(&name, &args(json!({}))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UndefinedError);
        assert!(t.render("nope", &args(json!({}))).is_err());
    }

    #[test]
    fn syntax_errors_name_their_field() {
        let errors =
            SpecTemplates::compile(&spec("https://a.example/{{ id", Some("{% if %}"))).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "body"]);
    }

    #[test]
    fn runaway_templates_are_stopped() {
        let looping =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let t = SpecTemplates::compile(&spec("https://a.example/", Some(looping))).unwrap();
        let err = t.render(BODY, &args(json!({}))).unwrap_err();
        assert!(is_static_error(&err), "{err}");

        let huge = r#"{% for i in range(50) %}{{ "a" * 1000000 }}{% endfor %}"#;
        let t = SpecTemplates::compile(&spec("https://a.example/", Some(huge))).unwrap();
        let err = t.render(BODY, &args(json!({}))).unwrap_err();
        assert!(is_static_error(&err), "{err}");
    }

    #[test]
    fn placeholders_satisfy_any_lookup() {
        let t = SpecTemplates::compile(&spec(
            "https://a.example/{{ order.id }}/{{ items[0] }}{% for x in xs %}{{ x }}{% endfor %}",
            Some(r#"{"a": {{ a.b.c }}}"#),
        ))
        .unwrap();
        let ctx = placeholder_context();
        assert_eq!(
            t.render(URL, &ctx).unwrap(),
            "https://a.example/placeholder/placeholder"
        );
        assert_eq!(t.render(BODY, &ctx).unwrap(), r#"{"a": "placeholder"}"#);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep_parens = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
        let deep_ifs = format!(
            "{}x{}",
            "{% if true %}".repeat(500),
            "{% endif %}".repeat(500)
        );
        let deep_lists = format!("{{{{ {}1{} }}}}", "[".repeat(5000), "]".repeat(5000));
        for body in [deep_parens, deep_ifs, deep_lists] {
            let spec: AdaptorSpec = serde_json::from_value(json!({
                "method": "POST", "url": "https://a.example/", "body": body
            }))
            .unwrap();
            match SpecTemplates::compile(&spec) {
                Err(errors) => assert_eq!(errors[0].field, "body"),
                Ok(t) => {
                    let _ = t.render(BODY, &placeholder_context());
                }
            }
        }
    }
}
