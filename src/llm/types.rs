//! Backend-neutral request and response types of the LLM gateway. The chat runtime
//! builds a [`CompletionRequest`] from room history and consumes a [`TokenStream`];
//! neither side ever sees async-openai or HTTP types.

use std::pin::Pin;

use futures_util::Stream;

use super::LlmError;

/// Author of a prompt message, in OpenAI's chat vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The wire name (`"system"`, `"user"`, `"assistant"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of the prompt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat completion to run. `None` fields fall back to the gateway's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletionRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// The model to ask; `None` uses `llm.model` from the config.
    pub model: Option<String>,
    /// Who the call is charged to (metering); the default charges nobody in particular.
    pub origin: super::CallOrigin,
}

impl CompletionRequest {
    /// A request with the given messages and configured defaults for everything else.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }
}

/// Text fragments of a reply, in order. Ends after the last fragment; an `Err` item is
/// always the last item.
pub type TokenStream = Pin<Box<dyn Stream<Item = Result<String, LlmError>> + Send>>;
