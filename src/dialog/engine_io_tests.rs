//! Behaviour tests for the v1 runtime paths of `step`: adaptor calls,
//! handoffs, structured extraction, interrupts and `object` slots — mostly
//! the edge cases the example runs do not reach (stray events, stale
//! states, results that do not fit, failing interrupt conditions).

use serde_json::json;

use crate::dialog::fixtures::{awaiting, compiled, run, says, text, warnings};
use crate::dialog::{DialogState, Effect, Event, MAX_OBJECT_DEPTH, Status, Step, step};

pub const CALLS: &str = r#"
id: calls
slots:
  q: { type: string }
  res: { type: object }
start: ask
interrupts:
  - when: 'input.size() > 1000 || q.startsWith("x")'
    goto: done
states:
  ask:
    collect: { slot: q, prompt: 'Query?' }
    next: plain
  plain:
    call: { adaptor: order_status, args: { q: '{{ q }}', fixed: 'en' } }
    next: saved
  saved:
    call: { adaptor: order_status, save_as: res }
    next: show
  show:
    say: 'status={{ res.status }} first={{ res.items[0] }}'
    next:
      - if: 'res.status == "ok"'
        then: agent
      - else: done
  agent:
    handoff: { queue: general, message: '{% if false %}never{% endif %}' }
    next:
      - if: 'res.status == "ok"'
        then: done
      - else: ask
  done:
    end: 'bye'
"#;

fn stepping(state: &DialogState, events: Vec<Event>) -> Vec<Step> {
    run(&compiled(CALLS), state, events)
}

#[test]
fn calls_without_save_as_ignore_the_value_and_failures_follow_next() {
    let steps = stepping(
        &DialogState::default(),
        vec![
            Event::Start,
            text("hello"),
            Event::AdaptorResult { value: json!(42) },
            Event::AdaptorFailed {
                error: "502".into(),
            },
        ],
    );
    let Some(Effect::CallAdaptor(call)) = steps[1].effects.last() else {
        panic!("{:?}", steps[1].effects);
    };
    assert_eq!(call.adaptor, "order_status");
    assert_eq!(call.timeout_ms, None);
    assert_eq!(
        call.args,
        [
            ("fixed".to_owned(), "en".to_owned()),
            ("q".to_owned(), "hello".to_owned())
        ]
        .into()
    );
    // `plain` has no save_as: the value is ignored, on to `saved`.
    assert!(warnings(&steps[2]).is_empty());
    assert_eq!(
        steps[2].state.status,
        Status::AwaitingAdaptor {
            state: "saved".into()
        }
    );
    // `saved` failed without on_error: `next` is taken, `res` is unset, the
    // branch on `res.status` errors (warned, treated as false) → done.
    assert_eq!(says(&steps[3]), ["status= first=", "bye"]);
    assert_eq!(warnings(&steps[3]).len(), 1, "{:?}", steps[3].effects);
    assert_eq!(steps[3].state.status, Status::Ended);
}

#[test]
fn objects_are_readable_and_handoff_resumes_through_branches() {
    let waiting = stepping(
        &DialogState::default(),
        vec![
            Event::Start,
            text("hello"),
            Event::AdaptorResult { value: json!({}) },
        ],
    )
    .remove(2)
    .state;
    let steps = stepping(
        &waiting,
        vec![
            Event::AdaptorResult {
                value: json!({"status": "ok", "items": ["a", "b"]}),
            },
            text("are you there?"),
            Event::Start,
            Event::AdaptorFailed { error: "x".into() },
            Event::Released,
        ],
    );
    assert_eq!(says(&steps[0]), ["status=ok first=a"]);
    // The handoff message renders blank: nothing is said.
    assert_eq!(
        steps[0].effects.last(),
        Some(&Effect::Handoff {
            queue: "general".into(),
            state: "agent".into()
        })
    );
    let human = steps[0].state.clone();
    // Text, Start and stray adaptor events do nothing in human mode.
    for s in &steps[1..4] {
        assert!(s.effects.is_empty(), "{:?}", s.effects);
        assert_eq!(s.state, human);
    }
    assert_eq!(says(&steps[4]), ["bye"]);
}

#[test]
fn results_that_do_not_fit_are_failures() {
    let mut deep = json!({});
    for _ in 0..MAX_OBJECT_DEPTH {
        deep = json!({ "a": deep });
    }
    for value in [json!([1]), json!("ok"), deep] {
        let steps = stepping(
            &DialogState::default(),
            vec![
                Event::Start,
                text("hello"),
                Event::AdaptorResult { value: json!(null) },
                Event::AdaptorResult { value },
            ],
        );
        let last = &steps[3];
        assert_eq!(warnings(last).len(), 2, "{:?}", last.effects);
        assert!(warnings(last)[0].contains("not stored in `res`"));
        assert!(!last.state.slots.contains_key("res"));
        assert_eq!(last.state.status, Status::Ended);
    }
}

#[test]
fn stray_and_stale_events() {
    let flow = compiled(CALLS);
    let fresh = DialogState::default();
    for event in [
        Event::Released,
        Event::AdaptorResult { value: json!({}) },
        Event::AdaptorFailed { error: "x".into() },
        Event::LlmExtracted {
            values: Default::default(),
        },
    ] {
        let s = step(&flow, &fresh, event);
        assert!(s.effects.is_empty() && s.state == fresh);
    }
    // A stored conversation whose state was renamed or changed kind. (Human mode at a
    // state that is no handoff is a take-over: released, that state is entered again;
    // see `an_agent_releases_a_taken_over_question_or_at_a_named_state`.)
    for status in [
        Status::HumanMode {
            state: "gone".into(),
            queue: "q".into(),
        },
        Status::AwaitingAdaptor {
            state: "show".into(),
        },
    ] {
        let stale = DialogState {
            status,
            ..DialogState::default()
        };
        let event = match stale.status {
            Status::HumanMode { .. } => Event::Released,
            _ => Event::AdaptorFailed { error: "x".into() },
        };
        let s = step(&flow, &stale, event);
        assert_eq!(warnings(&s).len(), 1, "{:?}", s.effects);
        assert_eq!(s.state.status, Status::Ended);
    }
}

#[test]
fn failing_interrupt_conditions_warn_and_fall_through() {
    // `q` is unset: `q.startsWith` fails → warning, answer handled as usual.
    let steps = stepping(&DialogState::default(), vec![Event::Start, text("hi")]);
    assert_eq!(warnings(&steps[1]).len(), 1);
    assert!(
        warnings(&steps[1])[0].contains("interrupt 0 `input.size() > 1000"),
        "{}",
        warnings(&steps[1])[0]
    );
    assert_eq!(steps[1].state.slots["q"], json!("hi"));
    // With `q` set the condition works and jumps.
    let state = DialogState {
        status: awaiting("ask"),
        slots: [("q".to_owned(), json!("xyz"))].into(),
        attempts: 2,
        ..DialogState::default()
    };
    let s = step(&compiled(CALLS), &state, text("anything"));
    assert_eq!(says(&s), ["bye"]);
    assert_eq!(s.state.slots["q"], json!("xyz"));
}

pub const EXTRACT: &str = r#"
id: extract
slots:
  name: { type: string, max_length: 5 }
  age: { type: integer, min: 0 }
  meta: { type: object }
  reply: { type: string }
start: ex
interrupts:
  - match: [stop]
    goto: done
states:
  ex:
    llm:
      extract: [name, age, meta]
      prompt: 'Text: {{ input }}'
      on_error: failed
    next: talk
  talk:
    llm: { prompt: '{{ name }}', save_as: reply }
    next: done
  failed:
    say: 'failed'
    next: done
  done:
    end: '{{ name }}/{{ age }}/{{ meta.k }}/{{ reply }}'
"#;

fn extracted(values: serde_json::Value) -> Event {
    Event::LlmExtracted {
        values: values.as_object().cloned().unwrap_or_default(),
    }
}

#[test]
fn extraction_sets_valid_values_and_warns_about_the_rest() {
    let flow = compiled(EXTRACT);
    let s = step(&flow, &DialogState::default(), text("hello"));
    let Some(Effect::StreamLlm(turn)) = s.effects.last() else {
        panic!("{:?}", s.effects);
    };
    assert_eq!(turn.prompt, "Text: hello");
    let spec = turn.extract.as_ref().expect("spec");
    assert_eq!(spec.schema["properties"]["meta"], json!({"type": "object"}));
    // Text while the extraction runs is ignored, interrupts included.
    assert!(step(&flow, &s.state, text("stop")).effects.is_empty());

    let steps = run(
        &flow,
        &s.state,
        vec![
            extracted(json!({"name": "Alexandra", "age": null, "meta": {"k": 1}, "x": 1})),
            Event::LlmReply { text: "hi".into() },
        ],
    );
    assert_eq!(warnings(&steps[0]).len(), 1);
    assert!(warnings(&steps[0])[0].contains("`name` ignored: must be at most 5 characters"));
    assert_eq!(
        steps[0].effects[1],
        Effect::SlotSet {
            slot: "meta".into(),
            value: json!({"k": 1})
        }
    );
    assert_eq!(says(&steps[1]), ["//1/hi"]);
}

#[test]
fn extraction_mismatches_and_failures_take_on_error() {
    let flow = compiled(EXTRACT);
    let waiting = step(&flow, &DialogState::default(), text("hello")).state;
    // A text reply to an extraction, and a failure: on_error.
    for event in [Event::LlmReply { text: "x".into() }, Event::LlmFailed] {
        let s = step(&flow, &waiting, event);
        assert_eq!(says(&s), ["failed", "///"]);
    }
    // Extracted values for a plain llm state: warning, then `next` (it has
    // no on_error); the reply slot stays unset.
    let talking = step(&flow, &waiting, extracted(json!({"age": "7"}))).state;
    assert_eq!(
        talking.status,
        Status::AwaitingLlm {
            state: "talk".into()
        }
    );
    let s = step(&flow, &talking, extracted(json!({"reply": "x"})));
    assert_eq!(warnings(&s).len(), 1);
    assert_eq!(says(&s), ["/7//"]);
}

#[test]
fn set_builds_objects_from_map_literals() {
    let flow = compiled(
        r#"
id: maps
slots:
  q: { type: string }
  order: { type: object }
start: ask
states:
  ask:
    collect: { slot: q, prompt: 'Status?' }
    next: build
  build:
    set:
      order: '{"status": q.lowerAscii(), "lines": [1, 2], "meta": {"by": input}}'
    next:
      - if: 'order.status == "shipped" && order.lines.size() == 2'
        then: done
      - else: ask
  done:
    end: '{{ order.status }} by {{ order.meta.by }}'
"#,
    );
    let steps = run(
        &flow,
        &DialogState::default(),
        vec![Event::Start, text("SHIPPED")],
    );
    assert_eq!(
        steps[1].state.slots["order"],
        json!({"status": "shipped", "lines": [1, 2], "meta": {"by": "SHIPPED"}})
    );
    assert_eq!(says(&steps[1]), ["shipped by SHIPPED"]);
    assert!(warnings(&steps[1]).is_empty());
}

#[test]
fn an_agent_releases_a_taken_over_question_or_at_a_named_state() {
    let flow = compiled(
        "id: t\nslots:\n  name: { type: string }\nstart: ask\nstates:\n  ask:\n    collect: { slot: name, prompt: \"Name?\" }\n    next: bye\n  bye:\n    end: \"Bye {{ name }}\"\n",
    );
    // Taken over while the bot waited at `ask` (the runtime sets human mode there).
    let taken = DialogState {
        status: Status::HumanMode {
            state: "ask".into(),
            queue: "support".into(),
        },
        ..DialogState::default()
    };
    // User text in human mode: nothing.
    assert!(step(&flow, &taken, text("hi")).effects.is_empty());
    // Released without a state: the question is asked again.
    let again = step(&flow, &taken, Event::Released);
    assert_eq!(says(&again), ["Name?"]);
    assert_eq!(again.state.status, awaiting("ask"));
    // Released at a named state: the flow goes on there.
    let bye = step(
        &flow,
        &taken,
        Event::ReleasedTo {
            state: "bye".into(),
        },
    );
    assert_eq!(says(&bye), ["Bye "]);
    assert_eq!(bye.state.status, Status::Ended);
    // A name the flow lacks (the runtime refuses it first) ends with a warning, no panic.
    let lost = step(
        &flow,
        &taken,
        Event::ReleasedTo {
            state: "nowhere".into(),
        },
    );
    assert_eq!(lost.state.status, Status::Ended);
    assert!(!warnings(&lost).is_empty());
    // Released while not in human mode: nothing happens.
    let bot = DialogState {
        status: awaiting("ask"),
        ..DialogState::default()
    };
    assert!(
        step(
            &flow,
            &bot,
            Event::ReleasedTo {
                state: "bye".into()
            }
        )
        .effects
        .is_empty()
    );
}
