//! Structured extraction helpers: reading the model's JSON answer, and the offline
//! model's deterministic extractor.
//!
//! The offline extractor reads the schema the dialog engine built (one property per
//! slot) and looks for each value in the user's text with plain patterns: e-mail
//! addresses, ISO dates, numbers, yes/no, enum words, and names after "my name is",
//! "I'm", "call me". It is no language model, but it is deterministic and good enough
//! for the demo, simulations and tests; every value is validated by the engine anyway.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::LlmError;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("valid regex")
});
static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{4}-\d{2}-\d{2}\b").expect("valid regex"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w.@-])(-?\d+(?:\.\d+)?)\b").expect("valid regex"));
static PERSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:my name is|my name's|i am|i'm|im|this is|call me|name:)\s+([A-Z][\p{L}'-]+(?:\s+[A-Z][\p{L}'-]+){0,2})")
        .expect("valid regex")
});
static COMPANY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:work (?:at|for)|from|at|with)\s+([A-Z][\w&'-]+(?:\s+[A-Z][\w&'-]+){0,2})")
        .expect("valid regex")
});

/// The model's answer as a JSON object (tolerating a Markdown code fence around it).
pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, LlmError> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    match serde_json::from_str::<Value>(unfenced.trim()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(LlmError::Protocol(
            "the extraction is not a JSON object".into(),
        )),
        Err(e) => Err(LlmError::Protocol(format!(
            "the extraction is not JSON: {e}"
        ))),
    }
}

/// Deterministic extraction of the schema's properties from `text`.
pub(crate) fn offline_extract(text: &str, schema: &Value) -> Map<String, Value> {
    let mut found = Map::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return found;
    };
    // Numbers that are part of e-mails or dates are not quantities.
    let mut plain = EMAIL.replace_all(text, " ").to_string();
    plain = DATE.replace_all(&plain, " ").to_string();
    for (name, property) in properties {
        if let Some(value) = extract_one(name, property, text, &plain) {
            found.insert(name.clone(), value);
        }
    }
    found
}

fn extract_one(name: &str, property: &Value, text: &str, plain: &str) -> Option<Value> {
    let kind = property
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    let format = property.get("format").and_then(Value::as_str);
    if let Some(values) = property.get("enum").and_then(Value::as_array) {
        let lower = text.to_lowercase();
        return values
            .iter()
            .filter_map(Value::as_str)
            .find(|v| {
                lower
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == v.to_lowercase())
            })
            .map(|v| Value::String(v.to_string()));
    }
    match (kind, format) {
        ("string", Some("email")) => EMAIL
            .find(text)
            .map(|m| Value::String(m.as_str().to_string())),
        ("string", Some("date")) => DATE
            .find(text)
            .map(|m| Value::String(m.as_str().to_string())),
        ("integer", _) => NUMBER
            .captures_iter(plain)
            .filter_map(|c| c[1].parse::<i64>().ok())
            .next()
            .map(Value::from),
        ("number", _) => NUMBER
            .captures_iter(plain)
            .filter_map(|c| c[1].parse::<f64>().ok())
            .next()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
        ("boolean", _) => {
            let lower = text.to_lowercase();
            let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
            if words
                .iter()
                .any(|w| matches!(*w, "yes" | "yeah" | "yep" | "sure" | "true"))
            {
                Some(Value::Bool(true))
            } else if words.iter().any(|w| matches!(*w, "no" | "nope" | "false")) {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        ("string", _)
            if name.contains("company")
                || name.contains("organisation")
                || name.contains("organization") =>
        {
            COMPANY
                .captures(text)
                .map(|c| Value::String(c[1].to_string()))
        }
        ("string", _) if name.contains("name") => PERSON
            .captures(text)
            .map(|c| Value::String(c[1].to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "company_size": {"type": "integer"},
            "plan": {"type": "string", "enum": ["basic", "pro"]},
            "newsletter": {"type": "boolean"},
            "start": {"type": "string", "format": "date"},
        }})
    }

    #[test]
    fn extracts_what_is_there_and_nothing_else() {
        let text = "Hi, I'm Grace Hopper from Navy Labs, grace@navy.example, we are 120 people. \
                    Interested in Pro from 2026-01-15, yes to the newsletter.";
        let found = offline_extract(text, &schema());
        assert_eq!(found["name"], "Grace Hopper");
        assert_eq!(found["email"], "grace@navy.example");
        assert_eq!(found["company_size"], 120);
        assert_eq!(found["plan"], "pro");
        assert_eq!(found["newsletter"], true);
        assert_eq!(found["start"], "2026-01-15");
        let found = offline_extract("hello there", &schema());
        assert!(found.is_empty(), "{found:?}");
        // a number inside a date or an address is not a quantity
        let found = offline_extract("write to a1@b2.io on 2026-03-04", &schema());
        assert!(!found.contains_key("company_size"), "{found:?}");
    }

    #[test]
    fn parses_fenced_and_plain_objects() {
        assert_eq!(parse_object("```json\n{\"a\":1}\n```").unwrap()["a"], 1);
        assert_eq!(parse_object(" {\"a\":2} ").unwrap()["a"], 2);
        assert!(parse_object("[1]").is_err());
        assert!(parse_object("nope").is_err());
    }
}
