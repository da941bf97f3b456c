//! What travels between nodes: forwarded conversation commands and their replies (on
//! node inboxes), and conversation events (on conversation channels). JSON, because it is
//! small, debuggable with `redis-cli MONITOR`, and the payloads are text anyway.

use serde::{Deserialize, Serialize};

use crate::actors::{Ack, TurnError};
use crate::bus::BusEvent;
use crate::transcript::Message;

/// A message on a node's inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboxMessage {
    Request {
        id: u64,
        /// The node that waits for the reply (empty: no reply wanted).
        from: String,
        tenant: String,
        conversation: String,
        command: Command,
    },
    Reply {
        id: u64,
        result: CommandResult,
    },
    /// A channel account's replies wait in the outbox; sent to the account's sender node.
    OutboxReady {
        tenant: String,
        account: String,
        conversation: String,
    },
}

/// A conversation command that can cross nodes (the ones an edge sends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    Start,
    UserMessage {
        source: String,
        dedup_key: String,
        text: String,
    },
    AgentMessage {
        text: String,
    },
    Release,
    SystemNote {
        text: String,
    },
    InjectPanic,
}

/// The owner's answer to a forwarded command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandResult {
    Ack {
        message_id: String,
        seq: i64,
        duplicate: bool,
    },
    Done,
    Failed {
        error: TurnError,
    },
}

impl From<Result<Ack, TurnError>> for CommandResult {
    fn from(result: Result<Ack, TurnError>) -> Self {
        match result {
            Ok(ack) => CommandResult::Ack {
                message_id: ack.message_id,
                seq: ack.seq,
                duplicate: ack.duplicate,
            },
            Err(error) => CommandResult::Failed { error },
        }
    }
}

impl From<Result<(), TurnError>> for CommandResult {
    fn from(result: Result<(), TurnError>) -> Self {
        match result {
            Ok(()) => CommandResult::Done,
            Err(error) => CommandResult::Failed { error },
        }
    }
}

/// A conversation event as published on its channel, stamped with the publishing node so
/// that node does not deliver its own events twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    pub node: String,
    pub event: WireBusEvent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireBusEvent {
    Message {
        message: Message,
    },
    Delta {
        message_id: String,
        offset: usize,
        text: String,
    },
}

impl WireBusEvent {
    pub fn from_bus(event: &BusEvent) -> Option<Self> {
        match event {
            BusEvent::Message(message) => Some(WireBusEvent::Message {
                message: message.clone(),
            }),
            BusEvent::Delta {
                message_id,
                offset,
                text,
            } => Some(WireBusEvent::Delta {
                message_id: message_id.clone(),
                offset: *offset,
                text: text.clone(),
            }),
            BusEvent::Resync => None,
        }
    }

    pub fn into_bus(self) -> BusEvent {
        match self {
            WireBusEvent::Message { message } => BusEvent::Message(message),
            WireBusEvent::Delta {
                message_id,
                offset,
                text,
            } => BusEvent::Delta {
                message_id,
                offset,
                text,
            },
        }
    }
}
