//! What travels between nodes: forwarded conversation commands and their replies (on
//! node inboxes), and conversation events (on conversation channels). JSON, because it is
//! small, debuggable with `redis-cli MONITOR`, and the payloads are text anyway.

use serde::{Deserialize, Serialize};

use crate::actors::{Ack, TurnError};
use crate::bus::BusEvent;

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
    pub event: BusEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Message, Role};

    #[test]
    fn bus_events_survive_the_trip_between_nodes() {
        for event in [
            BusEvent::Message(Message {
                seq: 3,
                message_id: "m1".into(),
                role: Role::Bot,
                text: "héllo".into(),
                created_at: 42,
            }),
            BusEvent::Delta {
                message_id: "m2".into(),
                offset: 5,
                text: "tok".into(),
            },
        ] {
            let wire = WireEvent {
                node: "n1".into(),
                event: event.clone(),
            };
            let back: WireEvent =
                serde_json::from_str(&serde_json::to_string(&wire).unwrap()).unwrap();
            assert_eq!((back.node.as_str(), back.event), ("n1", event));
        }
    }
}
