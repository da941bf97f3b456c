//! [`Command`]: everything a conversation can be asked to do from outside its actor.

use serde::{Deserialize, Serialize};

/// Where an inbound user message came from; the namespace of its dedup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Webchat,
    Whatsapp,
    Slack,
    Teams,
}

impl Source {
    /// The name stored with the dedup key (`inbound_dedup.source`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webchat => "webchat",
            Source::Whatsapp => "whatsapp",
            Source::Slack => "slack",
            Source::Teams => "teams",
        }
    }
}

/// An inbound user message, with the key that makes its delivery idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub source: Source,
    /// Unique per message within `source` (client id, provider event id).
    pub dedup_key: String,
    pub text: String,
}

/// A request to a conversation. Answered by a [`super::Reply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Command {
    /// Start the flow if it has not started yet. Waking the conversation also resumes
    /// work a restart interrupted. Answered `Done`.
    Start,
    /// A user message: answered `Ack` once it is stored, before the bot answers it.
    UserMessage(Inbound),
    /// A human agent writes to the user (only while the conversation is handed off);
    /// `author` is the agent's display name, shown to the user.
    AgentMessage {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
    /// The human agent hands the conversation back to the bot; the flow continues.
    Release,
    /// The human agent hands the conversation back to the bot at the flow state `state`
    /// (answered [`TurnError::NoSuchState`] when the conversation's flow has none).
    ReleaseTo { state: String },
    /// A human agent takes a bot conversation over: the bot stops (an answer in progress
    /// is abandoned) and the conversation is in human mode in `queue`, assigned to
    /// `agent_id` in the same commit. Answered `Done`; a conversation already with a
    /// human is left as it is.
    TakeOver {
        agent_id: String,
        agent_name: String,
        queue: String,
    },
    /// A human agent's private note, stored in the transcript and never delivered to the
    /// end user. Answered `Ack`.
    AgentNote {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author: Option<String>,
    },
    /// Records a turning point of human mode that happened outside the conversation
    /// (assignment, transfer) as a system message; only while it is with a human.
    Mark {
        event: crate::transcript::ConversationEvent,
        detail: String,
    },
    /// A note for the transcript (e.g. a reply the provider refused); never delivered.
    SystemNote { text: String },
    /// Erase the conversation: everything said in it is deleted from the store (GDPR),
    /// and its actor stops. Answered `Done`.
    Erase,
    /// The conversation's durable timer due at `due_at` fired (a node claimed it). Taken
    /// only while that is still its timer, so a timer delivered twice acts once.
    /// Answered `Done`.
    Timer { due_at: i64 },
    /// Fault injection for supervision tests and drills: the actor panics.
    InjectPanic,
}

impl Command {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::UserMessage(_) => "user_message",
            Command::AgentMessage { .. } => "agent_message",
            Command::Release => "release",
            Command::ReleaseTo { .. } => "release_to",
            Command::TakeOver { .. } => "take_over",
            Command::AgentNote { .. } => "agent_note",
            Command::Mark { .. } => "mark",
            Command::SystemNote { .. } => "system_note",
            Command::Erase => "erase",
            Command::Timer { .. } => "timer",
            Command::InjectPanic => "inject_panic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_trip_between_nodes() {
        for command in [
            Command::Start,
            Command::UserMessage(Inbound {
                source: Source::Whatsapp,
                dedup_key: "wamid.1".into(),
                text: "héllo".into(),
            }),
            Command::AgentMessage {
                text: "hi".into(),
                author: Some("Grace".into()),
            },
            Command::Release,
            Command::ReleaseTo {
                state: "menu".into(),
            },
            Command::TakeOver {
                agent_id: "a1".into(),
                agent_name: "Grace".into(),
                queue: "support".into(),
            },
            Command::AgentNote {
                text: "vip".into(),
                author: None,
            },
            Command::Mark {
                event: crate::transcript::ConversationEvent::Assigned,
                detail: "Grace".into(),
            },
            Command::SystemNote {
                text: "note".into(),
            },
            Command::Erase,
            Command::Timer { due_at: 42 },
            Command::InjectPanic,
        ] {
            let json = serde_json::to_string(&command).unwrap();
            let back: Command = serde_json::from_str(&json).unwrap();
            assert_eq!(back, command, "{json}");
        }
    }
}
