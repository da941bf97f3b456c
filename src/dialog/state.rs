//! Conversation state, the events that drive it and the effects it emits.
//!
//! `DialogState` is plain data (serde round-trips it) so the runtime can
//! persist it between messages; the engine never keeps anything else.
//! Effects are instructions for the runtime — say this, stream an LLM turn,
//! call an adaptor, hand over to a human, note a slot change, log a warning,
//! close the conversation — and the engine performs none of them itself.
//! New fields are `#[serde(default)]` so snapshots of older versions load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a conversation is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    #[default]
    NotStarted,
    /// Waiting for the user to answer the `collect` in `state`.
    AwaitingInput {
        state: String,
    },
    /// Waiting for the LLM reply requested by the `llm` state `state`.
    AwaitingLlm {
        state: String,
    },
    /// Waiting for the adaptor call requested by the `call` state `state`.
    AwaitingAdaptor {
        state: String,
    },
    /// A human agent of `queue` has the conversation (from `handoff` state
    /// `state`); the bot ignores user text until `Event::Released`.
    HumanMode {
        state: String,
        queue: String,
    },
    Ended,
}

impl Status {
    /// The state the conversation is in: waiting for input, the model or an adaptor, or
    /// handed off; none before the start and once it ended.
    pub fn state_name(&self) -> Option<&str> {
        match self {
            Status::AwaitingInput { state }
            | Status::AwaitingLlm { state }
            | Status::AwaitingAdaptor { state }
            | Status::HumanMode { state, .. } => Some(state),
            Status::NotStarted | Status::Ended => None,
        }
    }
}

/// Everything the engine needs to continue a conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DialogState {
    pub status: Status,
    /// Current slot values (only set slots are present).
    #[serde(default)]
    pub slots: BTreeMap<String, Value>,
    /// Invalid answers given to the current `collect` so far.
    #[serde(default)]
    pub attempts: u32,
    /// The latest user message; exposed to templates/CEL as `input`.
    #[serde(default)]
    pub last_input: String,
}

/// Something that happened to the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// Begin (or restart) the flow.
    Start,
    /// The user sent a message.
    UserText(String),
    /// The LLM turn requested by `Effect::StreamLlm` finished.
    LlmReply { text: String },
    /// The LLM turn failed.
    LlmFailed,
    /// A budget stopped the LLM turn before any request went out.
    LlmBudgetExhausted,
    /// The extraction turn (`LlmTurn::extract`) produced these values.
    LlmExtracted {
        values: serde_json::Map<String, Value>,
    },
    /// The adaptor call requested by `Effect::CallAdaptor` returned this
    /// (already mapped) result.
    AdaptorResult { value: Value },
    /// The adaptor call failed (timeout, 5xx, network, refusal).
    AdaptorFailed { error: String },
    /// The human agent released the conversation back to the bot.
    Released,
    /// The human agent released the conversation back to the bot at the named state.
    ReleasedTo { state: String },
    /// The knowledge bases of the `llm` state `state` held no answer good enough: no
    /// model was called, and the flow takes `on_no_answer`.
    NoAnswer { state: String },
    /// No answer came to the `collect` of `state` within its `timeout` (a durable timer
    /// the runtime set on `Effect::Wait` fired).
    Timeout { state: String },
}

/// A fully rendered request for one LLM turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmTurn {
    /// The `llm` state that asked for it.
    pub state: String,
    pub system: Option<String>,
    pub prompt: String,
    /// How many recent transcript messages to include.
    pub history: usize,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// The route, `provider:model` or model the flow names; absent: the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Present for structured extraction: answer with `LlmExtracted`
    /// instead of streaming text. Absent in turns stored by older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<ExtractSpec>,
    /// For a state that retrieves: the question to search its knowledge bases for (its
    /// `query` rendered, else the user's latest message). Absent in turns stored by
    /// older versions, whose question is the latest message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl LlmTurn {
    /// The question a retrieving state searches for: its rendered `query`, else (a turn
    /// stored by an older version) the user's latest message.
    pub fn knowledge_query(&self, latest_input: &str) -> String {
        self.query
            .clone()
            .unwrap_or_else(|| latest_input.to_owned())
    }
}

/// What an extraction turn should fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractSpec {
    /// The slots requested, in the order the flow lists them.
    pub slots: Vec<String>,
    /// JSON Schema (draft 2020-12) of the object the model must return.
    pub schema: Value,
}

/// A fully rendered request to call a tenant adaptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptorCall {
    /// The `call` state that asked for it.
    pub state: String,
    /// Name of the tenant-configured adaptor.
    pub adaptor: String,
    /// Rendered argument values.
    pub args: BTreeMap<String, String>,
    pub timeout_ms: Option<u64>,
}

/// An instruction for the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Send this text to the user.
    Say { text: String },
    /// The `Say` just before is a question expecting one of these answers (an enum
    /// slot's values, yes/no): channels may offer them as quick replies.
    Choices { options: Vec<String> },
    /// Run this LLM turn, stream it to the user, then send `LlmReply` or
    /// `LlmFailed` (for an `extract` turn: `LlmExtracted` or `LlmFailed`,
    /// nothing is streamed).
    StreamLlm(LlmTurn),
    /// Call this adaptor, then send `AdaptorResult` or `AdaptorFailed`.
    CallAdaptor(AdaptorCall),
    /// Hand the conversation to a human in `queue`; send `Released` when
    /// the agent gives it back.
    Handoff { queue: String, state: String },
    /// A slot changed (for the transcript/audit); `null` means cleared.
    SlotSet { slot: String, value: Value },
    /// Something went wrong inside the flow (never shown to the user).
    Warning { message: String },
    /// The conversation ended.
    Ended,
    /// The `collect` of `state` (re)asked its question and waits `timeout_ms` for an
    /// answer; then the runtime sends `Timeout`. A later `Wait` replaces it, and leaving
    /// the state drops it.
    Wait { state: String, timeout_ms: u64 },
}

/// The result of one `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: DialogState,
    pub effects: Vec<Effect>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dialog_state_round_trips() {
        let state = DialogState {
            status: Status::AwaitingInput {
                state: "ask_name".into(),
            },
            slots: BTreeMap::from([
                ("age".to_owned(), json!(42)),
                ("name".to_owned(), json!("Ada")),
            ]),
            attempts: 2,
            last_input: "hi".into(),
        };
        let text = serde_json::to_string(&state).expect("serializes");
        assert_eq!(
            text,
            r#"{"status":{"status":"awaiting_input","state":"ask_name"},"slots":{"age":42,"name":"Ada"},"attempts":2,"last_input":"hi"}"#
        );
        let back: DialogState = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, state);
        // Older snapshots without the defaulted fields still load.
        let old: DialogState =
            serde_json::from_str(r#"{"status":{"status":"ended"}}"#).expect("loads");
        assert_eq!(old.status, Status::Ended);
        assert_eq!(DialogState::default().status, Status::NotStarted);
    }

    #[test]
    fn new_shapes_serialize_and_old_turns_load() {
        let s = DialogState {
            status: Status::HumanMode {
                state: "agent".into(),
                queue: "billing".into(),
            },
            ..DialogState::default()
        };
        let text = serde_json::to_string(&s.status).expect("serializes");
        assert_eq!(
            text,
            r#"{"status":"human_mode","state":"agent","queue":"billing"}"#
        );
        let e = Event::AdaptorResult {
            value: json!({"status": "shipped"}),
        };
        let text = serde_json::to_string(&e).expect("serializes");
        assert_eq!(
            text,
            r#"{"event":"adaptor_result","data":{"value":{"status":"shipped"}}}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&text).ok(), Some(e));
        let released: Event = serde_json::from_str(r#"{"event":"released"}"#).expect("loads");
        assert_eq!(released, Event::Released);
        let old = r#"{"state":"a","system":null,"prompt":"p","history":6,"max_tokens":null,"temperature":null}"#;
        let turn: LlmTurn = serde_json::from_str(old).expect("old turn loads");
        assert_eq!(turn.extract, None);
        let call = Effect::CallAdaptor(AdaptorCall {
            state: "lookup".into(),
            adaptor: "order_status".into(),
            args: BTreeMap::from([("order_id".to_owned(), "AB-1234".to_owned())]),
            timeout_ms: Some(3000),
        });
        assert_eq!(
            serde_json::to_string(&call).expect("serializes"),
            r#"{"effect":"call_adaptor","state":"lookup","adaptor":"order_status","args":{"order_id":"AB-1234"},"timeout_ms":3000}"#
        );
    }

    #[test]
    fn effects_serialize_tagged() {
        let e = Effect::SlotSet {
            slot: "topic".into(),
            value: json!("billing"),
        };
        assert_eq!(
            serde_json::to_string(&e).expect("serializes"),
            r#"{"effect":"slot_set","slot":"topic","value":"billing"}"#
        );
    }
}
