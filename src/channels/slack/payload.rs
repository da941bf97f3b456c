//! Parsing of verified Slack Events API bodies: the `url_verification` handshake and
//! `event_callback` envelopes carrying `message` / `app_mention` events, normalised to
//! [`InboundEvent`]s.
//!
//! Only messages a person wrote become `InboundEvent::Message`; everything else is
//! `Ignored` with the reason: events with a `subtype` (edits, deletions, joins,
//! `bot_message`, `file_share`, …), events with a `bot_id`, events by this app's own
//! bot user (from `authorizations`), events without `user`, other event types and
//! other envelope types (`app_rate_limited`, …).
//!
//! Error policy (as for WhatsApp): not JSON, not an object, no `type`, or a known
//! field of the wrong JSON type → [`ParseError`]; a well-typed event missing something
//! we need (`event_id`, `channel`, `ts`, text) → `Ignored`. Text is unescaped
//! (`&amp;`, `&lt;`, `&gt;`, the only entities Slack escapes) and a leading mention of
//! the bot is removed from `app_mention` text. Never panics.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::channels::inbound::{InboundEvent, InboundMessage};

/// Provider-controlled strings copied into `Ignored` reasons are cut to this length.
const MAX_REASON_FIELD: usize = 64;

/// A parsed Slack request body.
#[derive(Debug, Clone, PartialEq)]
pub enum SlackPayload {
    /// Endpoint registration: answer with `challenge` (as plain text or
    /// `{"challenge": …}`).
    UrlVerification { challenge: String },
    /// An event (or something to acknowledge and ignore). `team_id`/`api_app_id`
    /// identify the workspace and app for routing.
    Event {
        team_id: Option<String>,
        api_app_id: Option<String>,
        event: InboundEvent,
    },
}

/// Why a body could not be parsed. Safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Slack body is not valid JSON: {0}")]
    NotJson(String),
    #[error("Slack body does not have the Events API shape: {0}")]
    Shape(String),
    #[error("url_verification without a challenge")]
    MissingChallenge,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    team_id: Option<String>,
    api_app_id: Option<String>,
    event_id: Option<String>,
    #[serde(default)]
    event: Value,
    authorizations: Option<Vec<Authorization>>,
}

#[derive(Deserialize)]
struct Authorization {
    user_id: Option<String>,
    is_bot: Option<bool>,
}

/// The fields of `message` / `app_mention` events we use.
#[derive(Deserialize)]
struct MessageEvent {
    channel: Option<String>,
    user: Option<String>,
    text: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
    channel_type: Option<String>,
}

/// Parses a (signature-verified) Slack Events API request body.
pub fn parse(raw_body: &[u8]) -> Result<SlackPayload, ParseError> {
    let value: Value =
        serde_json::from_slice(raw_body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ParseError::Shape("top level is not an object".into()));
    }
    let envelope: Envelope =
        serde_json::from_value(value).map_err(|e| ParseError::Shape(e.to_string()))?;
    match envelope.kind.as_str() {
        "url_verification" => match envelope.challenge {
            Some(challenge) if !challenge.is_empty() => {
                Ok(SlackPayload::UrlVerification { challenge })
            }
            _ => Err(ParseError::MissingChallenge),
        },
        "event_callback" => {
            let event = callback_event(&envelope)?;
            Ok(SlackPayload::Event {
                team_id: envelope.team_id,
                api_app_id: envelope.api_app_id,
                event,
            })
        }
        other => Ok(SlackPayload::Event {
            event: ignored(format!("unsupported envelope type `{}`", truncate(other))),
            team_id: envelope.team_id,
            api_app_id: envelope.api_app_id,
        }),
    }
}

fn callback_event(envelope: &Envelope) -> Result<InboundEvent, ParseError> {
    let Some(event) = envelope.event.as_object() else {
        return Err(ParseError::Shape("event is not an object".into()));
    };
    let kind = match event.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        None | Some(Value::Null) => return Ok(ignored("event without type".into())),
        Some(_) => return Err(ParseError::Shape("event.type is not a string".into())),
    };
    if kind != "message" && kind != "app_mention" {
        return Ok(ignored(format!(
            "unsupported event type `{}`",
            truncate(kind)
        )));
    }
    match event.get("subtype") {
        None | Some(Value::Null) => {}
        Some(Value::String(sub)) => {
            return Ok(ignored(format!("message subtype `{}`", truncate(sub))));
        }
        Some(_) => return Ok(ignored("message with a subtype".into())),
    }
    if event.get("bot_id").is_some_and(|b| !b.is_null()) {
        return Ok(ignored("message from a bot".into()));
    }
    let message: MessageEvent = serde_json::from_value(envelope.event.clone())
        .map_err(|e| ParseError::Shape(e.to_string()))?;
    let Some(user) = non_empty(message.user) else {
        return Ok(ignored("event without user".into()));
    };
    let bot_user = bot_user_id(envelope);
    if bot_user == Some(user.as_str()) {
        return Ok(ignored("message from this app's bot user".into()));
    }
    let (Some(channel), Some(ts)) = (non_empty(message.channel), non_empty(message.ts)) else {
        return Ok(ignored("message event without channel or ts".into()));
    };
    let Some(event_id) = envelope.event_id.clone().filter(|id| !id.is_empty()) else {
        return Ok(ignored("event_callback without event_id".into()));
    };
    let raw_text = message.text.unwrap_or_default();
    let raw_text = if kind == "app_mention" {
        strip_leading_mention(&raw_text, bot_user)
    } else {
        &raw_text
    };
    let text = unescape(raw_text);
    if text.trim().is_empty() {
        return Ok(ignored("message without text".into()));
    }
    let explicit_thread = non_empty(message.thread_ts);
    // A direct message channel is one conversation, whatever the threads; elsewhere each
    // thread is one (a top-level message starts its own thread).
    let is_dm = message.channel_type.as_deref() == Some("im");
    let thread_key = match &explicit_thread {
        _ if is_dm => channel.clone(),
        Some(thread) => format!("{channel}:{thread}"),
        None => format!("{channel}:{ts}"),
    };
    // Replies go in the thread of the message (of its thread, when it is in one).
    let reply_to = json!({ "channel": channel, "thread_ts": explicit_thread.unwrap_or(ts) });
    Ok(InboundEvent::Message(InboundMessage {
        event_id,
        user_id: user,
        thread_key,
        text,
        reply_to,
    }))
}

/// The bot user this app acts as, if the envelope says (`authorizations[].is_bot`).
fn bot_user_id(envelope: &Envelope) -> Option<&str> {
    envelope
        .authorizations
        .as_deref()?
        .iter()
        .find(|a| a.is_bot == Some(true))?
        .user_id
        .as_deref()
        .filter(|id| !id.is_empty())
}

/// Removes a leading `<@U…>` / `<@U…|name>` mention and the whitespace after it. With
/// a known bot user id, only a mention of that user is removed.
fn strip_leading_mention<'a>(text: &'a str, bot_user: Option<&str>) -> &'a str {
    let Some(after) = text.trim_start().strip_prefix("<@") else {
        return text;
    };
    let Some(close) = after.find('>') else {
        return text;
    };
    let id = after[..close].split('|').next().unwrap_or_default();
    if id.is_empty() || bot_user.is_some_and(|bot| bot != id) {
        return text;
    }
    after[close + 1..].trim_start()
}

/// Reverses Slack's escaping of `&`, `<` and `>`. `&amp;` is handled last so
/// `&amp;lt;` becomes `&lt;`, not `<`.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn ignored(reason: String) -> InboundEvent {
    InboundEvent::Ignored { reason }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(MAX_REASON_FIELD) {
        Some((idx, _)) => &s[..idx],
        None => s,
    }
}
