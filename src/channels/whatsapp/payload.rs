//! Parsing of verified WhatsApp Cloud API webhook bodies into [`InboundEvent`]s.
//!
//! Meta batches: one POST holds `entry[]` (one per business account), each with
//! `changes[]`, each change carrying `messages[]`, `statuses[]` and/or `errors[]` for
//! one business phone number (`value.metadata.phone_number_id`, the route key that is
//! returned alongside every event). Changes whose `field` is not `messages` (account
//! and template updates, …) are skipped.
//!
//! Error policy: a body that is not JSON, is not a `whatsapp_business_account`
//! notification, or has a known field of the wrong JSON type is a [`ParseError`] (it
//! is not a Meta webhook). Items that are well-typed but unusable (a message without
//! `id`, a non-text message, a status without `id`) become `InboundEvent::Ignored`
//! with the reason, so one odd item never drops the rest of a batch. Parsing never
//! panics; serde_json's recursion limit bounds nesting.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::channels::inbound::{DeliveryStatus, InboundEvent, InboundMessage};

/// The `object` of every WhatsApp Cloud API notification.
const WHATSAPP_OBJECT: &str = "whatsapp_business_account";
/// Provider-controlled strings copied into `Ignored` reasons are cut to this length.
const MAX_REASON_FIELD: usize = 64;

/// Why a webhook body could not be parsed. Safe to log: carries no secrets, at most
/// serde's description of where the JSON went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON (or not UTF-8, or nested too deeply).
    #[error("webhook body is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but a known field has the wrong type or the top level is not an object.
    #[error("webhook body does not have the WhatsApp shape: {0}")]
    Shape(String),
    /// `object` is missing or is not `whatsapp_business_account`.
    #[error("webhook object is not `whatsapp_business_account`")]
    UnexpectedObject,
    /// A `messages` change carries events but no `metadata.phone_number_id` to route by.
    #[error("`messages` change without metadata.phone_number_id")]
    MissingPhoneNumberId,
}

#[derive(Deserialize)]
struct Envelope {
    object: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: Option<String>,
    /// Kept raw: only `messages` changes are typed, other fields have other shapes.
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    id: Option<String>,
    from: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<WaText>,
}

#[derive(Deserialize)]
struct WaText {
    body: Option<String>,
}

#[derive(Deserialize)]
struct WaStatus {
    id: Option<String>,
    status: Option<String>,
    recipient_id: Option<String>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct WaError {
    /// A number from Meta; some resellers send it as a string, so kept raw.
    #[serde(default)]
    code: Value,
    title: Option<String>,
}

/// Parses a (signature-verified) webhook body into `(phone_number_id, event)` pairs,
/// in payload order (per change: messages, then statuses, then change-level errors).
///
/// Text messages become `InboundEvent::Message` with `event_id` = wamid,
/// `user_id` = `thread_key` = sender `from`, and
/// `reply_to` = `{"to": from, "phone_number_id": …}`; other message types become
/// `Ignored` naming the type; `statuses[]` become `InboundEvent::Status`.
pub fn parse(raw_body: &[u8]) -> Result<Vec<(String, InboundEvent)>, ParseError> {
    let value: Value =
        serde_json::from_slice(raw_body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ParseError::Shape("top level is not an object".into()));
    }
    let envelope: Envelope =
        serde_json::from_value(value).map_err(|e| ParseError::Shape(e.to_string()))?;
    if envelope.object.as_deref() != Some(WHATSAPP_OBJECT) {
        return Err(ParseError::UnexpectedObject);
    }
    let mut out = Vec::new();
    for change in envelope.entry.into_iter().flat_map(|e| e.changes) {
        if change.field.as_deref() != Some("messages") {
            tracing::debug!(field = ?change.field, "skipping non-messages WhatsApp change");
            continue;
        }
        if !change.value.is_object() {
            return Err(ParseError::Shape("change value is not an object".into()));
        }
        let value: ChangeValue =
            serde_json::from_value(change.value).map_err(|e| ParseError::Shape(e.to_string()))?;
        parse_change(value, &mut out)?;
    }
    Ok(out)
}

fn parse_change(
    value: ChangeValue,
    out: &mut Vec<(String, InboundEvent)>,
) -> Result<(), ParseError> {
    if value.messages.is_empty() && value.statuses.is_empty() && value.errors.is_empty() {
        return Ok(());
    }
    let phone_number_id = value
        .metadata
        .and_then(|m| m.phone_number_id)
        .filter(|id| !id.is_empty())
        .ok_or(ParseError::MissingPhoneNumberId)?;
    for message in value.messages {
        out.push((
            phone_number_id.clone(),
            message_event(message, &phone_number_id),
        ));
    }
    for status in value.statuses {
        out.push((phone_number_id.clone(), status_event(status)));
    }
    for error in value.errors {
        let reason = format!("webhook error {}", describe_error(&error));
        out.push((phone_number_id.clone(), InboundEvent::Ignored { reason }));
    }
    Ok(())
}

fn message_event(message: WaMessage, phone_number_id: &str) -> InboundEvent {
    let (Some(id), Some(from)) = (non_empty(message.id), non_empty(message.from)) else {
        return ignored("message without id or from");
    };
    match message.kind.as_deref() {
        Some("text") => {}
        Some(other) => {
            return ignored(&format!(
                "unsupported message type `{}`",
                truncate(other, MAX_REASON_FIELD)
            ));
        }
        None => return ignored("message without type"),
    }
    let Some(text) = message.text.and_then(|t| t.body) else {
        return ignored("text message without text.body");
    };
    InboundEvent::Message(InboundMessage {
        event_id: id,
        user_id: from.clone(),
        thread_key: from.clone(),
        text,
        reply_to: json!({ "to": from, "phone_number_id": phone_number_id }),
    })
}

fn status_event(status: WaStatus) -> InboundEvent {
    let (Some(id), Some(state)) = (non_empty(status.id), non_empty(status.status)) else {
        return ignored("status without id or status");
    };
    InboundEvent::Status(DeliveryStatus {
        provider_message_id: id,
        status: state,
        recipient: status.recipient_id.unwrap_or_default(),
        error: status.errors.first().map(describe_error),
    })
}

/// `"<code>: <title>"`, or whichever half is present.
fn describe_error(error: &WaError) -> String {
    let code = match &error.code {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    match (code, error.title.as_deref().filter(|t| !t.is_empty())) {
        (Some(code), Some(title)) => format!("{code}: {title}"),
        (Some(code), None) => code,
        (None, Some(title)) => title.to_owned(),
        (None, None) => "unknown error".to_owned(),
    }
}

fn ignored(reason: &str) -> InboundEvent {
    InboundEvent::Ignored {
        reason: reason.to_owned(),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((idx, _)) => &s[..idx],
        None => s,
    }
}
