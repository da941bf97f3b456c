//! What one conversation contributes to analytics, computed from its stored events and
//! model calls: a pure function, so every rule in docs/analytics.md is tested here on
//! hand-written event lists.
//!
//! The contribution is what the daily sums get for the conversation; the rollup job
//! stores it beside the conversation, so a later summary can replace it exactly
//! (subtract the old, add the new). It holds counts, durations, state names and cost,
//! never message text: a user's answer is looked at only to tell a `collect`'s fallback
//! from an accepted last attempt, and is not kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::{Histogram, bucket_of};

/// One stored event, as analytics sees it.
#[derive(Debug, Clone)]
pub struct EventFact {
    pub seq: i64,
    /// `user`, `bot`, `agent` or `system`.
    pub role: String,
    pub created_at: i64,
    /// `meta.event` of a system message (`handoff`, `takeover`, `resolved`, `ended`).
    pub event: Option<String>,
    /// `meta.state` of a bot message: the state the conversation waited in after it.
    pub state: Option<String>,
    /// A user message's text (only read, never kept).
    pub text: String,
}

/// One metered model call of the conversation.
#[derive(Debug, Clone)]
pub struct CallFact {
    pub state: Option<String>,
    pub cost_micros: i64,
}

/// For a `collect` state and an answer: its `max_attempts`, and whether the answer fails
/// the slot's validation; `None` for other states.
pub type CollectCheck<'a> = dyn Fn(&str, &str) -> Option<(u32, bool)> + 'a;

/// Everything a summary is computed from.
pub struct ConversationFacts<'a> {
    pub started_at: i64,
    /// The `collect` the conversation waits in for the user's input now, if it does.
    pub awaiting_input: Option<&'a str>,
    pub events: &'a [EventFact],
    pub calls: &'a [CallFact],
    pub now: i64,
    pub abandon_after_ms: i64,
    /// For a `collect` state and an answer: its `max_attempts`, and whether the answer
    /// fails the slot's validation (`CompiledFlow::collect_answer_check`).
    pub collect_check: &'a CollectCheck<'a>,
}

/// How a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still going (or waiting for something other than the user).
    Open,
    /// Ended by the flow without a handoff.
    Contained,
    /// Handed to a human (a `handoff` or `takeover` event), whatever happened after.
    HandedOff,
    /// Waiting for the user's input, with no user message for `abandon_after`.
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Contained => "contained",
            Outcome::HandedOff => "handed_off",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// Per-state counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Times the conversation came to wait in the state.
    #[serde(default)]
    pub visits: i64,
    /// User messages that arrived while it waited there.
    #[serde(default)]
    pub answers: i64,
    /// Answers after which the bot asked the same state again.
    #[serde(default)]
    pub reprompts: i64,
    /// Visits of a `collect` that ran out of attempts.
    #[serde(default)]
    pub fallbacks: i64,
    /// 1 when the conversation was abandoned waiting here.
    #[serde(default)]
    pub dropoffs: i64,
    #[serde(default)]
    pub cost_micros: i64,
}

/// What a conversation adds to the daily sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub started: i64,
    pub contained: i64,
    pub handed_off: i64,
    pub abandoned: i64,
    pub turns: i64,
    pub cost_micros: i64,
    #[serde(default)]
    pub states: BTreeMap<String, StateCounts>,
    #[serde(default)]
    pub first_reply: Histogram,
    #[serde(default)]
    pub turn_latency: Histogram,
}

/// A conversation's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub outcome: Outcome,
    /// Where an abandoned conversation was waiting.
    pub waiting_state: Option<String>,
    /// When an open conversation waiting for input becomes abandoned.
    pub recheck_at: Option<i64>,
    pub contribution: Contribution,
}

/// The visit in progress: the state waited in and the answers it got so far.
struct Visit {
    state: String,
    answers: u32,
}

/// Summarises one conversation (events in seq order).
pub fn summarise(facts: &ConversationFacts<'_>) -> Summary {
    let mut c = Contribution {
        started: 1,
        ..Contribution::default()
    };
    let mut visit: Option<Visit> = None;
    // The answer waiting for the bot's next message: (state, text).
    let mut answer: Option<(String, &str)> = None;
    // The first unanswered user message: when its turn started.
    let mut turn_started: Option<i64> = None;
    let mut first_reply_seen = false;
    let mut handed_off = false;
    let mut ended = false;
    let mut last_user_at = facts.started_at;
    for event in facts.events {
        match event.role.as_str() {
            "user" => {
                c.turns += 1;
                last_user_at = event.created_at;
                turn_started.get_or_insert(event.created_at);
                if answer.is_none()
                    && let Some(v) = visit.as_mut()
                {
                    v.answers += 1;
                    c.states.entry(v.state.clone()).or_default().answers += 1;
                    answer = Some((v.state.clone(), event.text.as_str()));
                }
            }
            "bot" => {
                if let Some(started) = turn_started.take() {
                    let ms = (event.created_at - started).max(0);
                    *c.turn_latency.entry(bucket_of(ms)).or_default() += 1;
                    if !first_reply_seen {
                        first_reply_seen = true;
                        *c.first_reply.entry(bucket_of(ms)).or_default() += 1;
                    }
                }
                let now_in = event.state.as_deref();
                if let Some((asked, text)) = answer.take() {
                    if now_in == Some(asked.as_str()) {
                        c.states.entry(asked).or_default().reprompts += 1;
                    } else if let Some(v) = &visit
                        && let Some((max_attempts, fails)) = (facts.collect_check)(&asked, text)
                        && fails
                        && v.answers >= max_attempts
                    {
                        c.states.entry(asked).or_default().fallbacks += 1;
                    }
                }
                let same = visit.as_ref().map(|v| v.state.as_str()) == now_in;
                if !same {
                    visit = now_in.map(|state| {
                        c.states.entry(state.to_owned()).or_default().visits += 1;
                        Visit {
                            state: state.to_owned(),
                            answers: 0,
                        }
                    });
                }
            }
            "system" => match event.event.as_deref() {
                Some("handoff" | "takeover") => {
                    handed_off = true;
                    // From here people answer, not the bot: no bot latency to measure.
                    turn_started = None;
                }
                Some("ended") => {
                    ended = true;
                    visit = None;
                }
                _ => {}
            },
            // An agent answered the user; that turn has no bot latency.
            "agent" => turn_started = None,
            _ => {}
        }
    }
    for call in facts.calls {
        c.cost_micros += call.cost_micros;
        if let Some(state) = &call.state {
            c.states.entry(state.clone()).or_default().cost_micros += call.cost_micros;
        }
    }
    let mut summary = Summary {
        outcome: Outcome::Open,
        waiting_state: None,
        recheck_at: None,
        contribution: Contribution::default(),
    };
    if handed_off {
        summary.outcome = Outcome::HandedOff;
        c.handed_off = 1;
    } else if ended {
        summary.outcome = Outcome::Contained;
        c.contained = 1;
    } else if let Some(state) = facts.awaiting_input {
        let abandon_at = last_user_at.saturating_add(facts.abandon_after_ms);
        if facts.now >= abandon_at {
            summary.outcome = Outcome::Abandoned;
            summary.waiting_state = Some(state.to_owned());
            c.abandoned = 1;
            c.states.entry(state.to_owned()).or_default().dropoffs += 1;
        } else {
            summary.recheck_at = Some(abandon_at);
        }
    }
    summary.contribution = c;
    summary
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
