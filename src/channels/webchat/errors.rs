//! The public error codes of web chat protocol v1 (docs/protocol.md, "Error codes"),
//! and [`FrameError`], the `error` frame that carries one.
//!
//! Every code the server can send is a variant of [`ErrorCode`]; the turn errors of the
//! conversation layer map to codes in one place, with an exhaustive match, so a new
//! turn error forces a decision here.

use serde::Serialize;

use super::identity::IdentityError;
use crate::turn::TurnError;

/// A code of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidFrame,
    MissingField,
    InvalidField,
    UnknownType,
    UnsupportedFrame,
    TextTooLong,
    InvalidText,
    HelloRequired,
    AlreadyJoined,
    UnknownTenant,
    ClusterUnavailable,
    InvalidVisitorToken,
    InvalidIdentity,
    IdentityExpired,
    ConversationNotFound,
    ResumeGap,
    RateLimited,
    ConversationEnded,
    NotAvailable,
    Unavailable,
    HelloTimeout,
    OriginNotAllowed,
    InvalidPreview,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::TextTooLong => "text_too_long",
            ErrorCode::InvalidText => "invalid_text",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::UnknownTenant => "unknown_tenant",
            ErrorCode::ClusterUnavailable => "cluster_unavailable",
            ErrorCode::InvalidVisitorToken => "invalid_visitor_token",
            ErrorCode::InvalidIdentity => "invalid_identity",
            ErrorCode::IdentityExpired => "identity_expired",
            ErrorCode::ConversationNotFound => "conversation_not_found",
            ErrorCode::ResumeGap => "resume_gap",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ConversationEnded => "conversation_ended",
            ErrorCode::NotAvailable => "not_available",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::HelloTimeout => "hello_timeout",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::InvalidPreview => "invalid_preview",
        }
    }

    /// The code a client gets when its message could not be taken in.
    pub fn of_turn(error: &TurnError) -> Self {
        match error {
            TurnError::Store
            | TurnError::Unavailable
            | TurnError::NotInHumanMode
            | TurnError::NoSuchState
            | TurnError::NotRunning
            | TurnError::Moved => ErrorCode::Unavailable,
            TurnError::ClusterUnavailable => ErrorCode::ClusterUnavailable,
            TurnError::NotFound => ErrorCode::ConversationNotFound,
            TurnError::Ended => ErrorCode::ConversationEnded,
        }
    }
}

/// A frame the server refuses or an operation that failed; sent as an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub client_id: Option<String>,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            client_id: None,
        }
    }

    /// The same error, about the message with this client id.
    pub fn for_client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    pub(super) fn with_client_id(mut self, client_id: Option<&str>) -> Self {
        self.client_id = client_id.map(str::to_owned);
        self
    }

    /// The answer to a message the conversation did not take.
    pub fn of_turn(error: &TurnError, client_id: String) -> Self {
        let message = match error {
            TurnError::Ended => error.to_string(),
            _ => format!("{error}; resend it with the same client_id"),
        };
        FrameError::new(ErrorCode::of_turn(error), message).for_client(client_id)
    }

    /// An identity token the tenant's secret does not vouch for.
    pub fn of_identity(error: &IdentityError) -> Self {
        FrameError::new(error.code(), error.to_string())
    }

    /// The service is busy or failing; the client retries.
    pub fn unavailable() -> Self {
        FrameError::new(
            ErrorCode::Unavailable,
            "the service is temporarily unavailable; retry shortly",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_documented() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::ConversationNotFound,
            ErrorCode::OriginNotAllowed,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
        let error = FrameError::of_turn(&TurnError::ClusterUnavailable, "c1".into());
        assert_eq!(error.code.as_str(), "cluster_unavailable");
        assert_eq!(error.client_id.as_deref(), Some("c1"));
    }
}
