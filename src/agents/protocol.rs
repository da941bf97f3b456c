//! The frames of the agent WebSocket (`GET /v1/agent/ws`, docs/agents.md): JSON text
//! frames with a `type`, like web chat protocol v1.
//!
//! Client → server: `hello` (first, with the agent's token), `follow` (a conversation,
//! from a seq), `unfollow`, `typing`, `presence`. Server → client: `welcome`, `inbox`
//! (the whole inbox, first and after a change), `message` (an event of a followed
//! conversation, private notes included), `typing` (the end user types), `unfollowed`,
//! `error`.

use serde::{Deserialize, Serialize};

use crate::store::{AgentRow, HandoffRow};
use crate::transcript::Message;

/// A frame from the agent's client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Signs in; `status` is `online` (default) or `away`.
    Hello {
        token: String,
        #[serde(default)]
        status: Option<String>,
    },
    /// Sends the conversation's events after `last_seq` (0: all), then live ones.
    Follow {
        conversation_id: String,
        #[serde(default)]
        last_seq: i64,
    },
    Unfollow {
        conversation_id: String,
    },
    /// The agent is typing in a followed conversation (shown to the end user).
    Typing {
        conversation_id: String,
    },
    /// `online` or `away`.
    Presence {
        status: String,
    },
}

/// A frame to the agent's client.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        agent: &'a AgentRow,
    },
    /// Every conversation the agent sees: assigned to it, or waiting in its queues.
    Inbox {
        conversations: &'a [HandoffRow],
    },
    /// An event of a followed conversation, in seq order, exactly once per follow.
    Message {
        conversation_id: &'a str,
        #[serde(flatten)]
        message: &'a Message,
    },
    /// The end user of a followed conversation is typing.
    Typing {
        conversation_id: &'a str,
        role: crate::transcript::Role,
    },
    /// A followed conversation is no longer the agent's (resolved, transferred away).
    Unfollowed {
        conversation_id: &'a str,
    },
    Error {
        code: &'a str,
        message: &'a str,
    },
}

impl ServerFrame<'_> {
    pub fn to_json(&self) -> String {
        // Plain data: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses a client frame; the error says what is wrong, for an `error` frame.
pub fn parse(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid frame: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_and_unknown_ones_are_refused() {
        assert_eq!(
            parse(r#"{"type":"follow","conversation_id":"c1","last_seq":4}"#),
            Ok(ClientFrame::Follow {
                conversation_id: "c1".into(),
                last_seq: 4
            })
        );
        assert_eq!(
            parse(r#"{"type":"hello","token":"sba_x"}"#),
            Ok(ClientFrame::Hello {
                token: "sba_x".into(),
                status: None
            })
        );
        assert!(parse(r#"{"type":"follow"}"#).is_err());
        assert!(parse(r#"{"type":"dance"}"#).is_err());
        assert!(parse("not json").is_err());
    }
}
