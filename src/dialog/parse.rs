//! YAML text → `FlowDef`, turning every parser/serde failure into a
//! `Diagnostic` with a code, a pointer and a position.
//!
//! Parsing happens twice on purpose: first into the span tree (which also
//! accepts duplicate keys so *all* of them can be reported, with pointers),
//! then into the typed definition. serde stops at its first error, so at most
//! one typed-parse diagnostic is produced; its message is classified by the
//! standard serde wording (`unknown field`, `missing field`, …) to pick the
//! code and a helpful hint.

use crate::dialog::definition::FlowDef;
use crate::dialog::diagnostics::Diagnostic;
use crate::dialog::source_map::{MAX_YAML_DEPTH, Prefer, SourceMap, yaml_options};
use crate::dialog::suggest::did_you_mean;

/// A parsed definition plus the span tree used to locate later diagnostics.
pub struct Parsed {
    pub def: FlowDef,
    pub map: SourceMap,
}

/// Parses `source`. Returned diagnostics already carry positions when known
/// (the file name is filled in by the caller).
pub fn parse(source: &str) -> Result<Parsed, Vec<Diagnostic>> {
    let map = match SourceMap::parse(source) {
        Ok(map) => map,
        Err(err) => {
            return Err(vec![from_yaml_error(
                &err,
                &SourceMap::empty(),
                Stage::Syntax,
            )]);
        }
    };
    let duplicates = map.duplicate_keys();
    if !duplicates.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = duplicates
            .into_iter()
            .map(|dup| {
                let ptr = format!("{}/{}", dup.parent, escape(&dup.key));
                let (code, what) = if dup.parent == "/states" {
                    ("duplicate-state", "state")
                } else if dup.parent == "/slots" {
                    ("duplicate-slot", "slot")
                } else {
                    ("duplicate-key", "key")
                };
                let hint = dup
                    .first
                    .map(|(l, c)| format!("first defined at line {l}, column {c}"));
                Diagnostic::error(code, ptr, format!("duplicate {what} `{}`", dup.key))
                    .with_opt_hint(hint)
                    .at("", dup.position)
            })
            .collect();
        crate::dialog::diagnostics::sort(&mut diagnostics);
        return Err(diagnostics);
    }
    let options = yaml_options(serde_saphyr::DuplicateKeyPolicy::Error);
    match serde_saphyr::from_str_with_options::<FlowDef>(source, options) {
        Ok(def) => Ok(Parsed { def, map }),
        Err(err) => Err(vec![from_yaml_error(&err, &map, Stage::Typed)]),
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Which stage produced a serde-saphyr error.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The span tree accepts any YAML, so its errors are syntax errors.
    Syntax,
    /// The typed parse: shape/type errors.
    Typed,
}

/// Unwraps alias/snippet wrappers down to the underlying error.
fn original(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    use serde_saphyr::Error as E;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = err {
        err = error;
    }
    err
}

/// Classifies a serde-saphyr error into a diagnostic.
fn from_yaml_error(err: &serde_saphyr::Error, map: &SourceMap, stage: Stage) -> Diagnostic {
    use serde_saphyr::Error as E;
    let position = err.location().and_then(|l| {
        let line = u32::try_from(l.line()).ok()?;
        let column = u32::try_from(l.column()).ok()?;
        (line > 0 && column > 0).then_some((line, column))
    });
    let message = strip_location(&err.without_snippet().to_string());
    let pointer_for = |prefer| match position {
        Some((line, column)) => map.pointer_at(line, column, prefer),
        None => String::new(),
    };
    let diagnostic = match original(err) {
        E::Budget { .. }
        | E::RecursiveReferencesRequireWeakTypes { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => limit(message),
        _ if message.contains("recursion limit") => limit(message),
        _ if stage == Stage::Syntax => Diagnostic::error("yaml-syntax", String::new(), message),
        E::SerdeUnknownField {
            field, expected, ..
        } => Diagnostic::error(
            "unknown-field",
            pointer_for(Prefer::Key),
            format!("unknown field `{field}`"),
        )
        .with_opt_hint(field_hint(field, expected)),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let hint = did_you_mean(variant, expected.iter().copied())
                .or_else(|| Some(format!("expected one of: {}", expected.join(", "))));
            Diagnostic::error(
                "unknown-slot-type",
                pointer_for(Prefer::Value),
                format!("unknown slot type `{variant}`"),
            )
            .with_opt_hint(hint)
        }
        E::SerdeMissingField { field, .. } => Diagnostic::error(
            "missing-field",
            pointer_for(Prefer::Value),
            format!("missing required field `{field}`"),
        ),
        E::InvalidScalar { ty, .. } => Diagnostic::error(
            "invalid-type",
            pointer_for(Prefer::Value),
            format!("invalid value: expected {}", friendly_type(ty)),
        ),
        _ => Diagnostic::error("invalid-type", pointer_for(Prefer::Value), message),
    };
    diagnostic.at("", position)
}

/// A document that exceeds a parser safety limit (depth, size, aliases).
fn limit(message: String) -> Diagnostic {
    Diagnostic::error(
        "yaml-limit",
        String::new(),
        format!("YAML exceeds a safety limit: {message}"),
    )
    .with_hint(format!(
        "flows nest at most {MAX_YAML_DEPTH} levels deep and may not use recursive aliases"
    ))
}

/// Human wording for the Rust scalar types used in the definition.
fn friendly_type(ty: &str) -> String {
    match ty {
        "u32" | "u64" | "usize" => "a non-negative whole number".to_owned(),
        "f64" | "f32" => "a number".to_owned(),
        "bool" => "true or false".to_owned(),
        other => other.to_owned(),
    }
}

/// Removes the trailing " at line N, column M" serde-saphyr appends.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) if message[idx..].contains(", column ") => message[..idx].to_owned(),
        _ => message.to_owned(),
    }
}

fn field_hint(field: &str, expected: &[&'static str]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let allowed = format!("allowed fields: {}", expected.join(", "));
    Some(match did_you_mean(field, expected.iter().copied()) {
        Some(dym) => format!("{dym} ({allowed})"),
        None => allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_error(src: &str) -> Diagnostic {
        match parse(src) {
            Ok(_) => panic!("expected a diagnostic"),
            Err(mut diags) => {
                assert_eq!(diags.len(), 1, "{diags:?}");
                diags.remove(0)
            }
        }
    }

    #[test]
    fn yaml_syntax_error_has_position() {
        let d = one_error("id: x\nstates:\n  a: [1, 2\n");
        assert_eq!(d.code, "yaml-syntax");
        assert!(d.line.is_some() && d.column.is_some(), "{d:?}");
        assert!(!d.message.contains(" at line "), "{}", d.message);
    }

    #[test]
    fn unknown_field_gets_pointer_and_hint() {
        let d = one_error("id: x\nstates:\n  a:\n    say: hi\n    nxt: b\n");
        assert_eq!(d.code, "unknown-field");
        assert_eq!(d.pointer, "/states/a/nxt");
        assert_eq!((d.line, d.column), (Some(5), Some(5)));
        assert_eq!(d.message, "unknown field `nxt`");
        let hint = d.hint.unwrap_or_default();
        assert!(hint.starts_with("did you mean `next`?"), "{hint}");
        assert!(
            hint.contains("allowed fields: say, collect, llm, set, call, handoff, end, next"),
            "{hint}"
        );
    }

    #[test]
    fn duplicate_state_and_key() {
        let diags = match parse("id: x\nstates:\n  a: {say: hi, say: ho}\n  a: {end: ~}\n") {
            Err(d) => d,
            Ok(_) => panic!("expected errors"),
        };
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].code, "duplicate-key");
        assert_eq!(diags[0].pointer, "/states/a/say");
        assert_eq!((diags[0].line, diags[0].column), (Some(3), Some(16)));
        assert_eq!(diags[1].code, "duplicate-state");
        assert_eq!(diags[1].pointer, "/states/a");
        assert_eq!((diags[1].line, diags[1].column), (Some(4), Some(3)));
        assert_eq!(
            diags[1].hint.as_deref(),
            Some("first defined at line 3, column 3")
        );
    }

    #[test]
    fn missing_field_points_at_container() {
        let d = one_error("id: x\nstates:\n  a:\n    collect:\n      slot: s\n    next: b\n");
        assert_eq!(d.code, "missing-field");
        assert!(d.message.contains("prompt"), "{}", d.message);
        assert_eq!(d.pointer, "/states/a/collect");
    }

    #[test]
    fn unknown_slot_type_suggests() {
        let d = one_error("id: x\nslots:\n  s: {type: strng}\nstates: {}\n");
        assert_eq!(d.code, "unknown-slot-type");
        assert_eq!(d.hint.as_deref(), Some("did you mean `string`?"));
        assert_eq!(d.line, Some(3));
    }

    #[test]
    fn invalid_type() {
        let d = one_error(
            "id: x\nstates:\n  a:\n    collect: {slot: s, prompt: p, max_attempts: -1}\n",
        );
        assert_eq!(d.code, "invalid-type");
        assert_eq!(d.line, Some(4));
        assert_eq!(d.pointer, "/states/a/collect/max_attempts");
        assert_eq!(
            d.message,
            "invalid value: expected a non-negative whole number"
        );
        let d = one_error("- a\n- b\n");
        assert_eq!(d.code, "invalid-type");
    }
}
