//! The pure dialog engine: `step(flow, state, event) -> Step`.
//!
//! No IO, no clocks, no randomness: the same inputs always give the same new
//! state and effects, which makes conversations replayable and trivially
//! testable. Entering a state runs it and follows `next` until a state
//! waits (`collect`, `llm`, `call`, `handoff`) or ends; a guard caps how
//! many states one step may enter. What happens when a waiting state gets
//! its event lives in `resume.rs`. Every failure inside the flow (bad
//! condition, template out of fuel, stale state name) becomes an
//! `Effect::Warning`, never a panic.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::dialog::flow::{Action, Call, CompiledFlow, Llm, Transition};
use crate::dialog::slots::SlotType;
use crate::dialog::state::{AdaptorCall, DialogState, Effect, Event, LlmTurn, Status, Step};

/// Most states one `step` may enter before the conversation is ended.
pub const MAX_ENTRIES_PER_STEP: usize = 64;

/// Said when a `collect` without `on_fail` runs out of attempts.
pub const GIVE_UP_MESSAGE: &str = "Sorry, I couldn't understand that. Let's stop here.";

/// Advances a conversation by one event.
pub fn step(flow: &CompiledFlow, state: &DialogState, event: Event) -> Step {
    let mut run = Run {
        flow,
        state: state.clone(),
        effects: Vec::new(),
        entries: 0,
    };
    match (event, &state.status) {
        (Event::Start, Status::NotStarted | Status::Ended) => run.restart(String::new()),
        (Event::UserText(text), Status::NotStarted | Status::Ended) => run.restart(text),
        (Event::UserText(text), Status::AwaitingInput { state: name }) => run.user_text(name, text),
        (Event::LlmReply { text }, Status::AwaitingLlm { state: name }) => {
            run.llm_reply(name, text)
        }
        (Event::LlmExtracted { values }, Status::AwaitingLlm { state: name }) => {
            run.llm_extracted(name, &values)
        }
        (Event::LlmFailed, Status::AwaitingLlm { state: name }) => run.llm_failed(name),
        (Event::LlmBudgetExhausted, Status::AwaitingLlm { state: name }) => {
            run.llm_budget_exhausted(name)
        }
        (Event::AdaptorResult { value }, Status::AwaitingAdaptor { state: name }) => {
            run.adaptor_result(name, &value)
        }
        (Event::AdaptorFailed { .. }, Status::AwaitingAdaptor { state: name }) => {
            run.adaptor_failed(name)
        }
        (Event::Released, Status::HumanMode { state: name, .. }) => run.released(name),
        (Event::ReleasedTo { state: target }, Status::HumanMode { .. }) => run.released_to(target),
        (Event::Timeout { state: timed_out }, Status::AwaitingInput { state: name })
            if timed_out == *name =>
        {
            run.timed_out(name)
        }
        // An `llm` state that retrieves found no answer: the runtime called no model.
        (Event::NoAnswer { state: unanswered }, Status::AwaitingLlm { state: name })
            if unanswered == *name =>
        {
            run.no_answer(name)
        }
        // Start while active, text while the LLM or an adaptor is busy (the
        // runtime queues it), text in human mode (the runtime stores it for
        // the agent) and stray events are no-ops.
        _ => {}
    }
    Step {
        state: run.state,
        effects: run.effects,
    }
}

/// One `step` in progress: the flow, the evolving state and the effects.
pub(crate) struct Run<'f> {
    pub flow: &'f CompiledFlow,
    pub state: DialogState,
    pub effects: Vec<Effect>,
    pub entries: usize,
}

impl Run<'_> {
    pub fn restart(&mut self, input: String) {
        self.state = DialogState {
            last_input: input,
            ..DialogState::default()
        };
        self.enter(self.flow.start.clone());
    }

    /// Enters `first` and keeps following `next` until a state waits/ends.
    pub fn enter(&mut self, first: String) {
        let mut current = first;
        loop {
            self.entries += 1;
            if self.entries > MAX_ENTRIES_PER_STEP {
                return self.abort(format!(
                    "more than {MAX_ENTRIES_PER_STEP} states entered in one step (at `{current}`)"
                ));
            }
            let flow = self.flow;
            let Some(node) = flow.states.get(&current) else {
                return self.abort(format!("unknown state `{current}`"));
            };
            match &node.action {
                Action::Say { text } => self.say(text),
                Action::Set { assignments } => self.apply_set(&current, assignments),
                Action::Collect(collect) => {
                    self.state.attempts = 0;
                    self.say(&collect.prompt);
                    self.offer_choices(&collect.slot);
                    self.wait_for_answer(&current, collect);
                    self.state.status = Status::AwaitingInput { state: current };
                    return;
                }
                Action::Llm(llm) => {
                    let turn = self.llm_turn(&current, llm);
                    self.effects.push(Effect::StreamLlm(turn));
                    self.state.status = Status::AwaitingLlm { state: current };
                    return;
                }
                Action::Call(call) => {
                    let request = self.adaptor_call(&current, call);
                    self.effects.push(Effect::CallAdaptor(request));
                    self.state.status = Status::AwaitingAdaptor { state: current };
                    return;
                }
                Action::Handoff(handoff) => {
                    if let Some(message) = &handoff.message {
                        self.say(message);
                    }
                    self.effects.push(Effect::Handoff {
                        queue: handoff.queue.clone(),
                        state: current.clone(),
                    });
                    self.state.attempts = 0;
                    self.state.status = Status::HumanMode {
                        state: current,
                        queue: handoff.queue.clone(),
                    };
                    return;
                }
                Action::End { text } => {
                    if let Some(text) = text {
                        self.say(text);
                    }
                    return self.end();
                }
            }
            match self.follow(&current, node.next.as_ref()) {
                Some(next) => current = next,
                None => return self.abort(format!("state `{current}` has no `next`")),
            }
        }
    }

    /// Follows the `next` of a waiting state that just finished.
    pub fn leave(&mut self, name: &str) {
        let flow = self.flow;
        let transition = flow.states.get(name).and_then(|s| s.next.as_ref());
        match self.follow(name, transition) {
            Some(next) => self.enter(next),
            None => self.abort(format!("state `{name}` has no `next`")),
        }
    }

    /// Picks the target of a transition: the first true `if`, else `else`.
    fn follow(&mut self, from: &str, transition: Option<&Transition>) -> Option<String> {
        match transition? {
            Transition::Goto(target) => Some(target.clone()),
            Transition::Branch {
                branches,
                otherwise,
            } => {
                let bindings = self.bindings();
                for (index, (condition, target)) in branches.iter().enumerate() {
                    match condition.eval_bool(&self.flow.cel, &bindings) {
                        Ok(true) => return Some(target.clone()),
                        Ok(false) => {}
                        Err(e) => self.warn(format!(
                            "state `{from}`: condition {index} `{}` treated as false: {e}",
                            condition.source()
                        )),
                    }
                }
                Some(otherwise.clone())
            }
        }
    }

    /// Evaluates all expressions against the values before the state, then
    /// assigns those that fit their slot.
    fn apply_set(&mut self, state: &str, assignments: &[(String, crate::dialog::expr::Expr)]) {
        let bindings = self.bindings();
        let results: Vec<_> = assignments
            .iter()
            .map(|(slot, expr)| (slot, expr, expr.eval(&self.flow.cel, &bindings)))
            .collect();
        for (slot, expr, result) in results {
            let checked = result.map_err(|e| e.to_string()).and_then(|value| {
                match (value, self.flow.slots.get(slot)) {
                    (Value::Null, _) => Ok(Value::Null),
                    (value, Some(t)) => t.accept_value(&value).map_err(|e| e.to_string()),
                    (_, None) => Err("slot is not declared".to_owned()),
                }
            });
            match checked {
                Ok(value) => self.set_slot(slot, value),
                Err(e) => self.warn(format!(
                    "state `{state}`: `set {slot}: {}` left the slot unchanged: {e}",
                    expr.source()
                )),
            }
        }
    }

    fn llm_turn(&mut self, state: &str, llm: &Llm) -> LlmTurn {
        let system = llm
            .system
            .as_ref()
            .map(|t| self.render(t))
            .filter(|s| !s.trim().is_empty());
        let query = llm.knowledge.as_ref().map(|k| match &k.query {
            Some(template) => self.render(template),
            None => self.state.last_input.clone(),
        });
        LlmTurn {
            state: state.to_owned(),
            system,
            prompt: self.render(&llm.prompt),
            history: llm.history,
            max_tokens: llm.max_tokens,
            temperature: llm.temperature,
            model: llm.model.clone(),
            extract: llm.extract.clone(),
            query,
        }
    }

    fn adaptor_call(&mut self, state: &str, call: &Call) -> AdaptorCall {
        let args = call
            .args
            .iter()
            .map(|(name, template)| (name.clone(), self.render(template)))
            .collect();
        AdaptorCall {
            state: state.to_owned(),
            adaptor: call.adaptor.clone(),
            args,
            timeout_ms: call.timeout_ms,
        }
    }

    /// Variables for CEL: every declared slot (null when unset) + `input`.
    pub fn bindings(&self) -> BTreeMap<String, Value> {
        let mut vars: BTreeMap<String, Value> = self
            .flow
            .slots
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    self.state.slots.get(k).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        vars.insert(
            "input".to_owned(),
            Value::String(self.state.last_input.clone()),
        );
        vars
    }

    /// Renders a template; failures become a warning and empty text.
    fn render(&mut self, template: &str) -> String {
        let vars = self.bindings();
        match self.flow.templates.render(template, &vars) {
            Ok(text) => text,
            Err(e) => {
                self.warn(e.to_string());
                String::new()
            }
        }
    }

    pub fn say(&mut self, template: &str) {
        let text = self.render(template);
        self.say_text(text);
    }

    /// Emits `Say` unless the text is blank.
    pub fn say_text(&mut self, text: String) {
        if !text.trim().is_empty() {
            self.effects.push(Effect::Say { text });
        }
    }

    /// Offers the expected answers of `slot` after its question, when it has a closed set.
    pub fn offer_choices(&mut self, slot: &str) {
        let options = match self.flow.slots.get(slot) {
            Some(SlotType::Enum { values }) => values.clone(),
            Some(SlotType::Boolean) => vec!["yes".to_owned(), "no".to_owned()],
            _ => return,
        };
        if matches!(self.effects.last(), Some(Effect::Say { .. })) {
            self.effects.push(Effect::Choices { options });
        }
    }

    pub fn set_slot(&mut self, slot: &str, value: Value) {
        if value.is_null() {
            self.state.slots.remove(slot);
        } else {
            self.state.slots.insert(slot.to_owned(), value.clone());
        }
        self.effects.push(Effect::SlotSet {
            slot: slot.to_owned(),
            value,
        });
    }

    pub fn warn(&mut self, message: String) {
        let message = format!("flow `{}`: {message}", self.flow.id);
        self.effects.push(Effect::Warning { message });
    }

    /// Warns and ends the conversation.
    pub fn abort(&mut self, message: String) {
        self.warn(format!("{message}; ending the conversation"));
        self.end();
    }

    pub fn end(&mut self) {
        self.state.status = Status::Ended;
        self.state.attempts = 0;
        self.effects.push(Effect::Ended);
    }
}
