//! `CompiledFlow`: the immutable, validated, ready-to-run form of a flow.
//!
//! Everything the engine needs is resolved at compile time: slot types,
//! templates registered in one sandboxed environment, CEL programs, and
//! transitions whose targets are known to exist. The struct is shared across
//! threads in an `Arc`, hence the compile-time `Send + Sync` assertion below
//! (it holds `cel::Program`, `cel::Env` and a minijinja `Environment`, all of
//! which were verified to be `Send + Sync`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::dialog::diagnostics::Diagnostic;
use crate::dialog::expr::Expr;
use crate::dialog::interrupts::Interrupt;
use crate::dialog::slots::SlotType;
use crate::dialog::state::ExtractSpec;
use crate::dialog::template::Templates;

/// Default number of transcript messages handed to the LLM.
pub const DEFAULT_HISTORY: usize = 6;
/// Default number of invalid answers before `on_fail`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Prompt of an `extract` state that gives none.
pub const DEFAULT_EXTRACT_PROMPT: &str = "{{ input }}";

/// A validated flow. Construct it with [`crate::dialog::compile`].
pub struct CompiledFlow {
    pub(crate) id: String,
    pub(crate) description: Option<String>,
    pub(crate) start: String,
    pub(crate) slots: BTreeMap<String, SlotType>,
    pub(crate) states: BTreeMap<String, CompiledState>,
    /// Global interrupts in file order.
    pub(crate) interrupts: Vec<Interrupt>,
    /// `idle`: waiting this long (ms) for an answer to a `collect` without a `timeout`
    /// of its own ends the conversation.
    pub(crate) idle_ms: Option<u64>,
    /// `whatsapp_template`: what a timer sends a WhatsApp user outside the 24-hour window.
    pub(crate) whatsapp_template: Option<crate::dialog::definition::WhatsappTemplateDef>,
    pub(crate) templates: Templates,
    pub(crate) cel: Arc<cel::Env>,
    pub(crate) definition_json: Value,
    pub(crate) content_hash: String,
    /// The YAML this flow was compiled from, kept so a published version stores it.
    pub(crate) source: String,
    pub(crate) warnings: Vec<Diagnostic>,
    pub(crate) file: String,
    pub(crate) id_position: Option<(u32, u32)>,
}

const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledFlow>();
};

/// One state after lowering.
#[derive(Debug)]
pub(crate) struct CompiledState {
    pub action: Action,
    /// `None` for `end` states and `handoff` states that end on release.
    pub next: Option<Transition>,
}

/// What entering a state does. Template fields hold template *names*.
#[derive(Debug)]
pub(crate) enum Action {
    Say { text: String },
    Collect(Collect),
    Llm(Llm),
    Set { assignments: Vec<(String, Expr)> },
    Call(Call),
    Handoff(Handoff),
    End { text: Option<String> },
}

#[derive(Debug)]
pub(crate) struct Collect {
    pub slot: String,
    pub prompt: String,
    pub reprompt: Option<String>,
    pub max_attempts: u32,
    pub on_fail: Option<String>,
    /// Waiting for an answer longer than this (ms) goes to `on_timeout`.
    pub timeout_ms: Option<u64>,
    pub on_timeout: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Llm {
    pub system: Option<String>,
    pub prompt: String,
    pub history: usize,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub model: Option<String>,
    pub save_as: Option<String>,
    /// Structured extraction (then `save_as` is `None`).
    pub extract: Option<ExtractSpec>,
    pub on_error: Option<String>,
    /// Taken when a budget stops the call; `None`: hand off to the `budget` queue.
    pub on_budget: Option<String>,
    /// Retrieval from the tenant's knowledge bases, when the state names some.
    pub knowledge: Option<KnowledgeSpec>,
}

/// What an `llm` state retrieves, checked at compile time (the names' existence is
/// tenant data, checked when the tenant's knowledge bases are known).
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeSpec {
    pub knowledge_bases: Vec<String>,
    pub min_score: f32,
    pub top_k: usize,
    /// Taken when no chunk reaches `min_score`; `None`: the apology, then `next`.
    pub on_no_answer: Option<String>,
    /// The compiled `query` template (its key in the flow's templates); `None`: the
    /// user's latest message is the question.
    pub query: Option<String>,
}

/// Default `min_score` of a knowledge retrieval.
pub const DEFAULT_MIN_SCORE: f64 = 0.2;
/// Default `top_k` of a knowledge retrieval.
pub const DEFAULT_TOP_K: u32 = 4;
/// Largest `top_k` of a knowledge retrieval.
pub const MAX_KNOWLEDGE_TOP_K: u32 = 20;

#[derive(Debug)]
pub(crate) struct Call {
    pub adaptor: String,
    /// Argument name → template name.
    pub args: Vec<(String, String)>,
    pub save_as: Option<String>,
    pub timeout_ms: Option<u64>,
    pub on_error: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Handoff {
    pub queue: String,
    /// Template name of the message said before handing over.
    pub message: Option<String>,
}

/// Where to go after a state.
#[derive(Debug)]
pub(crate) enum Transition {
    Goto(String),
    Branch {
        branches: Vec<(Expr, String)>,
        otherwise: String,
    },
}

impl CompiledFlow {
    /// The flow id (`[a-z0-9_-]{1,64}`).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Lower-case hex SHA-256 of the canonical JSON definition; independent
    /// of YAML formatting, comments and key order.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The YAML source the flow was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The definition as canonical JSON (objects in sorted key order).
    pub fn definition_json(&self) -> &Value {
        &self.definition_json
    }

    /// Name of the first state.
    pub fn start(&self) -> &str {
        &self.start
    }

    /// What the `llm` state `state` retrieves from the tenant's knowledge bases, if it
    /// names any.
    pub fn knowledge_of(&self, state: &str) -> Option<&KnowledgeSpec> {
        match &self.states.get(state)?.action {
            Action::Llm(llm) => llm.knowledge.as_ref(),
            _ => None,
        }
    }

    /// Non-fatal diagnostics found while compiling.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The file name the flow was compiled from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// All state names, sorted.
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }

    /// All slot names, sorted.
    pub fn slot_names(&self) -> impl Iterator<Item = &str> {
        self.slots.keys().map(String::as_str)
    }

    /// The type of slot `name`, if declared.
    pub fn slot_type(&self, name: &str) -> Option<&SlotType> {
        self.slots.get(name)
    }

    /// For a `collect` state: its `max_attempts`, and whether `answer` fails its slot's
    /// validation (what analytics needs to tell a fallback from an accepted last try).
    /// `None` for any other state.
    pub fn collect_answer_check(&self, state: &str, answer: &str) -> Option<(u32, bool)> {
        match &self.states.get(state)?.action {
            Action::Collect(collect) => {
                let slot = self.slots.get(&collect.slot)?;
                Some((collect.max_attempts, slot.parse_text(answer).is_err()))
            }
            _ => None,
        }
    }

    /// Names of the adaptors the flow's `call` states use, sorted.
    pub fn adaptors(&self) -> BTreeSet<&str> {
        self.states
            .values()
            .filter_map(|s| match &s.action {
                Action::Call(call) => Some(call.adaptor.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Names of the queues the flow's `handoff` states use, sorted.
    pub fn queues(&self) -> BTreeSet<&str> {
        self.states
            .values()
            .filter_map(|s| match &s.action {
                Action::Handoff(h) => Some(h.queue.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Debug for CompiledFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledFlow")
            .field("id", &self.id)
            .field("file", &self.file)
            .field("content_hash", &self.content_hash)
            .field("start", &self.start)
            .field("states", &self.states.len())
            .field("slots", &self.slots.len())
            .field("interrupts", &self.interrupts.len())
            .field("warnings", &self.warnings.len())
            .finish()
    }
}
