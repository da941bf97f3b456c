//! Structured LLM extraction: the JSON Schema handed to the model and the
//! validation of what comes back.
//!
//! An `llm` state with `extract: [a, b]` asks the runtime for a JSON object
//! instead of streamed text. The schema (draft 2020-12) is derived from the
//! slot types once, at compile time: one property per slot, no `required`
//! (the model leaves out what it does not know) and no other properties.
//! Returned values go through the same normalisation as everything else:
//! strings through `parse_text` (trimmed, enums case-folded, phone numbers
//! normalised — so `"42"` also fills an integer slot), other JSON through
//! `accept_value`.

use serde_json::{Map, Number, Value, json};

use crate::dialog::slots::{SlotError, SlotType};

/// `$schema` of every schema the dialog module produces.
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Schema of the object an extraction of `slots` must return.
pub fn extract_schema<'a>(slots: impl IntoIterator<Item = (&'a str, &'a SlotType)>) -> Value {
    let properties: Map<String, Value> = slots
        .into_iter()
        .map(|(name, slot_type)| (name.to_owned(), slot_schema(slot_type)))
        .collect();
    json!({
        "$schema": DRAFT_2020_12,
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// Schema of one slot's value.
pub fn slot_schema(slot_type: &SlotType) -> Value {
    let mut schema = Map::new();
    let mut put = |key: &str, value: Value| {
        schema.insert(key.to_owned(), value);
    };
    match slot_type {
        SlotType::String {
            min_length,
            max_length,
        } => {
            put("type", json!("string"));
            if *min_length > 1 {
                put("minLength", json!(min_length));
            }
            if let Some(max) = max_length {
                put("maxLength", json!(max));
            }
        }
        SlotType::Enum { values } => {
            put("type", json!("string"));
            put("enum", json!(values));
        }
        SlotType::Integer { min, max } | SlotType::Number { min, max } => {
            let integer = matches!(slot_type, SlotType::Integer { .. });
            put("type", json!(if integer { "integer" } else { "number" }));
            if let Some(min) = min.and_then(bound) {
                put("minimum", min);
            }
            if let Some(max) = max.and_then(bound) {
                put("maximum", max);
            }
        }
        SlotType::Boolean => put("type", json!("boolean")),
        SlotType::Email => {
            put("type", json!("string"));
            put("format", json!("email"));
        }
        SlotType::Phone => {
            put("type", json!("string"));
            put(
                "description",
                json!("phone number: 7 to 15 digits, optionally starting with +"),
            );
        }
        SlotType::Date => {
            put("type", json!("string"));
            put("format", json!("date"));
        }
        SlotType::Regex { pattern } => {
            put("type", json!("string"));
            put("pattern", json!(pattern.as_str()));
        }
        SlotType::Object => put("type", json!("object")),
    }
    Value::Object(schema)
}

/// A bound as a JSON number, written as an integer when it is whole.
fn bound(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Some(json!(n as i64))
    } else {
        Number::from_f64(n).map(Value::Number)
    }
}

/// Validates and normalises one value returned by the model.
pub fn extracted_value(slot_type: &SlotType, value: &Value) -> Result<Value, SlotError> {
    match value {
        Value::String(text) => slot_type.parse_text(text),
        Value::Number(n) if matches!(slot_type, SlotType::Integer { .. }) => {
            // Models sometimes write 3 as 3.0.
            match n.as_f64() {
                Some(f) if n.as_i64().is_none() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    slot_type.accept_value(&json!(f as i64))
                }
                _ => slot_type.accept_value(value),
            }
        }
        other => slot_type.accept_value(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_per_slot_type() {
        let email = SlotType::Email;
        let size = SlotType::Integer {
            min: Some(1.0),
            max: None,
        };
        let name = SlotType::String {
            min_length: 1,
            max_length: Some(60),
        };
        let code = SlotType::Regex {
            pattern: regex::Regex::new("^[A-Z]{2}$").expect("valid"),
        };
        let schema = extract_schema([
            ("name", &name),
            ("email", &email),
            ("company_size", &size),
            ("code", &code),
            ("meta", &SlotType::Object),
        ]);
        assert_eq!(
            schema,
            json!({
                "$schema": DRAFT_2020_12,
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 60},
                    "email": {"type": "string", "format": "email"},
                    "company_size": {"type": "integer", "minimum": 1},
                    "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                    "meta": {"type": "object"},
                },
                "additionalProperties": false,
            })
        );
        let topic = SlotType::Enum {
            values: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            slot_schema(&topic),
            json!({"type": "string", "enum": ["a", "b"]})
        );
        let ratio = SlotType::Number {
            min: Some(0.5),
            max: Some(2.0),
        };
        assert_eq!(
            slot_schema(&ratio),
            json!({"type": "number", "minimum": 0.5, "maximum": 2})
        );
        assert_eq!(
            slot_schema(&SlotType::Date),
            json!({"type": "string", "format": "date"})
        );
        assert_eq!(slot_schema(&SlotType::Boolean), json!({"type": "boolean"}));
    }

    #[test]
    fn extracted_values_are_normalised() {
        let size = SlotType::Integer {
            min: Some(1.0),
            max: None,
        };
        assert_eq!(extracted_value(&size, &json!(" 42 ")), Ok(json!(42)));
        assert_eq!(extracted_value(&size, &json!(42.0)), Ok(json!(42)));
        assert_eq!(extracted_value(&size, &json!(7)), Ok(json!(7)));
        assert!(extracted_value(&size, &json!(0)).is_err());
        assert!(extracted_value(&size, &json!(2.5)).is_err());
        assert_eq!(
            extracted_value(&SlotType::Email, &json!(" ada@example.com ")),
            Ok(json!("ada@example.com"))
        );
        assert!(extracted_value(&SlotType::Email, &json!("nope")).is_err());
        assert_eq!(
            extracted_value(&SlotType::Boolean, &json!("yes")),
            Ok(json!(true))
        );
        assert_eq!(
            extracted_value(&SlotType::Object, &json!({"a": 1})),
            Ok(json!({"a": 1}))
        );
        assert!(extracted_value(&SlotType::Object, &json!("{}")).is_err());
    }
}
