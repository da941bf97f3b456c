//! Parsing of inbound Bot Framework activities (the JSON body the Bot Connector POSTs to
//! the bot's messaging endpoint) into the shared [`InboundEvent`]. Only user `message`
//! activities with text become messages: `<at>…</at>` mentions of the bot are removed,
//! other mentions keep just the name. Everything else (`conversationUpdate`, `typing`,
//! `messageReaction`, `invoke`, the bot's own messages, attachments-only messages…) is
//! `Ignored` with a reason. The `serviceUrl` is returned alongside the event because
//! the JWT check needs it even for ignored activities.

use serde_json::{Map, Value};

use super::target::{PERSONAL, ReplyTarget};
use crate::channels::inbound::{InboundEvent, InboundMessage};

/// An activity with the `serviceUrl` its token must be checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedActivity {
    pub service_url: String,
    pub event: InboundEvent,
}

/// The body is not a Bot Framework activity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("activity is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("activity is not a JSON object")]
    NotAnObject,
    #[error("activity lacks required field {0}")]
    MissingField(&'static str),
}

/// Parses one activity body.
pub fn parse(raw_body: &[u8]) -> Result<ParsedActivity, ParseError> {
    let value: Value =
        serde_json::from_slice(raw_body).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    let activity = value.as_object().ok_or(ParseError::NotAnObject)?;
    let kind = str_at(activity, &["type"]).ok_or(ParseError::MissingField("type"))?;
    let service_url = str_at(activity, &["serviceUrl"])
        .filter(|s| !s.is_empty())
        .ok_or(ParseError::MissingField("serviceUrl"))?
        .to_owned();
    let event = match kind {
        "message" => message_event(activity, &service_url)?,
        other => ignored(match other {
            "conversationUpdate" => "conversationUpdate (members added/removed)".to_owned(),
            "typing" => "typing indicator".to_owned(),
            "messageReaction" => "message reaction".to_owned(),
            "invoke" => "invoke activity (cards, task modules, …)".to_owned(),
            _ => format!(
                "unsupported activity type {:?}",
                super::http::truncate(other, 40)
            ),
        }),
    };
    Ok(ParsedActivity { service_url, event })
}

fn message_event(
    activity: &Map<String, Value>,
    service_url: &str,
) -> Result<InboundEvent, ParseError> {
    let id = str_at(activity, &["id"]).ok_or(ParseError::MissingField("id"))?;
    let from_id = str_at(activity, &["from", "id"]).ok_or(ParseError::MissingField("from.id"))?;
    let conversation_id = str_at(activity, &["conversation", "id"])
        .ok_or(ParseError::MissingField("conversation.id"))?;
    let bot_id =
        str_at(activity, &["recipient", "id"]).ok_or(ParseError::MissingField("recipient.id"))?;
    if from_id == bot_id {
        return Ok(ignored("message from the bot itself".into()));
    }
    let bot_name = str_at(activity, &["recipient", "name"]);
    let raw_text = str_at(activity, &["text"]).unwrap_or("");
    let text = strip_mentions(raw_text, bot_id, bot_name, activity.get("entities"));
    if text.is_empty() {
        return Ok(ignored("message without text".into()));
    }
    let target = ReplyTarget {
        service_url: service_url.to_owned(),
        conversation_id: conversation_id.to_owned(),
        activity_id: Some(id.to_owned()),
        bot_id: bot_id.to_owned(),
        bot_name: bot_name.map(str::to_owned),
        conversation_type: str_at(activity, &["conversation", "conversationType"])
            .filter(|t| !t.is_empty())
            .unwrap_or(PERSONAL)
            .to_owned(),
        user_id: Some(from_id.to_owned()),
        user_name: str_at(activity, &["from", "name"]).map(str::to_owned),
        tenant_id: str_at(activity, &["conversation", "tenantId"])
            .or_else(|| str_at(activity, &["channelData", "tenant", "id"]))
            .map(str::to_owned),
    };
    Ok(InboundEvent::Message(InboundMessage {
        event_id: id.to_owned(),
        user_id: from_id.to_owned(),
        thread_key: conversation_id.to_owned(),
        text,
        reply_to: target.to_reply_to(),
    }))
}

/// Removes mentions of the bot (the `text` of `mention` entities naming `bot_id`, and
/// `<at>{bot_name}</at>`), unwraps other `<at>` tags, and trims.
pub fn strip_mentions(
    text: &str,
    bot_id: &str,
    bot_name: Option<&str>,
    entities: Option<&Value>,
) -> String {
    let mut out = text.to_owned();
    let mentions = entities.and_then(Value::as_array).into_iter().flatten();
    for entity in mentions {
        let is_bot_mention = entity.get("type").and_then(Value::as_str) == Some("mention")
            && entity.pointer("/mentioned/id").and_then(Value::as_str) == Some(bot_id);
        if let (true, Some(mention_text)) =
            (is_bot_mention, entity.get("text").and_then(Value::as_str))
            && !mention_text.is_empty()
        {
            out = out.replace(mention_text, "");
        }
    }
    if let Some(name) = bot_name.filter(|n| !n.is_empty()) {
        out = out.replace(&format!("<at>{name}</at>"), "");
    }
    out.replace("<at>", "")
        .replace("</at>", "")
        .trim()
        .to_owned()
}

fn ignored(reason: String) -> InboundEvent {
    InboundEvent::Ignored { reason }
}

fn str_at<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (first, rest) = path.split_first()?;
    let mut cur = obj.get(*first)?;
    for key in rest {
        cur = cur.get(*key)?;
    }
    cur.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mention_stripping() {
        let ents = json!([
            {"type": "mention", "text": "<at>Helper Bot</at>", "mentioned": {"id": "28:b", "name": "Helper Bot"}},
            {"type": "mention", "text": "<at>Ann</at>", "mentioned": {"id": "29:ann", "name": "Ann"}}
        ]);
        assert_eq!(
            strip_mentions(
                "<at>Helper Bot</at> ask <at>Ann</at> please ",
                "28:b",
                None,
                Some(&ents)
            ),
            "ask Ann please"
        );
        assert_eq!(
            strip_mentions("<at>Helper</at> hi", "28:b", Some("Helper"), None),
            "hi"
        );
        assert_eq!(
            strip_mentions("<at>Helper</at>", "28:b", Some("Helper"), None),
            ""
        );
        assert_eq!(
            strip_mentions("plain", "28:b", None, Some(&json!("junk"))),
            "plain"
        );
    }
}
