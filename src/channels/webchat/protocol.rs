//! Frames of web chat protocol v1: parsing what clients send, serialising what the server
//! sends. Every malformed frame maps to a [`FrameError`] with a stable code, never a panic.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::errors::{ErrorCode, FrameError};
use crate::bus::BusEvent;
use crate::transcript::ConversationEvent;

/// Longest accepted `client_id`.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Hello(Hello),
    Message {
        client_id: String,
        text: String,
    },
    /// The visitor is typing (shown to a human agent who has the conversation).
    Typing,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hello {
    pub tenant: String,
    #[serde(default)]
    pub visitor_token: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
    #[serde(default)]
    pub last_seq: Option<i64>,
    /// A JWT from the tenant's backend naming the visitor (`Switchboard.identify`).
    #[serde(default)]
    pub identity: Option<String>,
    /// A preview ticket from the admin API (the console's live widget on a draft): a new
    /// conversation runs that preview of the flow instead of its active version.
    #[serde(default)]
    pub preview: Option<String>,
}

#[derive(Deserialize)]
struct MessageFrame {
    client_id: String,
    text: String,
}

/// Parses one text frame. `max_text_chars` bounds a message's text.
pub fn parse_client_frame(text: &str, max_text_chars: usize) -> Result<ClientFrame, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        FrameError::new(
            ErrorCode::InvalidJson,
            format!("the frame is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(object) = &value else {
        return Err(FrameError::new(
            ErrorCode::InvalidFrame,
            "a frame must be a JSON object",
        ));
    };
    let client_id = object.get("client_id").and_then(Value::as_str);
    if crate::transcript::has_nul(&value) {
        // Refused here, for both stores alike: PostgreSQL cannot store U+0000.
        let client_id = client_id.filter(|id| !id.contains('\0'));
        return Err(
            FrameError::new(ErrorCode::InvalidText, crate::transcript::NUL_REFUSED)
                .with_client_id(client_id),
        );
    }
    let kind = match object.get("type") {
        None => {
            return Err(FrameError::new(
                ErrorCode::MissingField,
                "missing field `type`",
            ));
        }
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => {
            return Err(FrameError::new(
                ErrorCode::InvalidField,
                "`type` must be a string",
            ));
        }
    };
    match kind {
        "hello" => {
            let hello: Hello = serde_json::from_value(value.clone()).map_err(field_error)?;
            if hello.tenant.trim().is_empty() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "`tenant` must not be empty",
                ));
            }
            if hello.last_seq.is_some_and(|seq| seq < 0) {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "`last_seq` must not be negative",
                ));
            }
            Ok(ClientFrame::Hello(hello))
        }
        "message" => {
            let frame: MessageFrame = serde_json::from_value(value.clone())
                .map_err(|e| field_error(e).with_client_id(client_id))?;
            if frame.client_id.is_empty() || frame.client_id.len() > MAX_CLIENT_ID_LEN {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    format!("`client_id` must be 1 to {MAX_CLIENT_ID_LEN} bytes"),
                )
                .with_client_id(client_id));
            }
            if frame.text.trim().is_empty() {
                return Err(
                    FrameError::new(ErrorCode::InvalidField, "`text` must not be empty")
                        .with_client_id(client_id),
                );
            }
            let chars = frame.text.chars().count();
            if chars > max_text_chars {
                return Err(FrameError::new(
                    ErrorCode::TextTooLong,
                    format!("`text` has {chars} characters; the limit is {max_text_chars}"),
                )
                .with_client_id(client_id));
            }
            Ok(ClientFrame::Message {
                client_id: frame.client_id,
                text: frame.text,
            })
        }
        "typing" => Ok(ClientFrame::Typing),
        other => Err(FrameError::new(
            ErrorCode::UnknownType,
            format!("unknown frame type `{other}`; expected `hello`, `message` or `typing`"),
        )
        .with_client_id(client_id)),
    }
}

fn field_error(error: serde_json::Error) -> FrameError {
    let message = error.to_string();
    let code = if message.starts_with("missing field") {
        ErrorCode::MissingField
    } else {
        ErrorCode::InvalidField
    };
    FrameError::new(code, message)
}

/// A frame to the client.
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    #[serde(rename = "welcome")]
    Welcome {
        conversation_id: &'a str,
        visitor_token: &'a str,
        last_seq: i64,
        /// `active`, `handoff` or `ended`.
        status: &'a str,
    },
    #[serde(rename = "ack")]
    Ack {
        client_id: &'a str,
        message_id: &'a str,
        seq: i64,
    },
    #[serde(rename = "message")]
    Message {
        message_id: &'a str,
        seq: i64,
        role: crate::transcript::Role,
        text: &'a str,
        created_at: i64,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        choices: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<ConversationEvent>,
        /// User messages typed in the web chat: the `client_id` they were sent with.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        /// Bot replies from a knowledge base: their sources, as `{title, url}`.
        #[serde(
            skip_serializing_if = "<[crate::transcript::Citation]>::is_empty",
            serialize_with = "public_citations"
        )]
        citations: &'a [crate::transcript::Citation],
    },
    #[serde(rename = "reply.delta")]
    Delta {
        message_id: &'a str,
        offset: usize,
        text: &'a str,
    },
    #[serde(rename = "error")]
    Error {
        code: ErrorCode,
        message: &'a str,
        client_id: Option<&'a str>,
    },
    /// A human agent is typing.
    #[serde(rename = "typing")]
    Typing {
        role: crate::transcript::Role,
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<&'a str>,
    },
}

/// A visitor sees a source's title and link, not the tenant's knowledge base names.
fn public_citations<S: serde::Serializer>(
    citations: &&[crate::transcript::Citation],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(citations.len()))?;
    for citation in citations.iter() {
        seq.serialize_element(&serde_json::json!({
            "title": citation.title,
            "url": citation.url,
        }))?;
    }
    seq.end()
}

impl<'a> ServerFrame<'a> {
    /// The frame of a bus event; `None` for bus signals that are not frames, and for an
    /// agent's private notes, which a visitor never sees (their seq is skipped).
    pub fn event(event: &'a BusEvent) -> Option<Self> {
        Some(match event {
            BusEvent::Message(message) if message.role == crate::transcript::Role::Note => {
                return None;
            }
            // The visitor's own typing is not echoed to them.
            BusEvent::Typing { role, author } if *role == crate::transcript::Role::Agent => {
                ServerFrame::Typing {
                    role: *role,
                    author: author.as_deref(),
                }
            }
            BusEvent::Message(message) => ServerFrame::Message {
                message_id: &message.message_id,
                seq: message.seq,
                role: message.role,
                text: &message.text,
                created_at: message.created_at,
                choices: &message.meta.choices,
                author: message.meta.author.as_deref(),
                event: message.meta.event,
                client_id: message.meta.client_id.as_deref(),
                citations: &message.meta.citations,
            },
            BusEvent::Delta {
                message_id,
                offset,
                text,
            } => ServerFrame::Delta {
                message_id,
                offset: *offset,
                text,
            },
            BusEvent::Resync | BusEvent::Typing { .. } => return None,
        })
    }

    pub fn error(error: &'a FrameError) -> Self {
        ServerFrame::Error {
            code: error.code,
            message: &error.message,
            client_id: error.client_id.as_deref(),
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse_client_frame(text, 10).unwrap_err().code.as_str()
    }

    #[test]
    fn nul_anywhere_is_invalid_text() {
        let error = parse_client_frame(
            r#"{"type":"message","client_id":"c1","text":"a\u0000b"}"#,
            10,
        )
        .unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_text");
        assert_eq!(error.client_id.as_deref(), Some("c1"));
        assert_eq!(
            code(r#"{"type":"hello","tenant":"de\u0000mo"}"#),
            "invalid_text"
        );
    }

    #[test]
    fn parses_valid_frames() {
        assert_eq!(
            parse_client_frame(r#"{"type":"hello","tenant":"demo"}"#, 10).unwrap(),
            ClientFrame::Hello(Hello {
                tenant: "demo".into(),
                visitor_token: None,
                conversation_id: None,
                last_seq: None,
                identity: None,
                preview: None,
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"message","client_id":"c1","text":"héllo"}"#, 5).unwrap(),
            ClientFrame::Message {
                client_id: "c1".into(),
                text: "héllo".into()
            }
        );
    }

    #[test]
    fn maps_bad_frames_to_codes() {
        assert_eq!(code("{nope"), "invalid_json");
        assert_eq!(code("[1,2]"), "invalid_frame");
        assert_eq!(code(r#"{"tenant":"x"}"#), "missing_field");
        assert_eq!(code(r#"{"type":7}"#), "invalid_field");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_type");
        assert_eq!(code(r#"{"type":"hello"}"#), "missing_field");
        assert_eq!(
            code(r#"{"type":"hello","tenant":"t","last_seq":-1}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"type":"message","client_id":"c"}"#),
            "missing_field"
        );
        assert_eq!(
            code(r#"{"type":"message","client_id":"c","text":5}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"type":"message","client_id":"c","text":"   "}"#),
            "invalid_field"
        );
        let long = parse_client_frame(
            r#"{"type":"message","client_id":"c","text":"12345678901"}"#,
            10,
        )
        .unwrap_err();
        assert_eq!(long.code, ErrorCode::TextTooLong);
        assert_eq!(long.client_id.as_deref(), Some("c"));
    }

    #[test]
    fn serialises_frames_as_documented() {
        let delta = BusEvent::Delta {
            message_id: "m1".into(),
            offset: 3,
            text: "lo".into(),
        };
        assert_eq!(
            ServerFrame::event(&delta).unwrap().to_json(),
            r#"{"type":"reply.delta","message_id":"m1","offset":3,"text":"lo"}"#
        );
        let question = BusEvent::Message(crate::transcript::Message {
            seq: 4,
            message_id: "m4".into(),
            role: crate::transcript::Role::Bot,
            text: "Billing or technical?".into(),
            created_at: 1_700_000_000_000,
            meta: crate::transcript::MessageMeta {
                choices: vec!["billing".into(), "technical".into()],
                ..crate::transcript::MessageMeta::NONE
            },
        });
        assert_eq!(
            ServerFrame::event(&question).unwrap().to_json(),
            r#"{"type":"message","message_id":"m4","seq":4,"role":"bot","text":"Billing or technical?","created_at":1700000000000,"choices":["billing","technical"]}"#
        );
        // An agent's private note is never a frame for the visitor.
        let note = BusEvent::Message(crate::transcript::Message {
            seq: 5,
            message_id: "m5".into(),
            role: crate::transcript::Role::Note,
            text: "VIP".into(),
            created_at: 1_700_000_000_000,
            meta: Default::default(),
        });
        assert!(ServerFrame::event(&note).is_none());
        let err = FrameError::new(ErrorCode::RateLimited, "slow down");
        assert_eq!(
            ServerFrame::error(&err).to_json(),
            r#"{"type":"error","code":"rate_limited","message":"slow down","client_id":null}"#
        );
    }
}
