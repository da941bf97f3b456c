//! Sandboxed minijinja templates for everything the bot says.
//!
//! One `Environment` per flow holds every template of that flow, registered
//! at compile time under its JSON pointer (so syntax errors become
//! diagnostics and runtime rendering is a lookup by name). The environment
//! has no loader (no `include`/`import` of files), a fuel limit so no
//! template can loop forever, chainable undefined handling (unset slots and
//! missing fields of `object` slots, even `order.a.b`, print
//! as empty) and auto-escaping off because output is plain chat text.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;
use thiserror::Error;

/// Instructions one render may execute before it is aborted.
pub const FUEL: u64 = 50_000;
/// Longest accepted template source, in characters.
pub const MAX_LENGTH: usize = 20_000;
/// Deepest accepted nesting of brackets and blocks (`{% if %}` etc.).
pub const MAX_NESTING: usize = 16;

/// A failure to compile or render a template.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TemplateError {
    #[error("{message}")]
    Syntax {
        message: String,
        line: Option<usize>,
    },
    #[error("template is too complex: {0}")]
    TooComplex(String),
    #[error("template `{name}` failed to render: {message}")]
    Render { name: String, message: String },
}

/// All templates of one flow.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_recursion_limit(32);
        Templates { env }
    }

    /// Compiles and registers `source` as `name`; returns the top-level
    /// variables it reads that are not template globals.
    pub fn add(&mut self, name: &str, source: &str) -> Result<BTreeSet<String>, TemplateError> {
        if source.chars().count() > MAX_LENGTH {
            return Err(TemplateError::TooComplex(format!(
                "longer than {MAX_LENGTH} characters"
            )));
        }
        if nesting(source) > MAX_NESTING {
            return Err(TemplateError::TooComplex(format!(
                "brackets or blocks nested more than {MAX_NESTING} deep"
            )));
        }
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
            .map_err(|e| TemplateError::Syntax {
                message: e.detail().unwrap_or("syntax error").to_owned(),
                line: e.line(),
            })?;
        let globals: BTreeSet<String> = self.env.globals().map(|(k, _)| k.to_owned()).collect();
        let template = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::Syntax {
                message: e.to_string(),
                line: None,
            })?;
        Ok(template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !globals.contains(v))
            .collect())
    }

    /// Renders template `name` with the given variables. Variables holding
    /// JSON null are omitted so they behave as undefined (print empty).
    pub fn render(
        &self,
        name: &str,
        vars: &BTreeMap<String, Value>,
    ) -> Result<String, TemplateError> {
        let err = |e: minijinja::Error| TemplateError::Render {
            name: name.to_owned(),
            message: e.to_string(),
        };
        let template = self.env.get_template(name).map_err(err)?;
        let context: BTreeMap<&str, &Value> = vars
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        template
            .render(minijinja::Value::from(minijinja::value::Serde(&context)))
            .map_err(err)
    }
}

/// Nesting of `(`/`[`/`{` plus open `{% if/for/… %}` blocks; a coarse,
/// string-agnostic over-estimate that keeps the recursive parser safe.
fn nesting(source: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        if let Some(tag) = rest.strip_prefix("{%") {
            let word = tag
                .trim_start_matches(['-', '+', ' ', '\t', '\n'])
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .next()
                .unwrap_or("");
            if [
                "if",
                "for",
                "with",
                "filter",
                "macro",
                "call",
                "set",
                "raw",
                "autoescape",
            ]
            .contains(&word)
            {
                depth += 1;
            } else if word.starts_with("end") {
                depth = depth.saturating_sub(1);
            }
            max = max.max(depth);
            rest = tag;
            continue;
        }
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        max = max.max(depth);
        rest = &rest[c.len_utf8()..];
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn renders_and_reports_variables() {
        let mut t = Templates::new();
        let used = t
            .add(
                "/a",
                "Hi {{ name }}! {% for i in range(2) %}{{ i }}{% endfor %} <b>{{ input }}</b>",
            )
            .expect("compiles");
        assert_eq!(
            used,
            BTreeSet::from(["input".to_owned(), "name".to_owned()])
        );
        let out = t.render(
            "/a",
            &vars(&[("name", json!("Ada")), ("input", json!("<x>"))]),
        );
        assert_eq!(out.as_deref(), Ok("Hi Ada! 01 <b><x></b>"));
    }

    #[test]
    fn unset_prints_empty() {
        let mut t = Templates::new();
        t.add("/a", "[{{ name }}]").expect("compiles");
        assert_eq!(
            t.render("/a", &vars(&[("name", Value::Null)])).as_deref(),
            Ok("[]")
        );
        // Unset objects and missing fields chain to empty.
        t.add("/b", "[{{ order.status }}|{{ order.a.b }}]")
            .expect("compiles");
        assert_eq!(t.render("/b", &BTreeMap::new()).as_deref(), Ok("[|]"));
        let order = json!({"status": "shipped", "items": [{"sku": "A"}]});
        t.add(
            "/c",
            "{{ order.status }} {{ order.items[0].sku }} {{ order.eta.day }}",
        )
        .expect("compiles");
        assert_eq!(
            t.render("/c", &vars(&[("order", order)])).as_deref(),
            Ok("shipped A ")
        );
    }

    #[test]
    fn syntax_error_is_reported() {
        let mut t = Templates::new();
        match t.add("/a", "line one\nHi {{ name ") {
            Err(TemplateError::Syntax { line, .. }) => assert_eq!(line, Some(2)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn fuel_stops_endless_work() {
        let mut t = Templates::new();
        t.add(
            "/a",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        )
        .expect("compiles");
        match t.render("/a", &BTreeMap::new()) {
            Err(TemplateError::Render { message, .. }) => {
                assert!(message.contains("fuel"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let mut t = Templates::new();
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(300), ")".repeat(300));
        assert!(matches!(
            t.add("/a", &deep),
            Err(TemplateError::TooComplex(_))
        ));
        let ifs = format!(
            "{}x{}",
            "{% if true %}".repeat(100),
            "{% endif %}".repeat(100)
        );
        assert!(matches!(
            t.add("/b", &ifs),
            Err(TemplateError::TooComplex(_))
        ));
        // Exactly at the limit still compiles and renders on a test thread.
        let n = MAX_NESTING / 2;
        let ok = format!(
            "{}{{{{ {}1{} }}}}{}",
            "{% if true %}".repeat(n),
            "(".repeat(n),
            ")".repeat(n),
            "{% endif %}".repeat(n)
        );
        t.add("/c", &ok).expect("compiles");
        assert_eq!(t.render("/c", &BTreeMap::new()).as_deref(), Ok("1"));
        let ok = format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        t.add("/d", &ok).expect("compiles");
    }
}
