//! Resuming a waiting state: what each event does to the state that
//! asked for it.
//!
//! * user text answering a `collect`: global interrupts first (first match
//!   wins, attempts reset), then validation, re-prompts and `on_fail`;
//! * an LLM reply, extraction or failure for an `llm` state;
//! * an adaptor result or failure for a `call` state;
//! * a budget that stopped an `llm` state: `on_budget`, else a handoff to the
//!   `budget` queue;
//! * `Released` for a `handoff` state (or an `llm` state a budget handed off):
//!   resume at `next`, else end.
//!
//! Failures (adaptor errors, a result that does not fit `save_as`, an LLM
//! failure, an answer of the wrong kind) take `on_error` when the state has
//! one and `next` otherwise. A state name that no longer fits the flow (the
//! flow changed under a stored conversation) ends the conversation with a
//! warning, as everywhere in the engine.

use serde_json::{Map, Value};

use crate::dialog::engine::{GIVE_UP_MESSAGE, Run};
use crate::dialog::extract::extracted_value;
use crate::dialog::flow::{Action, Call, Collect, CompiledFlow, Llm};
use crate::dialog::{Effect, Status};

/// The human queue a conversation goes to when a budget stops its model call and the
/// `llm` state has no `on_budget`.
pub const BUDGET_QUEUE: &str = "budget";

fn action_of<'f>(flow: &'f CompiledFlow, name: &str) -> Option<&'f Action> {
    flow.states.get(name).map(|s| &s.action)
}

fn collect_of<'f>(flow: &'f CompiledFlow, name: &str) -> Option<&'f Collect> {
    match action_of(flow, name)? {
        Action::Collect(c) => Some(c),
        _ => None,
    }
}

fn llm_of<'f>(flow: &'f CompiledFlow, name: &str) -> Option<&'f Llm> {
    match action_of(flow, name)? {
        Action::Llm(l) => Some(l),
        _ => None,
    }
}

fn call_of<'f>(flow: &'f CompiledFlow, name: &str) -> Option<&'f Call> {
    match action_of(flow, name)? {
        Action::Call(c) => Some(c),
        _ => None,
    }
}

impl Run<'_> {
    /// The user wrote while the `collect` in state `name` waited.
    /// Asks the runtime for a timer when the `collect` of `name` has a `timeout`, or
    /// the flow an `idle` limit.
    pub fn wait_for_answer(&mut self, name: &str, collect: &Collect) {
        if let Some(timeout_ms) = collect.timeout_ms.or(self.flow.idle_ms) {
            self.effects.push(Effect::Wait {
                state: name.to_owned(),
                timeout_ms,
            });
        }
    }

    /// No answer came in time: `on_timeout`, else (the flow's `idle` ran out) the
    /// conversation ends.
    pub fn timed_out(&mut self, name: &str) {
        let target = collect_of(self.flow, name).and_then(|c| c.on_timeout.clone());
        match target {
            Some(target) => {
                self.state.attempts = 0;
                self.enter(target);
            }
            None if self.flow.idle_ms.is_some() => self.end(),
            None => self.warn(format!(
                "state `{name}` timed out but has no `on_timeout`; still waiting"
            )),
        }
    }

    pub fn user_text(&mut self, name: &str, text: String) {
        self.state.last_input = text;
        if let Some(target) = self.interrupt() {
            self.state.attempts = 0;
            return self.enter(target);
        }
        self.answer(name);
    }

    /// The target of the first interrupt fired by `last_input`.
    fn interrupt(&mut self) -> Option<String> {
        let flow = self.flow;
        if flow.interrupts.is_empty() {
            return None;
        }
        let bindings = self.bindings();
        for (index, interrupt) in flow.interrupts.iter().enumerate() {
            match interrupt.fires(&flow.cel, &self.state.last_input, &bindings) {
                Ok(true) => return Some(interrupt.goto.clone()),
                Ok(false) => {}
                Err(e) => self.warn(format!(
                    "{} treated as false: {e}",
                    interrupt.describe(index)
                )),
            }
        }
        None
    }

    /// Validates `last_input` as the answer to the `collect` in `name`.
    fn answer(&mut self, name: &str) {
        let Some(collect) = collect_of(self.flow, name) else {
            return self.abort(format!(
                "state `{name}` is not a collect state of this flow"
            ));
        };
        let Some(slot_type) = self.flow.slots.get(&collect.slot) else {
            return self.abort(format!("slot `{}` is not declared", collect.slot));
        };
        match slot_type.parse_text(&self.state.last_input) {
            Ok(value) => {
                self.state.attempts = 0;
                self.set_slot(&collect.slot, value);
                self.leave(name);
            }
            Err(_) => {
                self.state.attempts = self.state.attempts.saturating_add(1);
                if self.state.attempts < collect.max_attempts {
                    match &collect.reprompt {
                        Some(template) => self.say(template),
                        None => self.say_text(slot_type.default_reprompt()),
                    }
                    self.offer_choices(&collect.slot);
                    self.wait_for_answer(name, collect);
                    return;
                }
                self.state.attempts = 0;
                match &collect.on_fail {
                    Some(target) => self.enter(target.clone()),
                    None => {
                        self.say_text(GIVE_UP_MESSAGE.to_owned());
                        self.end();
                    }
                }
            }
        }
    }

    /// The streamed reply of the `llm` state `name` finished.
    pub fn llm_reply(&mut self, name: &str, text: String) {
        let Some(llm) = llm_of(self.flow, name) else {
            return self.abort(format!("state `{name}` is not an llm state of this flow"));
        };
        if llm.extract.is_some() {
            self.warn(format!(
                "state `{name}` expected extracted values, got a text reply"
            ));
            return self.fail(name, llm.on_error.as_ref());
        }
        if let Some(slot) = &llm.save_as {
            self.set_slot(slot, Value::String(text));
        }
        self.leave(name);
    }

    /// The extraction turn of the `llm` state `name` returned `values`.
    /// Requested slots with a valid value are set; invalid ones warn; null
    /// means "unknown" and other keys are ignored.
    pub fn llm_extracted(&mut self, name: &str, values: &Map<String, Value>) {
        let Some(llm) = llm_of(self.flow, name) else {
            return self.abort(format!("state `{name}` is not an llm state of this flow"));
        };
        let Some(spec) = &llm.extract else {
            self.warn(format!(
                "state `{name}` does not extract; extracted values ignored"
            ));
            return self.fail(name, llm.on_error.as_ref());
        };
        for slot in &spec.slots {
            let (Some(value), Some(slot_type)) = (values.get(slot), self.flow.slots.get(slot))
            else {
                continue;
            };
            if value.is_null() {
                continue;
            }
            match extracted_value(slot_type, value) {
                Ok(value) => self.set_slot(slot, value),
                Err(e) => self.warn(format!(
                    "state `{name}`: extracted value for `{slot}` ignored: {e}"
                )),
            }
        }
        self.leave(name);
    }

    /// The LLM turn of state `name` failed.
    pub fn llm_failed(&mut self, name: &str) {
        match llm_of(self.flow, name) {
            Some(llm) => self.fail(name, llm.on_error.as_ref()),
            None => self.abort(format!("state `{name}` is not an llm state of this flow")),
        }
    }

    /// A budget stopped the LLM turn of state `name`: `on_budget`, else a handoff to the
    /// `budget` queue (released, the flow goes on from the state's `next`).
    pub fn llm_budget_exhausted(&mut self, name: &str) {
        let Some(llm) = llm_of(self.flow, name) else {
            return self.abort(format!("state `{name}` is not an llm state of this flow"));
        };
        match &llm.on_budget {
            Some(target) => self.enter(target.clone()),
            None => {
                self.effects.push(Effect::Handoff {
                    queue: BUDGET_QUEUE.to_owned(),
                    state: name.to_owned(),
                });
                self.state.attempts = 0;
                self.state.status = Status::HumanMode {
                    state: name.to_owned(),
                    queue: BUDGET_QUEUE.to_owned(),
                };
            }
        }
    }

    /// The adaptor of the `call` state `name` returned `value`.
    pub fn adaptor_result(&mut self, name: &str, value: &Value) {
        let Some(call) = call_of(self.flow, name) else {
            return self.abort(format!("state `{name}` is not a call state of this flow"));
        };
        let Some(slot) = &call.save_as else {
            return self.leave(name);
        };
        let checked = match self.flow.slots.get(slot) {
            Some(slot_type) => slot_type.accept_value(value).map_err(|e| e.to_string()),
            None => Err("slot is not declared".to_owned()),
        };
        match checked {
            Ok(value) => {
                self.set_slot(slot, value);
                self.leave(name);
            }
            Err(e) => {
                self.warn(format!(
                    "state `{name}`: result of adaptor `{}` not stored in `{slot}`: {e}",
                    call.adaptor
                ));
                self.fail(name, call.on_error.as_ref());
            }
        }
    }

    /// The adaptor of the `call` state `name` failed.
    pub fn adaptor_failed(&mut self, name: &str) {
        match call_of(self.flow, name) {
            Some(call) => self.fail(name, call.on_error.as_ref()),
            None => self.abort(format!("state `{name}` is not a call state of this flow")),
        }
    }

    /// The agent released the conversation handed over in state `name`: a handoff state
    /// (or an llm state a budget handed off) goes on to its `next`, or ends without one;
    /// any other state (an agent took the conversation over there) is entered again, so
    /// its question is asked anew.
    pub fn released(&mut self, name: &str) {
        let flow = self.flow;
        match flow.states.get(name) {
            Some(node) if matches!(node.action, Action::Handoff(_) | Action::Llm(_)) => {
                if node.next.is_some() {
                    self.leave(name);
                } else {
                    self.end();
                }
            }
            Some(_) => self.enter(name.to_owned()),
            None => self.abort(format!("state `{name}` is not a state of this flow")),
        }
    }

    /// The agent released the conversation at the state `target` (checked by the
    /// runtime; a name the flow lacks ends the conversation with a warning).
    pub fn released_to(&mut self, target: String) {
        if self.flow.states.contains_key(&target) {
            self.enter(target);
        } else {
            self.abort(format!("state `{target}` is not a state of this flow"));
        }
    }

    /// Takes `on_error` when given, else the state's `next`.
    fn fail(&mut self, name: &str, on_error: Option<&String>) {
        match on_error {
            Some(target) => self.enter(target.clone()),
            None => self.leave(name),
        }
    }
}
