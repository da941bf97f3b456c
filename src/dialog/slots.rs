//! Slot types and the validation/normalisation of values put into slots.
//!
//! Two entry points mirror the two ways a slot gets a value: `parse_text`
//! for what a user typed (lenient: trims, case-folds enums, accepts yes/no
//! for booleans, strips phone punctuation) and `accept_value` for values
//! computed by `set` expressions (strict on JSON type, then the same
//! normalisation for text-like slots; `object` slots take any JSON object
//! and never user text). Failures are `SlotError`s whose text
//! is meant for warnings/logs; users see `default_reprompt` instead.

use serde_json::{Number, Value};
use thiserror::Error;

/// A compiled slot type with its constraints.
#[derive(Debug, Clone)]
pub enum SlotType {
    String {
        min_length: u32,
        max_length: Option<u32>,
    },
    Enum {
        values: Vec<String>,
    },
    Integer {
        min: Option<f64>,
        max: Option<f64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    Email,
    Phone,
    Date,
    Regex {
        pattern: regex::Regex,
    },
    /// Any JSON object; never typed by the user, only assigned.
    Object,
}

/// Why a value does not fit a slot.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SlotError {
    #[error("must be at least {min} characters")]
    TooShort { min: u32 },
    #[error("must be at most {max} characters")]
    TooLong { max: u32 },
    #[error("must be one of: {}", .values.join(", "))]
    NotInEnum { values: Vec<String> },
    #[error("not a whole number")]
    NotInteger,
    #[error("not a number")]
    NotNumber,
    #[error("must be {0}")]
    OutOfRange(String),
    #[error("not yes or no")]
    NotBoolean,
    #[error("not an email address")]
    NotEmail,
    #[error("not a phone number")]
    NotPhone,
    #[error("not a valid date (YYYY-MM-DD)")]
    NotDate,
    #[error("does not match the required pattern")]
    NoMatch,
    #[error("nested more than {max} levels deep")]
    TooDeep { max: usize },
    #[error(
        "{} {got} value cannot be stored in {} {expected} slot",
        article(.got),
        article(.expected)
    )]
    WrongType {
        expected: &'static str,
        got: &'static str,
    },
}

impl SlotType {
    /// The YAML name of the type.
    pub fn name(&self) -> &'static str {
        match self {
            SlotType::String { .. } => "string",
            SlotType::Enum { .. } => "enum",
            SlotType::Integer { .. } => "integer",
            SlotType::Number { .. } => "number",
            SlotType::Boolean => "boolean",
            SlotType::Email => "email",
            SlotType::Phone => "phone",
            SlotType::Date => "date",
            SlotType::Regex { .. } => "regex",
            SlotType::Object => "object",
        }
    }

    /// Validates and normalises user text into the stored JSON value.
    pub fn parse_text(&self, raw: &str) -> Result<Value, SlotError> {
        let text = raw.trim();
        match self {
            SlotType::String {
                min_length,
                max_length,
            } => {
                let len = text.chars().count();
                if len < *min_length as usize {
                    return Err(SlotError::TooShort { min: *min_length });
                }
                match max_length {
                    Some(max) if len > *max as usize => Err(SlotError::TooLong { max: *max }),
                    _ => Ok(Value::String(text.to_owned())),
                }
            }
            SlotType::Enum { values } => values
                .iter()
                .find(|v| v.to_lowercase() == text.to_lowercase())
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| SlotError::NotInEnum {
                    values: values.clone(),
                }),
            SlotType::Integer { min, max } => {
                let n: i64 = text.parse().map_err(|_| SlotError::NotInteger)?;
                check_range(n as f64, *min, *max)?;
                Ok(Value::from(n))
            }
            SlotType::Number { min, max } => {
                let n: f64 = text.parse().map_err(|_| SlotError::NotNumber)?;
                let number = Number::from_f64(n).ok_or(SlotError::NotNumber)?;
                check_range(n, *min, *max)?;
                Ok(Value::Number(number))
            }
            SlotType::Boolean => match text.to_lowercase().as_str() {
                "yes" | "y" | "true" | "1" => Ok(Value::Bool(true)),
                "no" | "n" | "false" | "0" => Ok(Value::Bool(false)),
                _ => Err(SlotError::NotBoolean),
            },
            SlotType::Email => is_email(text)
                .then(|| Value::String(text.to_owned()))
                .ok_or(SlotError::NotEmail),
            SlotType::Phone => normalise_phone(text)
                .map(Value::String)
                .ok_or(SlotError::NotPhone),
            SlotType::Date => is_date(text)
                .then(|| Value::String(text.to_owned()))
                .ok_or(SlotError::NotDate),
            SlotType::Regex { pattern } => pattern
                .is_match(text)
                .then(|| Value::String(text.to_owned()))
                .ok_or(SlotError::NoMatch),
            SlotType::Object => Err(SlotError::WrongType {
                expected: "object",
                got: "string",
            }),
        }
    }

    /// Validates a computed value (from `set`). `null` is accepted by the
    /// caller as "clear the slot" and never reaches here.
    pub fn accept_value(&self, value: &Value) -> Result<Value, SlotError> {
        let wrong = || SlotError::WrongType {
            expected: self.name(),
            got: json_type(value),
        };
        match self {
            SlotType::Integer { min, max } => {
                let n = value.as_i64().ok_or_else(wrong)?;
                check_range(n as f64, *min, *max)?;
                Ok(Value::from(n))
            }
            SlotType::Number { min, max } => {
                let n = value.as_f64().ok_or_else(wrong)?;
                check_range(n, *min, *max)?;
                Ok(value.clone())
            }
            SlotType::Boolean => value.as_bool().map(Value::Bool).ok_or_else(wrong),
            SlotType::Object => match value {
                Value::Object(_) if depth(value) > MAX_OBJECT_DEPTH => Err(SlotError::TooDeep {
                    max: MAX_OBJECT_DEPTH,
                }),
                Value::Object(_) => Ok(value.clone()),
                _ => Err(wrong()),
            },
            _ => match value {
                Value::String(text) => self.parse_text(text),
                _ => Err(wrong()),
            },
        }
    }

    /// The message used when the user's answer does not fit and the flow
    /// gives no `reprompt`.
    pub fn default_reprompt(&self) -> String {
        match self {
            SlotType::String {
                min_length,
                max_length: Some(max),
            } => format!("Sorry, I need an answer between {min_length} and {max} characters."),
            SlotType::String { min_length, .. } if *min_length > 1 => {
                format!("Sorry, I need an answer of at least {min_length} characters.")
            }
            SlotType::String { .. } => "Sorry, I need an answer to continue.".to_owned(),
            SlotType::Enum { values } => format!("Please answer one of: {}.", values.join(", ")),
            SlotType::Integer { min, max } => {
                format!(
                    "Please answer with a whole number{}.",
                    range_text(*min, *max)
                )
            }
            SlotType::Number { min, max } => {
                format!("Please answer with a number{}.", range_text(*min, *max))
            }
            SlotType::Boolean => "Please answer yes or no.".to_owned(),
            SlotType::Email => {
                "Please enter a valid email address, like name@example.com.".to_owned()
            }
            SlotType::Phone => {
                "Please enter a valid phone number (7 to 15 digits, optionally starting with +)."
                    .to_owned()
            }
            SlotType::Date => "Please enter a date as YYYY-MM-DD, e.g. 2024-05-31.".to_owned(),
            SlotType::Regex { .. } | SlotType::Object => {
                "Sorry, that doesn't look right. Please try again.".to_owned()
            }
        }
    }
}

/// Deepest nesting accepted in an `object` slot. Deeper values could
/// exhaust the stack in the recursive CEL/template conversions.
pub const MAX_OBJECT_DEPTH: usize = 32;

/// Nesting depth of a JSON value (scalars are 0), computed iteratively.
pub fn depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((node, level)) = stack.pop() {
        match node {
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, level + 1))),
            Value::Object(map) => stack.extend(map.values().map(|c| (c, level + 1))),
            _ => continue,
        }
        max = max.max(level + 1);
    }
    max
}

/// "a" or "an" for a type name.
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// JSON type name for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn check_range(n: f64, min: Option<f64>, max: Option<f64>) -> Result<(), SlotError> {
    let below = min.is_some_and(|m| n < m);
    let above = max.is_some_and(|m| n > m);
    if below || above {
        return Err(SlotError::OutOfRange(
            range_text(min, max).trim().to_owned(),
        ));
    }
    Ok(())
}

/// " between 0 and 150" / " of at least 0" / " of at most 9" / "".
fn range_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!(" between {} and {}", num(lo), num(hi)),
        (Some(lo), None) => format!(" of at least {}", num(lo)),
        (None, Some(hi)) => format!(" of at most {}", num(hi)),
        (None, None) => String::new(),
    }
}

/// Formats a bound without a trailing ".0" for whole numbers.
fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Pragmatic email check: one `@`, non-empty local part, dotted domain of
/// letters/digits/hyphens with a TLD of at least two letters, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.chars().any(|c| c.is_whitespace() || c == '@');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}

/// E.164-ish: optional leading `+`, separators stripped, 7–15 digits.
fn normalise_phone(text: &str) -> Option<String> {
    let (plus, rest) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let ok = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| if plus { format!("+{digits}") } else { digits })
}

/// Strict `YYYY-MM-DD` with a real calendar day (leap years included).
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let field = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (field(0..4), field(5..7), field(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

#[cfg(test)]
#[path = "slots_tests.rs"]
mod tests;
