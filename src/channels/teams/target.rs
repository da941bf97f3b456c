//! Where a Teams reply goes: the typed form of the opaque `reply_to` JSON that
//! [`parse`](super::activity::parse) puts in every `InboundMessage` and the outbound
//! side hands back to [`ConnectorClient::send_activity`](super::connector::ConnectorClient::send_activity).
//! Serialising a `ReplyTarget` *is* how the `reply_to` value is built, so the two
//! directions cannot drift apart.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channels::inbound::SendError;

/// Conversation type of a 1:1 chat, the only one where Teams supports streaming.
pub const PERSONAL: &str = "personal";

/// Addressing data of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTarget {
    /// The activity's `serviceUrl` (regional Bot Connector endpoint).
    pub service_url: String,
    pub conversation_id: String,
    /// Id of the user's activity we answer (`replyToId`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// Our bot's channel account id (`recipient.id` of the inbound activity).
    pub bot_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_name: Option<String>,
    /// `personal`, `groupChat` or `channel`.
    #[serde(default = "personal")]
    pub conversation_type: String,
    /// The user's channel account (`from` of the inbound activity), used as `recipient`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// `tenant.id` / `conversation.tenantId`, echoed in `conversation` for Teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

fn personal() -> String {
    PERSONAL.to_owned()
}

impl ReplyTarget {
    /// Reads the `reply_to` JSON of an inbound message. A shape error is permanent: no
    /// retry can fix it.
    pub fn from_reply_to(value: &Value) -> Result<Self, SendError> {
        let target: Self = serde_json::from_value(value.clone())
            .map_err(|e| SendError::Permanent(format!("invalid Teams reply_to: {e}")))?;
        if target.service_url.is_empty() || target.conversation_id.is_empty() {
            return Err(SendError::Permanent(
                "invalid Teams reply_to: empty service_url or conversation_id".into(),
            ));
        }
        Ok(target)
    }

    /// The `reply_to` JSON for this target.
    pub fn to_reply_to(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether Teams streaming may be used here (1:1 chats only).
    pub fn is_personal(&self) -> bool {
        self.conversation_type.eq_ignore_ascii_case(PERSONAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip_and_defaults() {
        let v = json!({"service_url": "https://s/", "conversation_id": "a:1", "bot_id": "28:b"});
        let t = ReplyTarget::from_reply_to(&v).unwrap_or_else(|e| panic!("{e}"));
        assert!(t.is_personal());
        assert_eq!(t.activity_id, None);
        assert_eq!(ReplyTarget::from_reply_to(&t.to_reply_to()), Ok(t));
        assert!(matches!(
            ReplyTarget::from_reply_to(&json!({"conversation_id": "x"})),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            ReplyTarget::from_reply_to(
                &json!({"service_url": "", "conversation_id": "x", "bot_id": "b"})
            ),
            Err(SendError::Permanent(_))
        ));
    }
}
