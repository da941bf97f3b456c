//! The summary rules of docs/analytics.md on hand-written event lists.

use super::*;
use crate::analytics::histogram::{percentile, upper_bound};

fn user(seq: i64, at: i64, text: &str) -> EventFact {
    EventFact {
        seq,
        role: "user".into(),
        created_at: at,
        event: None,
        state: None,
        text: text.into(),
    }
}

fn bot(seq: i64, at: i64, state: Option<&str>) -> EventFact {
    EventFact {
        seq,
        role: "bot".into(),
        created_at: at,
        event: None,
        state: state.map(str::to_owned),
        text: String::new(),
    }
}

fn system(seq: i64, at: i64, event: &str) -> EventFact {
    EventFact {
        seq,
        role: "system".into(),
        created_at: at,
        event: Some(event.into()),
        state: None,
        text: String::new(),
    }
}

/// `age` is a collect of a number with max_attempts 2.
fn check(state: &str, answer: &str) -> Option<(u32, bool)> {
    (state == "age").then(|| (2, answer.parse::<i64>().is_err()))
}

fn run(events: &[EventFact], awaiting: Option<&str>, now: i64) -> Summary {
    summarise(&ConversationFacts {
        started_at: 0,
        awaiting_input: awaiting,
        events,
        calls: &[
            CallFact {
                state: Some("age".into()),
                cost_micros: 700,
            },
            CallFact {
                state: None,
                cost_micros: 300,
            },
        ],
        now,
        abandon_after_ms: 1_000,
        collect_check: &check,
    })
}

#[test]
fn an_ended_conversation_is_contained_with_its_reprompts_latencies_and_cost() {
    let events = [
        bot(1, 10, Some("age")),
        user(2, 100, "old"),
        bot(3, 150, Some("age")), // re-prompt, 50 ms
        user(4, 200, "42"),
        bot(5, 400, None), // accepted, 200 ms
        system(6, 400, "ended"),
    ];
    let s = run(&events, None, 10_000);
    assert_eq!(s.outcome, Outcome::Contained);
    let c = &s.contribution;
    assert_eq!(
        (c.started, c.contained, c.handed_off, c.abandoned),
        (1, 1, 0, 0)
    );
    assert_eq!(c.turns, 2);
    assert_eq!(c.cost_micros, 1_000);
    let age = &c.states["age"];
    assert_eq!(
        (
            age.visits,
            age.answers,
            age.reprompts,
            age.fallbacks,
            age.cost_micros
        ),
        (1, 2, 1, 0, 700)
    );
    assert_eq!(
        percentile(&c.first_reply, 0.5),
        Some(upper_bound(bucket_of(50)))
    );
    assert_eq!(
        percentile(&c.turn_latency, 0.95),
        Some(upper_bound(bucket_of(200)))
    );
}

#[test]
fn running_out_of_attempts_is_a_fallback_and_an_accepted_last_try_is_not() {
    let failed = [
        bot(1, 0, Some("age")),
        user(2, 10, "x"),
        bot(3, 20, Some("age")),
        user(4, 30, "y"),
        bot(5, 40, Some("human")),
        system(6, 40, "handoff"),
    ];
    let s = run(&failed, None, 10_000);
    assert_eq!(s.outcome, Outcome::HandedOff);
    assert_eq!(s.contribution.states["age"].fallbacks, 1);
    let accepted = [
        bot(1, 0, Some("age")),
        user(2, 10, "x"),
        bot(3, 20, Some("age")),
        user(4, 30, "7"),
        bot(5, 40, Some("next")),
    ];
    let s = run(&accepted, Some("next"), 10_000);
    assert_eq!(s.contribution.states["age"].fallbacks, 0);
    assert_eq!(s.contribution.states["next"].visits, 1);
}

#[test]
fn silence_while_waiting_for_input_is_abandonment_in_that_state() {
    let events = [
        bot(1, 0, Some("age")),
        user(2, 500, "3"),
        bot(3, 510, Some("name")),
    ];
    let open = run(&events, Some("name"), 1_499);
    assert_eq!(open.outcome, Outcome::Open);
    assert_eq!(open.recheck_at, Some(1_500));
    let gone = run(&events, Some("name"), 1_500);
    assert_eq!(gone.outcome, Outcome::Abandoned);
    assert_eq!(gone.waiting_state.as_deref(), Some("name"));
    assert_eq!(gone.contribution.states["name"].dropoffs, 1);
    assert_eq!(gone.contribution.abandoned, 1);
}

#[test]
fn a_takeover_counts_as_handed_off() {
    let events = [bot(1, 0, Some("age")), system(2, 5, "takeover")];
    let s = run(&events, Some("age"), 100_000);
    assert_eq!(s.outcome, Outcome::HandedOff);
    assert_eq!(s.contribution.abandoned, 0);
}
