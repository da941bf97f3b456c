//! Lowering of one state definition into a `CompiledState`.
//!
//! This is where per-state rules live: exactly one action, `next` present
//! unless the state ends, branch-list shape, targets and slots that exist,
//! templates and CEL that compile and only read declared variables, and the
//! optional constant check of `set` values. Every problem is pushed as a
//! diagnostic with a pointer into the state; lowering keeps going so one
//! run reports as much as possible. Resolving names and compiling embedded
//! templates/CEL lives in `resolve.rs`; the actions that hand work to the
//! runtime (`llm`, `call`, `handoff`) are lowered in `lower_io.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::dialog::definition::{CollectDef, Next, SlotDef, SlotKind, StateDef};
use crate::dialog::diagnostics::{Diagnostic, pointer};
use crate::dialog::expr::Expr;
use crate::dialog::flow::{Action, Collect, CompiledState, DEFAULT_MAX_ATTEMPTS, Transition};
use crate::dialog::slots::SlotType;
use crate::dialog::template::Templates;

/// Shared inputs and outputs of lowering all states of one flow.
pub(crate) struct Lowering<'a> {
    pub slot_defs: &'a BTreeMap<String, SlotDef>,
    pub slot_types: &'a BTreeMap<String, SlotType>,
    pub state_names: &'a BTreeSet<String>,
    /// Adaptors configured for the tenant; `None` skips the check.
    pub adaptors: Option<&'a BTreeSet<String>>,
    /// The tenant's knowledge bases; `None` skips the check.
    pub knowledge_bases: Option<&'a BTreeSet<String>>,
    pub templates: &'a mut Templates,
    pub cel: &'a Arc<cel::Env>,
    pub out: &'a mut Vec<Diagnostic>,
}

impl Lowering<'_> {
    pub(super) fn errors(&self) -> usize {
        self.out.iter().filter(|d| d.is_error()).count()
    }

    /// Lowers state `name`; `None` if it had errors.
    pub fn state(&mut self, name: &str, def: &StateDef) -> Option<CompiledState> {
        let before = self.errors();
        let p = |parts: &[&str]| {
            let mut all = vec!["states", name];
            all.extend_from_slice(parts);
            pointer(&all)
        };
        let mut present = Vec::new();
        for (key, set) in [
            ("say", def.say.is_some()),
            ("collect", def.collect.is_some()),
            ("llm", def.llm.is_some()),
            ("set", def.set.is_some()),
            ("call", def.call.is_some()),
            ("handoff", def.handoff.is_some()),
            ("end", def.end.is_some()),
        ] {
            if set {
                present.push(key);
            }
        }
        match present.len() {
            0 => self.out.push(
                Diagnostic::error(
                    "missing-action",
                    p(&[]),
                    format!("state `{name}` has no action"),
                )
                .with_hint(
                    "add exactly one of `say`, `collect`, `llm`, `set`, `call`, `handoff` or `end`",
                ),
            ),
            1 => {}
            _ => self.out.push(
                Diagnostic::error(
                    "multiple-actions",
                    p(&[present[1]]),
                    format!(
                        "state `{name}` has more than one action: {}",
                        present.join(", ")
                    ),
                )
                .with_hint("split it into several states chained with `next`"),
            ),
        }
        match (def.end.is_some(), &def.next) {
            (true, Some(_)) => self.out.push(
                Diagnostic::error(
                    "end-with-next",
                    p(&["next"]),
                    format!("`end` state `{name}` cannot have `next`"),
                )
                .with_hint("remove `next`, or use `say` instead of `end`"),
            ),
            (false, None) if !present.is_empty() && def.handoff.is_none() => self.out.push(
                Diagnostic::error(
                    "missing-next",
                    p(&[]),
                    format!("state `{name}` has no `next`"),
                )
                .with_hint("every state except `end` and `handoff` states needs `next: <state>`"),
            ),
            _ => {}
        }

        let next = def.next.as_ref().and_then(|n| self.next(name, n));
        let action = if let Some(text) = &def.say {
            self.template(&p(&["say"]), text)
                .map(|text| Action::Say { text })
        } else if let Some(collect) = &def.collect {
            self.collect(name, collect).map(Action::Collect)
        } else if let Some(llm) = &def.llm {
            self.llm(name, llm).map(Action::Llm)
        } else if let Some(assignments) = &def.set {
            self.set(name, assignments)
        } else if let Some(call) = &def.call {
            self.call(name, call).map(Action::Call)
        } else if let Some(handoff) = &def.handoff {
            self.handoff(name, handoff).map(Action::Handoff)
        } else if let Some(end) = &def.end {
            match end.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(text) => self
                    .template(&p(&["end"]), text)
                    .map(|t| Action::End { text: Some(t) }),
                None => Some(Action::End { text: None }),
            }
        } else {
            None
        };
        let action = action?;
        (self.errors() == before).then_some(CompiledState { action, next })
    }

    fn collect(&mut self, state: &str, def: &CollectDef) -> Option<Collect> {
        let p = |f: &str| pointer(&["states", state, "collect", f]);
        if self.slot_ref(&p("slot"), &def.slot, "collect")
            && self
                .slot_defs
                .get(&def.slot)
                .is_some_and(|s| s.kind == SlotKind::Object)
        {
            self.out.push(
                Diagnostic::error(
                    "collect-object-slot",
                    p("slot"),
                    format!("`collect` cannot fill object slot `{}`", def.slot),
                )
                .with_hint(
                    "object slots are filled by `call` (`save_as`), `llm` (`extract`) or `set`",
                ),
            );
        }
        if def.max_attempts == Some(0) {
            self.out.push(Diagnostic::error(
                "invalid-max-attempts",
                p("max_attempts"),
                "`max_attempts` must be at least 1",
            ));
        }
        if let Some(target) = &def.on_fail {
            self.target(&p("on_fail"), target, "on_fail");
        }
        let timeout_ms = def
            .timeout
            .as_ref()
            .and_then(|t| self.duration(&p("timeout"), t));
        match (&def.timeout, &def.on_timeout) {
            (Some(_), Some(target)) => {
                self.target(&p("on_timeout"), target, "on_timeout");
            }
            (Some(_), None) => self.out.push(
                Diagnostic::error(
                    "timeout-without-target",
                    p("timeout"),
                    "`timeout` needs `on_timeout`: the state to go to when no answer comes",
                )
                .with_hint(
                    "e.g. `on_timeout: remind` (a `say` that comes back here) or an `end` state",
                ),
            ),
            (None, Some(_)) => self.out.push(
                Diagnostic::error(
                    "on-timeout-without-timeout",
                    p("on_timeout"),
                    "`on_timeout` needs `timeout`: how long to wait for an answer",
                )
                .with_hint("e.g. `timeout: 10m`"),
            ),
            (None, None) => {}
        }
        let prompt = self.template(&p("prompt"), &def.prompt);
        let reprompt = def
            .reprompt
            .as_ref()
            .map(|r| self.template(&p("reprompt"), r));
        Some(Collect {
            slot: def.slot.clone(),
            prompt: prompt?,
            reprompt: reprompt.map_or(Some(None), |r| r.map(Some))?,
            max_attempts: def.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            on_fail: def.on_fail.clone(),
            timeout_ms,
            on_timeout: def.on_timeout.clone(),
        })
    }

    fn set(&mut self, state: &str, assignments: &BTreeMap<String, String>) -> Option<Action> {
        let mut out = Vec::new();
        for (slot, source) in assignments {
            let ptr = pointer(&["states", state, "set", slot]);
            let known = self.slot_ref(&ptr, slot, "set");
            let Some(expr) = self.expr(&ptr, source) else {
                continue;
            };
            if known && expr.variables().is_empty() {
                self.check_constant(&ptr, slot, &expr);
            }
            out.push((slot.clone(), expr));
        }
        (out.len() == assignments.len()).then_some(Action::Set { assignments: out })
    }

    /// A `set` expression without variables can be evaluated right now.
    fn check_constant(&mut self, ptr: &str, slot: &str, expr: &Expr) {
        let Some(slot_type) = self.slot_types.get(slot) else {
            return;
        };
        let result = match expr.eval(self.cel, &BTreeMap::new()) {
            Ok(Value::Null) => Ok(()),
            Ok(value) => slot_type
                .accept_value(&value)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(reason) = result {
            self.out.push(Diagnostic::error(
                "set-type-mismatch",
                ptr,
                format!(
                    "`{}` does not fit {} slot `{slot}`: {reason}",
                    expr.source(),
                    slot_type.name()
                ),
            ));
        }
    }

    fn next(&mut self, state: &str, next: &Next) -> Option<Transition> {
        let p = |parts: &[&str]| {
            let mut all = vec!["states", state, "next"];
            all.extend_from_slice(parts);
            pointer(&all)
        };
        let branches = match next {
            Next::Goto(target) => {
                return self
                    .target(&p(&[]), target, "next")
                    .then(|| Transition::Goto(target.clone()));
            }
            Next::Branches(branches) => branches,
        };
        let before = self.errors();
        let shape = |this: &mut Self, ptr: String, message: &str| {
            this.out.push(
                Diagnostic::error("invalid-branches", ptr, message.to_owned())
                    .with_hint("use `- if: <condition>` / `then: <state>` entries and one final `- else: <state>`"),
            );
        };
        if branches.is_empty() {
            shape(self, p(&[]), "`next` branch list is empty");
        }
        let mut compiled = Vec::new();
        let mut otherwise = None;
        for (i, branch) in branches.iter().enumerate() {
            let idx = i.to_string();
            let last = i + 1 == branches.len();
            if let Some(target) = &branch.otherwise {
                if branch.when.is_some() || branch.then.is_some() {
                    shape(
                        self,
                        p(&[&idx]),
                        "an `else` branch cannot also have `if` or `then`",
                    );
                } else if !last {
                    shape(self, p(&[&idx]), "`else` must be the last branch");
                }
                if self.target(&p(&[&idx, "else"]), target, "else") {
                    otherwise = Some(target.clone());
                }
                continue;
            }
            match (&branch.when, &branch.then) {
                (Some(cond), Some(target)) => {
                    let expr = self.expr(&p(&[&idx, "if"]), cond);
                    let exists = self.target(&p(&[&idx, "then"]), target, "then");
                    if let (Some(expr), true) = (expr, exists) {
                        compiled.push((expr, target.clone()));
                    }
                }
                _ => shape(self, p(&[&idx]), "a branch needs both `if` and `then`"),
            }
            if last {
                shape(
                    self,
                    p(&[&idx]),
                    "the branch list must end with an `else` entry",
                );
            }
        }
        match otherwise {
            Some(otherwise) if self.errors() == before => Some(Transition::Branch {
                branches: compiled,
                otherwise,
            }),
            _ => None,
        }
    }
}
