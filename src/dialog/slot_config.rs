//! Slot declarations → `SlotType`, with configuration diagnostics.
//!
//! Kept apart from `slots.rs` (runtime validation) because this side is all
//! about reporting: which option does not belong to which type, empty enums,
//! bad regexes, inverted ranges and unusable slot names — each with its own
//! code and a pointer to the offending key.

use crate::dialog::definition::{SlotDef, SlotKind};
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::slots::SlotType;

/// Names that would clash with the built-in `input` variable or with
/// CEL / template keywords.
pub const RESERVED_NAMES: &[&str] = &[
    "input",
    "true",
    "false",
    "null",
    "in",
    "and",
    "or",
    "not",
    "is",
    "none",
    "None",
    "True",
    "False",
    "if",
    "else",
    "for",
    "loop",
    "self",
    "as",
    "break",
    "const",
    "continue",
    "function",
    "import",
    "let",
    "namespace",
    "package",
    "return",
    "var",
    "void",
    "while",
];

/// Compiles one slot declaration. Returns `None` when it has errors.
pub fn compile_slot(name: &str, def: &SlotDef, out: &mut Vec<Diagnostic>) -> Option<SlotType> {
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    let base = pointer(&["slots", name]);
    check_name(name, &base, out);
    check_applicable(name, def, out);

    let field = |f: &str| pointer(&["slots", name, f]);
    let slot = match def.kind {
        SlotKind::String => {
            if let (Some(lo), Some(hi)) = (def.min_length, def.max_length)
                && lo > hi
            {
                out.push(Diagnostic::error(
                    "invalid-range",
                    field("min_length"),
                    format!("slot `{name}`: min_length {lo} is greater than max_length {hi}"),
                ));
            }
            SlotType::String {
                min_length: def.min_length.unwrap_or(1),
                max_length: def.max_length,
            }
        }
        SlotKind::Enum => SlotType::Enum {
            values: enum_values(name, def, out),
        },
        SlotKind::Integer | SlotKind::Number => {
            for (key, bound) in [("min", def.min), ("max", def.max)] {
                if bound.is_some_and(|b| !b.is_finite()) {
                    out.push(Diagnostic::error(
                        "invalid-range",
                        field(key),
                        format!("slot `{name}`: `{key}` must be a finite number"),
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (def.min, def.max)
                && lo > hi
            {
                out.push(Diagnostic::error(
                    "invalid-range",
                    field("min"),
                    format!("slot `{name}`: min {lo} is greater than max {hi}"),
                ));
            }
            if def.kind == SlotKind::Integer {
                SlotType::Integer {
                    min: def.min,
                    max: def.max,
                }
            } else {
                SlotType::Number {
                    min: def.min,
                    max: def.max,
                }
            }
        }
        SlotKind::Boolean => SlotType::Boolean,
        SlotKind::Email => SlotType::Email,
        SlotKind::Phone => SlotType::Phone,
        SlotKind::Date => SlotType::Date,
        SlotKind::Object => SlotType::Object,
        SlotKind::Regex => match &def.pattern {
            None => {
                out.push(
                    Diagnostic::error(
                        "missing-pattern",
                        base.clone(),
                        format!("regex slot `{name}` has no `pattern`"),
                    )
                    .with_hint("add e.g. `pattern: \"^[A-Z]{3}-\\\\d{4}$\"`"),
                );
                return None;
            }
            Some(source) => match regex::Regex::new(source) {
                Ok(pattern) => SlotType::Regex { pattern },
                Err(err) => {
                    out.push(Diagnostic::error(
                        "invalid-regex",
                        field("pattern"),
                        format!(
                            "slot `{name}`: invalid regex pattern: {}",
                            one_line(&err.to_string())
                        ),
                    ));
                    return None;
                }
            },
        },
    };
    let errors_after = out.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then_some(slot)
}

fn check_name(name: &str, base: &str, out: &mut Vec<Diagnostic>) {
    if RESERVED_NAMES.contains(&name) {
        out.push(
            Diagnostic::error(
                "reserved-slot-name",
                base,
                format!("`{name}` is reserved and cannot be used as a slot name"),
            )
            .with_hint(if name == "input" {
                "`input` always holds the latest user message; pick another name".to_owned()
            } else {
                format!("rename it, e.g. `{name}_value`")
            }),
        );
        return;
    }
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        out.push(
            Diagnostic::error("invalid-slot-name", base, format!("invalid slot name `{name}`"))
                .with_hint(
                    "slot names are used as variables: letters, digits and `_`, not starting with a digit, at most 64 characters",
                ),
        );
    }
}

/// The options a slot type accepts besides `type` (also used by the JSON
/// Schema of the format, so both stay in step).
pub fn options_of(kind: SlotKind) -> &'static [&'static str] {
    match kind {
        SlotKind::String => &["min_length", "max_length"],
        SlotKind::Enum => &["values"],
        SlotKind::Integer | SlotKind::Number => &["min", "max"],
        SlotKind::Regex => &["pattern"],
        SlotKind::Boolean
        | SlotKind::Email
        | SlotKind::Phone
        | SlotKind::Date
        | SlotKind::Object => &[],
    }
}

/// Rejects options that have no meaning for the slot's type.
fn check_applicable(name: &str, def: &SlotDef, out: &mut Vec<Diagnostic>) {
    let allowed = options_of(def.kind);
    let present = [
        ("min_length", def.min_length.is_some()),
        ("max_length", def.max_length.is_some()),
        ("values", def.values.is_some()),
        ("min", def.min.is_some()),
        ("max", def.max.is_some()),
        ("pattern", def.pattern.is_some()),
    ];
    let type_name = def.kind.name();
    for (option, is_set) in present {
        if is_set && !allowed.contains(&option) {
            let hint = if allowed.is_empty() {
                format!("`{type_name}` slots take no options")
            } else {
                format!("`{type_name}` slots accept: {}", allowed.join(", "))
            };
            out.push(
                Diagnostic::error(
                    "slot-option-not-applicable",
                    pointer(&["slots", name, option]),
                    format!("`{option}` does not apply to `{type_name}` slot `{name}`"),
                )
                .with_hint(hint),
            );
        }
    }
}

fn enum_values(name: &str, def: &SlotDef, out: &mut Vec<Diagnostic>) -> Vec<String> {
    let values = def.values.clone().unwrap_or_default();
    if values.is_empty() {
        out.push(
            Diagnostic::error(
                "enum-without-values",
                pointer(&["slots", name]),
                format!("enum slot `{name}` has no values"),
            )
            .with_hint("add e.g. `values: [billing, technical, other]`"),
        );
    }
    for (i, value) in values.iter().enumerate() {
        let ptr = pointer(&["slots", name, "values", &i.to_string()]);
        if value.trim().is_empty() {
            out.push(Diagnostic::error(
                "invalid-enum-value",
                ptr,
                format!("enum slot `{name}` has an empty value"),
            ));
        } else if values[..i]
            .iter()
            .any(|v| v.to_lowercase() == value.to_lowercase())
        {
            out.push(Diagnostic::error(
                "invalid-enum-value",
                ptr,
                format!(
                    "enum slot `{name}` lists `{value}` twice (values match case-insensitively)"
                ),
            ));
        }
    }
    values
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
