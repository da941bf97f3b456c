//! `timeout` / `on_timeout` on `collect`: the compiler's checks (durations, targets, the
//! pair), and the engine's behaviour (a `Wait` when the question is asked or asked
//! again, `on_timeout` on a `Timeout` for the waiting state, nothing for a stale one).

use crate::dialog::fixtures::{FILE, assert_at, flow, only, pos_of};
use crate::dialog::{DialogState, Effect, Event, Severity, Status, check, compile, step};

fn with_timeout(timeout: &str, on_timeout: &str) -> String {
    format!(
        "id: t\nslots:\n  name: {{ type: string }}\nstart: a\nstates:\n  a:\n    collect: {{ slot: name, prompt: 'Name?', timeout: {timeout}, on_timeout: {on_timeout} }}\n    next: z\n  remind:\n    say: Still there?\n    next: a\n  z:\n    end: bye\n"
    )
}

#[test]
fn durations_and_targets_are_checked_where_they_are_written() {
    assert!(check(FILE, &with_timeout("90s", "remind")).is_empty());
    // (`remind` is unreachable then: a warning, not an error.)
    assert!(
        check(FILE, &with_timeout("2h", "z"))
            .iter()
            .all(|d| d.severity != Severity::Error)
    );

    for bad in ["ten", "5", "10w", "0s", "31d", "-3m"] {
        let src = with_timeout(bad, "remind");
        let d = only(&src, "invalid-duration");
        assert_at(
            &d,
            "/states/a/collect/timeout",
            pos_of(&src, &format!("{bad}, on_timeout")),
        );
    }
    let src = with_timeout("10m", "remnd");
    let d = only(&src, "unknown-state");
    assert_at(&d, "/states/a/collect/on_timeout", pos_of(&src, "remnd"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `remind`?"));

    let src = flow("", "").replace("prompt: 'Name?' }", "prompt: 'Name?', timeout: 10m }");
    only(&src, "timeout-without-target");
    let src = flow("", "").replace("prompt: 'Name?' }", "prompt: 'Name?', on_timeout: z }");
    only(&src, "on-timeout-without-timeout");
}

#[test]
fn a_timeout_for_the_waiting_question_goes_to_on_timeout_and_a_stale_one_does_nothing() {
    let flow = compile(FILE, &with_timeout("10m", "remind")).unwrap();
    let started = step(&flow, &DialogState::default(), Event::Start);
    assert!(started.effects.contains(&Effect::Wait {
        state: "a".into(),
        timeout_ms: 600_000
    }));
    // The reminder comes back to the question, which waits again.
    let reminded = step(&flow, &started.state, Event::Timeout { state: "a".into() });
    let said: Vec<_> = reminded
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Say { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["Still there?", "Name?"]);
    assert!(
        reminded
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Wait { .. }))
    );
    assert_eq!(
        reminded.state.status,
        Status::AwaitingInput { state: "a".into() }
    );
    // A timeout for another state (stale) changes nothing.
    let stale = step(&flow, &started.state, Event::Timeout { state: "b".into() });
    assert!(stale.effects.is_empty());
    assert_eq!(stale.state, started.state);
    // Answered: no timer is asked for any more.
    let answered = step(&flow, &started.state, Event::UserText("Ada".into()));
    assert!(
        !answered
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Wait { .. }))
    );
    assert_eq!(answered.state.status, Status::Ended);
}

#[test]
fn a_flow_idle_limit_ends_a_conversation_left_waiting() {
    let src = flow("", "").replace("start: a\n", "start: a\nidle: 24h\n");
    let compiled = compile(FILE, &src).unwrap();
    let started = step(&compiled, &DialogState::default(), Event::Start);
    assert!(started.effects.contains(&Effect::Wait {
        state: "a".into(),
        timeout_ms: 86_400_000
    }));
    let abandoned = step(
        &compiled,
        &started.state,
        Event::Timeout { state: "a".into() },
    );
    assert_eq!(abandoned.state.status, Status::Ended);
    assert!(abandoned.effects.contains(&Effect::Ended));

    let src = flow("", "").replace("start: a\n", "start: a\nidle: forever\n");
    let d = only(&src, "invalid-duration");
    assert_at(&d, "/idle", pos_of(&src, "forever"));
}

#[test]
fn a_whatsapp_template_is_checked_where_it_is_written() {
    let with = |template: &str| {
        format!(
            "whatsapp_template: {template}\n{}",
            with_timeout("1h", "remind")
        )
    };
    assert!(
        check(FILE, &with("{ name: follow_up_2, language: pt_BR }"))
            .iter()
            .all(|d| d.severity != Severity::Error)
    );
    let bad_name = with("{ name: Follow-Up, language: en }");
    let d = only(&bad_name, "invalid-whatsapp-template");
    assert_at(
        &d,
        "/whatsapp_template/name",
        pos_of(&bad_name, "Follow-Up"),
    );
    let bad_language = with("{ name: follow_up, language: english }");
    let d = only(&bad_language, "invalid-whatsapp-template");
    assert_at(
        &d,
        "/whatsapp_template/language",
        pos_of(&bad_language, "english"),
    );
    // Unknown fields are refused like everywhere else.
    assert!(
        check(FILE, &with("{ name: a, language: en, body: hi }"))
            .iter()
            .any(|d| d.severity == Severity::Error)
    );
    let flow = compile(FILE, &with("{ name: follow_up, language: en }")).unwrap();
    assert_eq!(
        flow.whatsapp_template.as_ref().map(|t| t.name.as_str()),
        Some("follow_up")
    );
}
