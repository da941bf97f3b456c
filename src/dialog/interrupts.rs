//! Global interrupts: phrases or conditions that jump to a state from any
//! `collect`, e.g. "agent" → handoff or "start over" → greet.
//!
//! The top-level `interrupts:` list is lowered here (exactly one of `match`
//! or `when`, a known `goto` state, CEL that compiles and reads declared
//! variables) and the compiled form knows how to test a user message. The
//! engine checks them, in file order, on every answer to a `collect` before
//! the answer is validated; the first that fires wins.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::dialog::definition::InterruptDef;
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::expr::{Expr, ExprError};
use crate::dialog::lower::Lowering;

/// One compiled interrupt.
#[derive(Debug)]
pub(crate) struct Interrupt {
    pub trigger: Trigger,
    pub goto: String,
}

/// What fires an interrupt.
#[derive(Debug)]
pub(crate) enum Trigger {
    /// Normalised phrases (trimmed, lower-case): the whole message must
    /// equal one of them, ignoring case and surrounding whitespace.
    Phrases(Vec<String>),
    /// A CEL condition over the slots and `input`.
    When(Expr),
}

/// How phrases and messages are compared.
pub fn normalise(text: &str) -> String {
    text.trim().to_lowercase()
}

impl Interrupt {
    /// Whether `input` fires this interrupt; `bindings` already hold it as
    /// `input`. A failing condition is an error the engine warns about.
    pub fn fires(
        &self,
        env: &Arc<cel::Env>,
        input: &str,
        bindings: &BTreeMap<String, Value>,
    ) -> Result<bool, ExprError> {
        match &self.trigger {
            Trigger::Phrases(phrases) => {
                let said = normalise(input);
                Ok(phrases.contains(&said))
            }
            Trigger::When(expr) => expr.eval_bool(env, bindings),
        }
    }

    /// Human description for warnings.
    pub fn describe(&self, index: usize) -> String {
        match &self.trigger {
            Trigger::Phrases(_) => format!("interrupt {index}"),
            Trigger::When(expr) => format!("interrupt {index} `{}`", expr.source()),
        }
    }
}

impl Lowering<'_> {
    /// Lowers the `interrupts:` list; interrupts with errors are left out
    /// (the diagnostics make the compile fail anyway).
    pub fn interrupts(&mut self, defs: &[InterruptDef]) -> Vec<Interrupt> {
        let mut out = Vec::new();
        for (i, def) in defs.iter().enumerate() {
            let idx = i.to_string();
            let p = |field: &str| pointer(&["interrupts", &idx, field]);
            let before = self.errors();
            let exists = self.target(&p("goto"), &def.goto, "goto");
            let trigger = match (&def.phrases, &def.when) {
                (Some(phrases), None) => self.phrases(&p("match"), phrases),
                (None, Some(condition)) => self.expr(&p("when"), condition).map(Trigger::When),
                (Some(_), Some(_)) => {
                    self.shape(
                        p("when"),
                        format!("interrupt {i} has both `match` and `when`"),
                    );
                    None
                }
                (None, None) => {
                    self.shape(
                        pointer(&["interrupts", &idx]),
                        format!("interrupt {i} has neither `match` nor `when`"),
                    );
                    None
                }
            };
            if let (Some(trigger), true, true) = (trigger, exists, self.errors() == before) {
                out.push(Interrupt {
                    trigger,
                    goto: def.goto.clone(),
                });
            }
        }
        out
    }

    fn phrases(&mut self, ptr: &str, phrases: &[String]) -> Option<Trigger> {
        if phrases.is_empty() {
            self.shape(
                ptr.to_owned(),
                "`match` needs at least one phrase".to_owned(),
            );
            return None;
        }
        let mut normalised = Vec::new();
        for (j, phrase) in phrases.iter().enumerate() {
            let phrase = normalise(phrase);
            if phrase.is_empty() {
                self.shape(format!("{ptr}/{j}"), "`match` phrase is blank".to_owned());
            } else {
                normalised.push(phrase);
            }
        }
        (normalised.len() == phrases.len()).then_some(Trigger::Phrases(normalised))
    }

    fn shape(&mut self, ptr: String, message: String) {
        self.out.push(
            Diagnostic::error("invalid-interrupt", ptr, message).with_hint(
                "use `- match: [phrase, …]` or `- when: '<condition>'`, plus `goto: <state>`",
            ),
        );
    }
}
