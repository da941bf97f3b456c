//! Prompt assembly: the model request for a flow's `llm` turn.
//!
//! One function builds it, for the conversation actor and for simulation alike, so a
//! simulated turn sends the model exactly what a live one would: the state's system
//! prompt, the recent transcript before the user message being answered, then the
//! rendered prompt.

use std::collections::VecDeque;

use super::{ChatMessage, CompletionRequest, Role as LlmRole};
use crate::dialog::LlmTurn;
use crate::transcript::{Message, Role};

/// The chat messages sent to the model for `turn`, answering the user message at
/// `answering_seq`, with `history` the recent transcript (oldest first).
pub fn completion_request(
    turn: &LlmTurn,
    history: &VecDeque<Message>,
    answering_seq: i64,
    model: Option<String>,
) -> CompletionRequest {
    let mut messages = Vec::new();
    if let Some(system) = turn.system.as_deref().filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage::system(system));
    }
    let earlier: Vec<&Message> = history
        .iter()
        .filter(|m| m.seq < answering_seq && matches!(m.role, Role::User | Role::Bot | Role::Agent))
        .collect();
    let skip = earlier.len().saturating_sub(turn.history);
    for message in earlier.into_iter().skip(skip) {
        messages.push(ChatMessage {
            role: if message.role == Role::User {
                LlmRole::User
            } else {
                LlmRole::Assistant
            },
            content: message.text.clone(),
        });
    }
    messages.push(ChatMessage::user(turn.prompt.clone()));
    CompletionRequest {
        messages,
        max_tokens: turn.max_tokens,
        temperature: turn.temperature,
        model: turn.model.clone().or(model),
        origin: Default::default(),
    }
}
