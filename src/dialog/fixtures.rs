//! Test fixtures and helpers: a demo-like flow (close to `flows/demo.yaml`,
//! but frozen here so engine tests do not change with the shipped demo) and
//! small utilities for asserting diagnostics and driving `step`.
//!
//! The demo is a string constant (not `include_str!`) so this folder can
//! move into another crate without path changes. Positions in diagnostics
//! are checked against `pos_of`, which finds a marker text in the source
//! independently of the compiler, so a wrong line/column fails.

use std::collections::BTreeSet;

use crate::dialog::{
    CompileOptions, CompiledFlow, Diagnostic, DialogState, Effect, Event, Status, Step, check,
    compile_with, step,
};

/// greet → ask_name → ask_topic (→ billing_info) → ask_question ⇄ answer,
/// ending at goodbye when the user says "bye".
pub const DEMO: &str = r#"# Demo support flow: greets, asks for a name and a topic, then answers
# questions with the LLM until the user says "bye".
id: demo
description: "Demo support assistant"
slots:
  name:        { type: string, min_length: 1, max_length: 60 }
  topic:       { type: enum, values: [billing, technical, other] }
  question:    { type: string, min_length: 1, max_length: 2000 }
  last_answer: { type: string }
start: greet
states:
  greet:
    say: "Hi! I'm the demo assistant."
    next: ask_name
  ask_name:
    collect:
      slot: name
      prompt: "What's your name?"
      reprompt: "Sorry, I need a name between 1 and 60 characters."
      max_attempts: 3
      on_fail: goodbye
    next: ask_topic
  ask_topic:
    collect: { slot: topic, prompt: "Hi {{ name }}! Is your question about billing, technical or other?" }
    next:
      - if: 'topic == "billing"'
        then: billing_info
      - else: ask_question
  billing_info:
    say: "For invoices and refunds you can also write to billing@example.com."
    next: ask_question
  ask_question:
    collect:
      slot: question
      prompt: 'What would you like to know? (say "bye" to finish)'
    next:
      - if: 'question.lowerAscii() in ["bye", "goodbye"]'
        then: goodbye
      - else: answer
  answer:
    llm:
      system: "You are a concise {{ topic }} support assistant talking to {{ name }}."
      prompt: "{{ name }} asks about {{ topic }}: {{ input }}"
      history: 6
      max_tokens: 300
      temperature: 0.3
      save_as: last_answer
      on_error: sorry
    next: ask_question
  sorry:
    say: "Sorry, I couldn't get an answer right now. Please try again."
    next: ask_question
  goodbye:
    end: "Thanks{% if name %} {{ name }}{% endif %}, bye!"
"#;

pub const FILE: &str = "flows/t.yaml";

/// 1-based line/column (in chars) of the first occurrence of `needle`.
pub fn pos_of(src: &str, needle: &str) -> (Option<u32>, Option<u32>) {
    let idx = src
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in source"));
    let before = &src[..idx];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (Some(line as u32), Some(col as u32))
}

/// The single diagnostic with `code`.
pub fn only(src: &str, code: &str) -> Diagnostic {
    let all = check(FILE, src);
    let mut hits: Vec<Diagnostic> = all.iter().filter(|d| d.code == code).cloned().collect();
    assert_eq!(hits.len(), 1, "expected one `{code}`, got: {all:#?}");
    hits.remove(0)
}

pub fn assert_at(d: &Diagnostic, pointer: &str, at: (Option<u32>, Option<u32>)) {
    assert_eq!(d.pointer, pointer, "{d:#?}");
    assert_eq!((d.line, d.column), at, "{d:#?}");
    assert_eq!(d.file, FILE);
}

/// A valid flow with `extra_slots` / `extra_states` spliced in.
pub fn flow(extra_slots: &str, extra_states: &str) -> String {
    format!(
        "id: t\nslots:\n  name: {{ type: string }}\n{extra_slots}start: a\nstates:\n  a:\n    collect: {{ slot: name, prompt: 'Name?' }}\n    next: z\n{extra_states}  z:\n    end: bye\n"
    )
}

/// Compile options knowing the adaptor `order_status` (golden files and
/// examples are checked against these).
pub fn tenant_options() -> CompileOptions {
    CompileOptions {
        adaptors: Some(BTreeSet::from(["order_status".to_owned()])),
        knowledge_bases: None,
    }
}

/// Compiles `src` with [`tenant_options`], panicking with the rendered
/// diagnostics on failure.
pub fn compiled(src: &str) -> CompiledFlow {
    match compile_with("test.yaml", src, &tenant_options()) {
        Ok(flow) => flow,
        Err(diags) => panic!(
            "{}",
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The texts of the `Say` effects of a step.
pub fn says(step: &Step) -> Vec<&str> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Say { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The messages of the `Warning` effects of a step.
pub fn warnings(step: &Step) -> Vec<&str> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

pub fn text(t: &str) -> Event {
    Event::UserText(t.to_owned())
}

pub fn awaiting(state: &str) -> Status {
    Status::AwaitingInput {
        state: state.to_owned(),
    }
}

/// Steps through `events` from `state`, returning every step.
pub fn run(flow: &CompiledFlow, state: &DialogState, events: Vec<Event>) -> Vec<Step> {
    let mut state = state.clone();
    let mut steps = Vec::new();
    for event in events {
        let s = step(flow, &state, event);
        state = s.state.clone();
        steps.push(s);
    }
    steps
}
