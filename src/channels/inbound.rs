//! The internal shape of provider events, shared by every channel edge. Each provider
//! module (whatsapp, slack, teams) turns its verified raw webhook body into these; the
//! core never sees provider JSON.

use serde::{Deserialize, Serialize};

use crate::turn::Source;

/// Which provider an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Whatsapp,
    Slack,
    Teams,
}

impl Provider {
    /// The source of its messages in the turn contract (their dedup namespace).
    pub fn source(self) -> Source {
        match self {
            Provider::Whatsapp => Source::Whatsapp,
            Provider::Slack => Source::Slack,
            Provider::Teams => Source::Teams,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Whatsapp => "whatsapp",
            Provider::Slack => "slack",
            Provider::Teams => "teams",
        }
    }
}

/// One normalized provider event.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    /// A user wrote text.
    Message(InboundMessage),
    /// A delivery receipt for something we sent (WhatsApp `statuses`).
    Status(DeliveryStatus),
    /// Anything we do not act on (the bot's own messages, edits, joins…), with why.
    Ignored { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The provider's unique id of this event/message: the dedup key (WhatsApp `wamid`,
    /// Slack `event_id`, Teams activity `id`).
    pub event_id: String,
    /// Stable id of the user on the provider (WhatsApp `wa_id`, Slack user id, Teams `from.id`).
    pub user_id: String,
    /// What identifies the conversation thread on the provider; one Switchboard
    /// conversation per (channel account, thread_key). WhatsApp: the user's `wa_id`;
    /// Slack: `{channel}:{thread_ts or ts}`; Teams: `conversation.id`.
    pub thread_key: String,
    pub text: String,
    /// Everything the outbound side needs to reply in the right place, as provider JSON
    /// kept opaque to the core (WhatsApp: {"to": wa_id, "phone_number_id": …}; Slack:
    /// {"channel": …, "thread_ts": …}; Teams: {"service_url": …, "conversation_id": …,
    /// "activity_id": …, "bot_id": …, "conversation_type": "personal"|"channel"|"groupChat"}).
    pub reply_to: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryStatus {
    /// The provider id of our outbound message.
    pub provider_message_id: String,
    /// sent | delivered | read | failed
    pub status: String,
    pub recipient: String,
    /// Error title/code when failed.
    pub error: Option<String>,
}

/// A failed outbound call, classified so the sender knows whether to retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// 429: retry after this many milliseconds (from `Retry-After`, or a default).
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// 5xx, timeouts, connection failures: retry with backoff.
    #[error("transient failure: {0}")]
    Transient(String),
    /// 4xx other than 429, bad credentials, unknown recipient: do not retry.
    #[error("permanent failure: {0}")]
    Permanent(String),
}
