//! [`PersistedState`]: the part of a conversation's state stored in
//! `conversations.dialog_state`, so that a conversation rebuilt from the store (after
//! passivation, a crash or a takeover by another node) carries on where it was.

use serde::{Deserialize, Serialize};

use crate::dialog::{AdaptorCall, DialogState, LlmTurn, Status};

/// The dialog state plus the slow work the engine waits for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub dialog: DialogState,
    /// An LLM reply requested but not yet stored; re-requested after a restart.
    #[serde(default)]
    pub pending_llm: Option<PendingLlm>,
    /// An adaptor call made but not yet answered; made again after a restart.
    #[serde(default)]
    pub pending_call: Option<PendingCall>,
    /// The `collect` waiting for an answer until `due_at` (its `timeout`); stored in the
    /// conversation row too (`timer_due_at`), where nodes find it when it is due.
    #[serde(default)]
    pub timer: Option<PendingTimer>,
}

/// A durable timer: `Event::Timeout { state }` at `due_at` (ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTimer {
    pub state: String,
    pub due_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCall {
    pub call_id: String,
    pub call: AdaptorCall,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLlm {
    pub message_id: String,
    pub turn: LlmTurn,
}

impl PersistedState {
    /// The stored form of a conversation that has not started: what every way of opening
    /// a conversation writes.
    pub fn initial_json() -> String {
        // A derived serialisation of plain data cannot fail.
        serde_json::to_string(&Self::default()).unwrap_or_default()
    }

    /// True while the engine waits for the model or an adaptor.
    pub fn busy(&self) -> bool {
        self.pending_llm.is_some() || self.pending_call.is_some()
    }

    /// The human agent queue of a conversation in human mode.
    pub fn handoff_queue(&self) -> Option<&str> {
        match &self.dialog.status {
            Status::HumanMode { queue, .. } => Some(queue),
            _ => None,
        }
    }

    /// The `conversations.status` column for this state.
    pub fn status_label(&self) -> &'static str {
        match self.dialog.status {
            Status::Ended => "ended",
            Status::HumanMode { .. } => "handoff",
            Status::NotStarted
            | Status::AwaitingInput { .. }
            | Status::AwaitingLlm { .. }
            | Status::AwaitingAdaptor { .. } => "active",
        }
    }
}
