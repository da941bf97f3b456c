//! The durable vocabulary of a conversation: who said what, at which seq.
//!
//! These types are what the store persists, what the conversation actor publishes and
//! what every channel edge translates into its own wire format.

use serde::{Deserialize, Serialize};

/// Who authored a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Bot,
    Agent,
    System,
    /// A human agent's private note: kept in the transcript for agents, never delivered
    /// to the end user on any channel, never given to a model.
    Note,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Bot => "bot",
            Role::Agent => "agent",
            Role::System => "system",
            Role::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "bot" => Some(Role::Bot),
            "agent" => Some(Role::Agent),
            "system" => Some(Role::System),
            "note" => Some(Role::Note),
            _ => None,
        }
    }
}

/// A durable message of a conversation. `seq` is gap-free per conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub seq: i64,
    pub message_id: String,
    pub role: Role,
    pub text: String,
    pub created_at: i64,
    /// What a channel may show beside the text; empty for most messages.
    #[serde(default, skip_serializing_if = "MessageMeta::is_empty")]
    pub meta: MessageMeta,
}

/// What a message carries beside its text, stored with it (`events.meta`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// A bot question's expected answers (an enum slot's values, yes/no), for quick
    /// replies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// An agent's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// What a system message marks in the conversation's life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ConversationEvent>,
    /// Bot messages: the flow state the conversation waited in after the turn that
    /// produced it, for transcripts. Never sent to visitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Web chat user messages: the `client_id` the widget sent it with, echoed on the
    /// stored message so every tab of the visitor knows it for the message it typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// WhatsApp bot messages: send this approved template instead of the text (a timer's
    /// message outside the 24-hour customer-service window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_template: Option<crate::dialog::definition::WhatsappTemplateDef>,
    /// Bot replies of a knowledge `llm` state: the document sections they answer from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
}

/// One source of an answer: a section of a tenant's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub title: String,
    /// The document's source with the section's anchor; empty without a source.
    pub url: String,
    pub kb: String,
    pub doc_id: String,
    pub anchor: String,
}

impl MessageMeta {
    /// No metadata.
    pub const NONE: MessageMeta = MessageMeta {
        choices: Vec::new(),
        author: None,
        event: None,
        state: None,
        client_id: None,
        whatsapp_template: None,
        citations: Vec::new(),
    };

    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
            && self.author.is_none()
            && self.event.is_none()
            && self.state.is_none()
            && self.client_id.is_none()
            && self.whatsapp_template.is_none()
            && self.citations.is_empty()
    }

    /// The stored form: `None` when empty.
    pub fn to_json(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Reads the stored form; unknown or damaged metadata is dropped, never fatal.
    pub fn from_json(json: Option<&str>) -> Self {
        json.and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }
}

/// A turning point of a conversation, recorded as a system message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationEvent {
    /// The flow handed the conversation to a human.
    Handoff,
    /// The human gave it back to the bot.
    Resolved,
    /// A human agent took the conversation over from the bot.
    Takeover,
    /// The conversation was assigned to a human agent (or to another one).
    Assigned,
    /// The conversation was moved to another queue and waits there.
    Transferred,
    /// The flow ended; the conversation takes no more messages.
    Ended,
}

/// A new unique id: UUID v7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// What a client is told when its text holds U+0000.
pub const NUL_REFUSED: &str = "text must not contain U+0000 (NUL)";

/// Text from inside (a model's reply, an adaptor's data in a template) made storable
/// alike on both stores: U+0000 becomes U+FFFD. One character for one, so character
/// offsets stay valid. Borrowed (no copy) when there is nothing to replace.
pub fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// True when any string or key in `value` holds U+0000 (NUL). PostgreSQL `text` cannot
/// store it and SQLite can, so the edges refuse it to keep both stores alike. Iterative,
/// so a deeply nested value cannot overflow the stack.
pub fn has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    false
}
