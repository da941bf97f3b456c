//! Outbound Bot Framework activities. An [`OutboundActivity`] holds the content part
//! (`type`, `text`, `entities`); addressing (`from`, `recipient`, `conversation`,
//! `replyToId`) is added from a [`ReplyTarget`] when it is sent, as in the "Send and
//! receive messages" REST docs:
//! `{"type":"message","from":{"id":bot,"name":…},"conversation":{"id":…},
//! "recipient":{"id":user,…},"text":…,"replyToId":…}`.

use serde_json::{Map, Value, json};

use super::target::ReplyTarget;

/// One activity to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundActivity {
    body: Map<String, Value>,
}

impl OutboundActivity {
    /// A plain text message.
    pub fn message(text: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("type".into(), json!("message"));
        body.insert("text".into(), Value::String(text.into()));
        Self { body }
    }

    /// A typing indicator.
    pub fn typing() -> Self {
        let mut body = Map::new();
        body.insert("type".into(), json!("typing"));
        Self { body }
    }

    /// Sets `text` (streaming updates are typing activities with text).
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.body.insert("text".into(), Value::String(text.into()));
        self
    }

    /// Appends one entity (e.g. a `streaminfo`).
    pub fn with_entity(mut self, entity: Value) -> Self {
        match self.body.get_mut("entities") {
            Some(Value::Array(list)) => list.push(entity),
            _ => {
                self.body
                    .insert("entities".into(), Value::Array(vec![entity]));
            }
        }
        self
    }

    /// The activity `type`.
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The activity `text`, if any.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text").and_then(Value::as_str)
    }

    /// The first `streaminfo` entity, if any.
    pub fn stream_info(&self) -> Option<&Value> {
        self.body
            .get("entities")?
            .as_array()?
            .iter()
            .find(|e| e.get("type").and_then(Value::as_str) == Some("streaminfo"))
    }

    /// The content without addressing.
    pub fn content(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The full JSON body sent to the connector for `target`.
    pub fn to_json(&self, target: &ReplyTarget) -> Value {
        let mut body = self.body.clone();
        let mut from = Map::new();
        from.insert("id".into(), Value::String(target.bot_id.clone()));
        if let Some(name) = &target.bot_name {
            from.insert("name".into(), Value::String(name.clone()));
        }
        body.insert("from".into(), Value::Object(from));
        let mut conversation = Map::new();
        conversation.insert("id".into(), Value::String(target.conversation_id.clone()));
        conversation.insert(
            "conversationType".into(),
            Value::String(target.conversation_type.clone()),
        );
        if let Some(tenant) = &target.tenant_id {
            conversation.insert("tenantId".into(), Value::String(tenant.clone()));
        }
        body.insert("conversation".into(), Value::Object(conversation));
        if let Some(user) = &target.user_id {
            let mut recipient = Map::new();
            recipient.insert("id".into(), Value::String(user.clone()));
            if let Some(name) = &target.user_name {
                recipient.insert("name".into(), Value::String(name.clone()));
            }
            body.insert("recipient".into(), Value::Object(recipient));
        }
        if let Some(id) = &target.activity_id {
            body.insert("replyToId".into(), Value::String(id.clone()));
        }
        Value::Object(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_addressing() {
        let target = ReplyTarget {
            service_url: "https://smba.trafficmanager.net/amer/".into(),
            conversation_id: "a:1".into(),
            activity_id: Some("act-1".into()),
            bot_id: "28:bot".into(),
            bot_name: Some("Helper".into()),
            conversation_type: "personal".into(),
            user_id: Some("29:user".into()),
            user_name: None,
            tenant_id: None,
        };
        let v = OutboundActivity::message("hi").to_json(&target);
        assert_eq!(
            v,
            json!({"type": "message", "text": "hi",
                   "from": {"id": "28:bot", "name": "Helper"},
                   "conversation": {"id": "a:1", "conversationType": "personal"},
                   "recipient": {"id": "29:user"},
                   "replyToId": "act-1"})
        );
        let t = OutboundActivity::typing();
        assert_eq!(t.kind(), "typing");
        assert_eq!(t.text(), None);
        let s = t
            .with_entity(json!({"type": "other"}))
            .with_entity(json!({"type": "streaminfo", "streamSequence": 1}));
        assert_eq!(
            s.stream_info(),
            Some(&json!({"type": "streaminfo", "streamSequence": 1}))
        );
    }
}
