//! What travels between nodes: forwarded conversation commands and their replies (on
//! node inboxes), and conversation events (on conversation channels). JSON, because it is
//! small, debuggable with `redis-cli MONITOR`, and the payloads are text anyway.
//!
//! A forwarded command is the very [`Command`] the sender's edge built, and the reply is
//! the very [`Reply`] the owner's conversation gave: there is no second vocabulary.

use serde::{Deserialize, Serialize};

use crate::bus::BusEvent;
use crate::turn::{Command, Reply};

/// A message on a node's inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboxMessage {
    Request {
        id: u64,
        /// The node that waits for the reply.
        from: String,
        tenant: String,
        conversation: String,
        command: Command,
    },
    Reply {
        id: u64,
        reply: Reply,
    },
    /// A channel account's replies wait in the outbox; sent to the account's sender node.
    OutboxReady {
        tenant: String,
        account: String,
        conversation: String,
    },
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
    use crate::transcript::{Message, MessageMeta, Role};
    use crate::turn::{Inbound, Source};

    #[test]
    fn bus_events_survive_the_trip_between_nodes() {
        for event in [
            BusEvent::Message(Message {
                seq: 3,
                message_id: "m1".into(),
                role: Role::Bot,
                text: "héllo".into(),
                created_at: 42,
                meta: MessageMeta {
                    choices: vec!["yes".into(), "no".into()],
                    ..MessageMeta::NONE
                },
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

    #[test]
    fn a_forwarded_command_is_the_command_itself() {
        let command = Command::UserMessage(Inbound {
            source: Source::Slack,
            dedup_key: "Ev1".into(),
            text: "hi".into(),
        });
        let request = InboxMessage::Request {
            id: 7,
            from: "n2".into(),
            tenant: "acme".into(),
            conversation: "c1".into(),
            command: command.clone(),
        };
        let json = serde_json::to_string(&request).unwrap();
        match serde_json::from_str(&json).unwrap() {
            InboxMessage::Request { command: back, .. } => assert_eq!(back, command),
            other => panic!("unexpected {other:?}"),
        }
    }
}
