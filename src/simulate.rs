//! Simulation: runs a flow against scripted user turns in memory and returns the
//! transcript. The model is the offline one and adaptors are stubbed, so a simulation
//! is fast, free and deterministic; nothing is stored. It drives the same engine and
//! builds the same model requests as a live conversation.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::dialog::{self, CompiledFlow, DialogState, Effect, Event, Status};
use crate::llm::LlmGateway;
use crate::llm::prompt::completion_request;
use crate::transcript::{Message, MessageMeta, Role};

/// Most engine steps one user turn may cause (model and adaptor answers included).
const MAX_STEPS_PER_TURN: usize = 64;

/// What an adaptor answers in a simulation.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Stub {
    /// The mapped result object.
    Result(Value),
    /// A failure (the flow takes `on_error`).
    Error(String),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulatedMessage {
    /// `bot`, `user` or `system` (notes such as handoffs and adaptor calls).
    pub role: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SimulationResult {
    pub transcript: Vec<SimulatedMessage>,
    /// `active`, `ended`, `handoff` or `waiting`.
    pub status: String,
    #[schema(value_type = Object)]
    pub slots: BTreeMap<String, Value>,
    /// Flow warnings (conditions that failed to evaluate, …).
    pub warnings: Vec<String>,
}

/// Runs `flow` from its start through `turns`.
pub async fn simulate(
    flow: &CompiledFlow,
    turns: &[String],
    stubs: &BTreeMap<String, Stub>,
) -> SimulationResult {
    let mut run = Run {
        flow,
        stubs,
        llm: LlmGateway::offline(Duration::ZERO),
        state: DialogState::default(),
        history: VecDeque::new(),
        result: SimulationResult {
            transcript: Vec::new(),
            status: String::new(),
            slots: BTreeMap::new(),
            warnings: Vec::new(),
        },
    };
    run.feed(Event::Start).await;
    for turn in turns {
        run.record(Role::User, turn);
        run.feed(Event::UserText(turn.clone())).await;
    }
    run.result.slots = run.state.slots.clone();
    run.result.status = match &run.state.status {
        Status::Ended => "ended",
        Status::HumanMode { .. } => "handoff",
        Status::AwaitingInput { .. } => "active",
        _ => "waiting",
    }
    .to_string();
    run.result
}

struct Run<'a> {
    flow: &'a CompiledFlow,
    stubs: &'a BTreeMap<String, Stub>,
    llm: LlmGateway,
    state: DialogState,
    history: VecDeque<Message>,
    result: SimulationResult,
}

impl Run<'_> {
    fn record(&mut self, role: Role, text: &str) {
        let seq = self.history.len() as i64 + 1;
        self.history.push_back(Message {
            seq,
            message_id: seq.to_string(),
            role,
            text: text.to_string(),
            created_at: 0,
            meta: MessageMeta::NONE,
        });
        self.result.transcript.push(SimulatedMessage {
            role: role.as_str().to_string(),
            text: text.to_string(),
        });
    }

    fn note(&mut self, text: String) {
        self.result.transcript.push(SimulatedMessage {
            role: "system".into(),
            text,
        });
    }

    async fn feed(&mut self, first: Event) {
        let mut next = Some(first);
        for _ in 0..MAX_STEPS_PER_TURN {
            let Some(event) = next.take() else { return };
            let step = dialog::step(self.flow, &self.state, event);
            self.state = step.state;
            for effect in step.effects {
                match effect {
                    Effect::Say { text } => self.record(Role::Bot, &text),
                    Effect::StreamLlm(turn) => {
                        let answering = self.history.back().map_or(0, |m| m.seq + 1);
                        let request = completion_request(&turn, &self.history, answering, None);
                        next = Some(match &turn.extract {
                            Some(extract) => match self.llm.extract(request, &extract.schema).await
                            {
                                Ok(values) => Event::LlmExtracted { values },
                                Err(_) => Event::LlmFailed,
                            },
                            None => match self.llm.stream(request).await {
                                Ok(stream) => {
                                    let parts: Vec<_> = stream.collect().await;
                                    let text: Result<String, _> = parts.into_iter().collect();
                                    match text {
                                        Ok(text) => {
                                            self.record(Role::Bot, &text);
                                            Event::LlmReply { text }
                                        }
                                        Err(_) => Event::LlmFailed,
                                    }
                                }
                                Err(_) => Event::LlmFailed,
                            },
                        });
                    }
                    Effect::CallAdaptor(call) => {
                        let args = serde_json::to_string(&call.args).unwrap_or_default();
                        next = Some(match self.stubs.get(&call.adaptor) {
                            Some(Stub::Result(value)) => {
                                self.note(format!("adaptor `{}` called with {args}", call.adaptor));
                                Event::AdaptorResult {
                                    value: value.clone(),
                                }
                            }
                            Some(Stub::Error(error)) => {
                                self.note(format!(
                                    "adaptor `{}` called with {args}: failed ({error})",
                                    call.adaptor
                                ));
                                Event::AdaptorFailed {
                                    error: error.clone(),
                                }
                            }
                            None => {
                                self.note(format!(
                                    "adaptor `{}` called with {args}: no stub, so it fails",
                                    call.adaptor
                                ));
                                Event::AdaptorFailed {
                                    error: "no stub".into(),
                                }
                            }
                        });
                    }
                    Effect::Handoff { queue, .. } => {
                        self.note(format!("handed off to a human in queue `{queue}`"))
                    }
                    Effect::Warning { message } => self.result.warnings.push(message),
                    Effect::SlotSet { .. } | Effect::Choices { .. } | Effect::Ended => {}
                }
            }
        }
        self.result.warnings.push(format!(
            "stopped after {MAX_STEPS_PER_TURN} steps in one turn"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_the_demo_flow_with_the_offline_model() {
        let source = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/demo.yaml"));
        let flow = dialog::compile("demo.yaml", source).unwrap();
        let turns: Vec<String> = ["Ada", "billing", "Where is my invoice?", "bye"]
            .map(String::from)
            .to_vec();
        let result = simulate(&flow, &turns, &BTreeMap::new()).await;
        let texts: Vec<&str> = result.transcript.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts[0], "Hi! I'm the Switchboard demo assistant.");
        assert!(texts.contains(&"Ada"));
        assert!(texts.iter().any(|t| t.starts_with("Invoices are sent")));
        assert!(
            texts.iter().any(|t| t.contains("Where is my invoice")),
            "the offline model answers: {texts:?}"
        );
        assert_eq!(*texts.last().unwrap(), "Thanks, Ada! Have a great day.");
        assert_eq!(result.status, "ended");
        assert_eq!(result.slots["topic"], "billing");
    }
}
