//! Behaviour tests for `step`, driven through compiled YAML flows.
//!
//! Kept out of `engine.rs` so the engine stays short; every test goes
//! through the public `compile` + `step` API exactly like the runtime does.

use serde_json::json;

use crate::dialog::fixtures::DEMO;
use crate::dialog::{
    CompiledFlow, DialogState, Effect, Event, GIVE_UP_MESSAGE, MAX_ENTRIES_PER_STEP, Status, Step,
    compile, step,
};

fn flow(src: &str) -> CompiledFlow {
    match compile("test.yaml", src) {
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

fn says(step: &Step) -> Vec<&str> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Say { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn warnings(step: &Step) -> Vec<&str> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}

fn text(t: &str) -> Event {
    Event::UserText(t.to_owned())
}

fn awaiting(state: &str) -> Status {
    Status::AwaitingInput {
        state: state.to_owned(),
    }
}

#[test]
fn demo_full_run() {
    let flow = flow(DEMO);
    let s = step(&flow, &DialogState::default(), Event::Start);
    assert_eq!(
        says(&s),
        ["Hi! I'm the demo assistant.", "What's your name?"]
    );
    assert_eq!(s.state.status, awaiting("ask_name"));

    let s = step(&flow, &s.state, text("  Ada "));
    assert_eq!(
        s.effects[0],
        Effect::SlotSet {
            slot: "name".into(),
            value: json!("Ada")
        }
    );
    assert_eq!(
        says(&s),
        ["Hi Ada! Is your question about billing, technical or other?"]
    );
    assert_eq!(s.state.status, awaiting("ask_topic"));

    let s = step(&flow, &s.state, text("Technical"));
    assert_eq!(s.state.slots["topic"], json!("technical"));
    assert_eq!(
        says(&s),
        [r#"What would you like to know? (say "bye" to finish)"#]
    );
    assert_eq!(s.state.status, awaiting("ask_question"));

    let s = step(&flow, &s.state, text("How do I reset my password?"));
    let turn = match s.effects.last() {
        Some(Effect::StreamLlm(turn)) => turn.clone(),
        other => panic!("expected StreamLlm, got {other:?}"),
    };
    assert_eq!(turn.state, "answer");
    assert_eq!(
        turn.prompt,
        "Ada asks about technical: How do I reset my password?"
    );
    assert_eq!(
        turn.system.as_deref(),
        Some("You are a concise technical support assistant talking to Ada.")
    );
    assert_eq!(
        (turn.history, turn.max_tokens, turn.temperature),
        (6, Some(300), Some(0.3))
    );
    assert_eq!(
        s.state.status,
        Status::AwaitingLlm {
            state: "answer".into()
        }
    );

    // Text while the LLM is busy is ignored (the runtime queues it).
    let busy = step(&flow, &s.state, text("hello?"));
    assert_eq!(
        busy,
        Step {
            state: s.state.clone(),
            effects: vec![]
        }
    );

    let s = step(
        &flow,
        &s.state,
        Event::LlmReply {
            text: "Use the reset link.".into(),
        },
    );
    assert_eq!(s.state.slots["last_answer"], json!("Use the reset link."));
    assert_eq!(
        says(&s),
        [r#"What would you like to know? (say "bye" to finish)"#]
    );

    let s = step(&flow, &s.state, text("BYE"));
    assert_eq!(says(&s), ["Thanks Ada, bye!"]);
    assert_eq!(s.effects.last(), Some(&Effect::Ended));
    assert_eq!(s.state.status, Status::Ended);

    // A new message after the end restarts with cleared slots.
    let s = step(&flow, &s.state, text("hi again"));
    assert!(s.state.slots.is_empty());
    assert_eq!(s.state.last_input, "hi again");
    assert_eq!(s.state.status, awaiting("ask_name"));
}

#[test]
fn billing_branch_and_llm_failure() {
    let flow = flow(DEMO);
    let mut state = step(&flow, &DialogState::default(), Event::Start).state;
    state = step(&flow, &state, text("Bo")).state;
    let s = step(&flow, &state, text("BILLING"));
    assert_eq!(
        says(&s)[0],
        "For invoices and refunds you can also write to billing@example.com."
    );
    let s = step(&flow, &s.state, text("refund?"));
    let s = step(&flow, &s.state, Event::LlmFailed);
    assert_eq!(
        says(&s)[0],
        "Sorry, I couldn't get an answer right now. Please try again."
    );
    assert_eq!(s.state.status, awaiting("ask_question"));
    assert!(!s.state.slots.contains_key("last_answer"));
}

#[test]
fn reprompt_then_on_fail() {
    let flow = flow(DEMO);
    let state = step(&flow, &DialogState::default(), Event::Start).state;
    let long = "x".repeat(61);
    let s = step(&flow, &state, text(&long));
    assert_eq!(
        says(&s),
        ["Sorry, I need a name between 1 and 60 characters."]
    );
    assert_eq!(s.state.attempts, 1);
    let s = step(&flow, &s.state, text("   "));
    assert_eq!(s.state.attempts, 2);
    let s = step(&flow, &s.state, text(&long));
    assert_eq!(says(&s), ["Thanks, bye!"]);
    assert_eq!(s.state.attempts, 0);
    assert_eq!(s.state.status, Status::Ended);
}

#[test]
fn default_reprompt_and_give_up() {
    let flow = flow(
        "id: t\nslots:\n  topic: { type: enum, values: [billing, technical, other] }\nstart: ask\nstates:\n  ask:\n    collect: { slot: topic, prompt: 'Topic?', max_attempts: 2 }\n    next: done\n  done:\n    end: ~\n",
    );
    let state = step(&flow, &DialogState::default(), Event::Start).state;
    let s = step(&flow, &state, text("cooking"));
    assert_eq!(
        says(&s),
        ["Please answer one of: billing, technical, other."]
    );
    let s = step(&flow, &s.state, text("gardening"));
    assert_eq!(says(&s), [GIVE_UP_MESSAGE]);
    assert_eq!(s.effects.last(), Some(&Effect::Ended));
    // `end: ~` ends silently.
    let s = step(&flow, &state, text("Other"));
    assert_eq!(says(&s), Vec::<&str>::new());
    assert_eq!(s.state.slots["topic"], json!("other"));
    assert_eq!(s.effects.last(), Some(&Effect::Ended));
}

#[test]
fn runaway_guard_ends_conversation() {
    let mut src = String::from("id: long\nstart: s0\nstates:\n");
    for i in 0..70 {
        src.push_str(&format!(
            "  s{i}:\n    say: 'step {i}'\n    next: s{}\n",
            i + 1
        ));
    }
    src.push_str("  s70:\n    end: done\n");
    let flow = flow(&src);
    let s = step(&flow, &DialogState::default(), Event::Start);
    assert_eq!(says(&s).len(), MAX_ENTRIES_PER_STEP);
    assert_eq!(warnings(&s).len(), 1);
    assert!(
        warnings(&s)[0].contains("more than 64 states"),
        "{}",
        warnings(&s)[0]
    );
    assert_eq!(s.effects.last(), Some(&Effect::Ended));
    assert_eq!(s.state.status, Status::Ended);
}

const SET_FLOW: &str = r#"
id: setter
slots:
  n: { type: integer, min: 0, max: 10 }
  label: { type: enum, values: [Low, High] }
  answer: { type: string }
start: init
states:
  init:
    set: { n: '1 + 2', label: '"high"' }
    next: ask
  ask:
    collect: { slot: answer, prompt: 'n={{ n }} label={{ label }} answer={{ answer }}' }
    next: bump
  bump:
    set: { n: 'n * 5', answer: 'null' }
    next:
      - if: 'answer.size() > 3'
        then: ask
      - if: 'n > 5'
        then: big
      - else: ask
  big:
    end: 'big {{ n }}{{ answer }}'
"#;

#[test]
fn set_checks_types_and_branch_errors_warn() {
    let flow = flow(SET_FLOW);
    let s = step(&flow, &DialogState::default(), Event::Start);
    assert_eq!(s.state.slots["n"], json!(3));
    assert_eq!(s.state.slots["label"], json!("High"));
    assert_eq!(says(&s), ["n=3 label=High answer="]);
    // n * 5 = 15 exceeds max 10 → warning, slot unchanged; answer cleared;
    // `answer.size()` on null fails → warning, treated as false; n=3 → ask.
    let s = step(&flow, &s.state, text("hello"));
    let w = warnings(&s);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("`set n: n * 5` left the slot unchanged"),
        "{}",
        w[0]
    );
    assert!(
        w[1].contains("condition 0 `answer.size() > 3` treated as false"),
        "{}",
        w[1]
    );
    assert_eq!(s.state.slots["n"], json!(3));
    assert!(!s.state.slots.contains_key("answer"));
    assert!(s.effects.contains(&Effect::SlotSet {
        slot: "answer".into(),
        value: json!(null)
    }));
    assert_eq!(s.state.status, awaiting("ask"));
}

#[test]
fn stray_events_are_noops_and_stale_states_end() {
    let flow = flow(DEMO);
    let fresh = DialogState::default();
    for event in [Event::LlmReply { text: "x".into() }, Event::LlmFailed] {
        assert_eq!(
            step(&flow, &fresh, event),
            Step {
                state: fresh.clone(),
                effects: vec![]
            }
        );
    }
    let active = step(&flow, &fresh, Event::Start).state;
    assert_eq!(step(&flow, &active, Event::Start).effects, vec![]);
    let stale = DialogState {
        status: awaiting("renamed_state"),
        ..DialogState::default()
    };
    let s = step(&flow, &stale, text("hi"));
    assert_eq!(warnings(&s).len(), 1);
    assert_eq!(s.state.status, Status::Ended);
}

#[test]
fn template_failures_warn_instead_of_panicking() {
    let flow = flow(
        "id: t\nstart: a\nstates:\n  a:\n    say: \"{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\"\n    next: b\n  b:\n    end: \"{{ input + 1 }}\"\n",
    );
    let s = step(&flow, &DialogState::default(), Event::Start);
    assert_eq!(says(&s), Vec::<&str>::new());
    assert_eq!(warnings(&s).len(), 2, "{:?}", s.effects);
    assert_eq!(s.state.status, Status::Ended);
}

#[test]
fn a_budget_stop_takes_on_budget_or_hands_off_and_release_goes_on() {
    let src = r#"
id: budgeted
start: ask
states:
  ask:
    llm:
      prompt: "{{ input }}"
      on_budget: over
    next: done
  over:
    end: Our assistant is resting; a colleague will follow up.
  done:
    end: true
"#;
    let with_path = flow(src);
    let s = step(&with_path, &DialogState::default(), Event::Start);
    let s = step(&with_path, &s.state, Event::LlmBudgetExhausted);
    assert_eq!(
        says(&s),
        ["Our assistant is resting; a colleague will follow up."]
    );
    assert_eq!(s.state.status, Status::Ended);

    let without = flow(&src.replace("      on_budget: over\n", ""));
    let s = step(&without, &DialogState::default(), Event::Start);
    let s = step(&without, &s.state, Event::LlmBudgetExhausted);
    assert_eq!(
        s.effects,
        [Effect::Handoff {
            queue: "budget".into(),
            state: "ask".into()
        }]
    );
    assert!(matches!(&s.state.status, Status::HumanMode { queue, .. } if queue == "budget"));
    let s = step(&without, &s.state, Event::Released);
    assert_eq!(
        s.state.status,
        Status::Ended,
        "released: the state's next (done) ends"
    );

    // `on_budget` must name a state.
    let broken = src.replace("on_budget: over", "on_budget: nowhere");
    assert!(compile("t.yaml", &broken).is_err());
}
