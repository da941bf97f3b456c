//! Reference resolution for lowering: state targets, slot names, and the
//! two embedded languages (minijinja templates, CEL expressions).
//!
//! Split from `lower.rs` because these checks are shared by every action
//! and all follow one pattern: try to resolve or compile, and on failure
//! push a diagnostic with a "did you mean" hint computed from what *is*
//! declared. Templates and expressions are also checked to read only
//! declared slots and `input`.

use std::collections::BTreeSet;

use crate::dialog::diagnostics::Diagnostic;
use crate::dialog::expr::{Expr, ExprError};
use crate::dialog::lower::Lowering;
use crate::dialog::suggest::did_you_mean;
use crate::dialog::template::TemplateError;

impl Lowering<'_> {
    /// Checks that `target` names a state; returns whether it does.
    /// A duration of the flow format (`90s`, `10m`, `2h`, `1d`: a whole number and a
    /// unit), from one second to 30 days, in milliseconds.
    pub(super) fn duration(&mut self, ptr: &str, text: &str) -> Option<u64> {
        const MAX_MS: u64 = 30 * 86_400_000;
        let parsed = text
            .trim()
            .char_indices()
            .find(|(_, c)| !c.is_ascii_digit())
            .and_then(|(at, _)| {
                let (number, unit) = text.trim().split_at(at);
                let number: u64 = number.parse().ok()?;
                let unit_ms = match unit {
                    "s" => 1_000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return None,
                };
                number.checked_mul(unit_ms)
            });
        match parsed {
            Some(ms) if (1_000..=MAX_MS).contains(&ms) => Some(ms),
            Some(_) => {
                self.out.push(
                    Diagnostic::error(
                        "invalid-duration",
                        ptr,
                        format!("`{text}` is out of range: a duration is 1s to 30d"),
                    )
                    .with_hint("e.g. `90s`, `10m`, `2h` or `1d`"),
                );
                None
            }
            None => {
                self.out.push(
                    Diagnostic::error(
                        "invalid-duration",
                        ptr,
                        format!("`{text}` is not a duration"),
                    )
                    .with_hint("a whole number and a unit: `90s`, `10m`, `2h` or `1d`"),
                );
                None
            }
        }
    }

    pub(super) fn target(&mut self, ptr: &str, target: &str, field: &str) -> bool {
        if self.state_names.contains(target) {
            return true;
        }
        let hint = did_you_mean(target, self.state_names.iter().map(String::as_str));
        self.out.push(
            Diagnostic::error(
                "unknown-state",
                ptr,
                format!("`{field}` points to unknown state `{target}`"),
            )
            .with_opt_hint(hint),
        );
        false
    }

    /// Checks that `slot` is declared; returns whether it is.
    pub(super) fn slot_ref(&mut self, ptr: &str, slot: &str, field: &str) -> bool {
        if self.slot_defs.contains_key(slot) {
            return true;
        }
        let hint =
            did_you_mean(slot, self.slot_defs.keys().map(String::as_str)).unwrap_or_else(|| {
                format!("declare it under `slots:`, e.g. `{slot}: {{ type: string }}`")
            });
        self.out.push(
            Diagnostic::error(
                "unknown-slot",
                ptr,
                format!("`{field}` uses undeclared slot `{slot}`"),
            )
            .with_hint(hint),
        );
        false
    }

    pub(super) fn template(&mut self, ptr: &str, source: &str) -> Option<String> {
        match self.templates.add(ptr, source) {
            Ok(vars) => {
                self.undeclared(ptr, vars, "template");
                Some(ptr.to_owned())
            }
            Err(TemplateError::TooComplex(why)) => {
                self.out
                    .push(Diagnostic::error("template-too-complex", ptr, why));
                None
            }
            Err(e) => {
                let line = match &e {
                    TemplateError::Syntax { line: Some(l), .. } => format!(" (template line {l})"),
                    _ => String::new(),
                };
                self.out.push(Diagnostic::error(
                    "template-syntax",
                    ptr,
                    format!("template syntax error: {e}{line}"),
                ));
                None
            }
        }
    }

    pub(super) fn expr(&mut self, ptr: &str, source: &str) -> Option<Expr> {
        match Expr::compile(self.cel, source) {
            Ok(expr) => {
                self.undeclared(ptr, expr.variables(), "expression");
                Some(expr)
            }
            Err(ExprError::TooComplex(why)) => {
                self.out
                    .push(Diagnostic::error("expr-too-complex", ptr, why));
                None
            }
            Err(e) => {
                self.out.push(Diagnostic::error(
                    "cel-syntax",
                    ptr,
                    format!("CEL syntax error in `{source}`: {e}"),
                ));
                None
            }
        }
    }

    fn undeclared(&mut self, ptr: &str, vars: BTreeSet<String>, what: &str) {
        let known: Vec<&str> = self
            .slot_defs
            .keys()
            .map(String::as_str)
            .chain(["input"])
            .collect();
        for var in vars.iter().filter(|v| !known.contains(&v.as_str())) {
            let hint = did_you_mean(var, known.iter().copied()).unwrap_or_else(|| {
                format!(
                    "available: {}; declare `{var}` under `slots:` to use it",
                    known.join(", ")
                )
            });
            self.out.push(
                Diagnostic::error(
                    "undeclared-variable",
                    ptr,
                    format!("{what} uses undeclared variable `{var}`"),
                )
                .with_hint(hint),
            );
        }
    }
}
