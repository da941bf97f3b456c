//! Anthropic's Messages API, natively: `POST {base_url}/messages` with `x-api-key` and
//! `anthropic-version`, streamed as server-sent events (`message_start` with the input
//! tokens, `content_block_delta` text, `message_delta` with the output tokens,
//! `message_stop`, and `error` events mid-stream). Extraction asks for one forced tool
//! call whose `input_schema` is the slots' schema, and returns the tool's input.
//!
//! Like the OpenAI-compatible backend it makes exactly one attempt: retrying and falling
//! back are the gateway's.

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::error::{chain, truncate_message};
use super::provider::{BoxFuture, Provider, check_endpoint};
use super::usage::{Usage, UsageSlot};
use super::{CompletionRequest, LlmError, Role, TokenStream};
use crate::config::ProviderConfig;

/// The API version this backend speaks.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Longest upstream-provided text we copy into an error message.
const MAX_ERROR_CHARS: usize = 500;

pub(crate) struct AnthropicProvider {
    http: reqwest::Client,
    url: String,
    api_key: String,
    max_tokens: u32,
    temperature: f32,
}

impl AnthropicProvider {
    pub(crate) fn new(
        cfg: &ProviderConfig,
        key: &str,
        http: reqwest::Client,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<Self, LlmError> {
        check_endpoint(key, &cfg.base_url, &cfg.api_key)?;
        Ok(Self {
            http,
            url: format!("{}/messages", cfg.base_url.trim().trim_end_matches('/')),
            api_key: cfg.api_key.clone(),
            max_tokens,
            temperature,
        })
    }

    /// The request body: system messages joined into `system`, the rest as alternating
    /// turns (consecutive turns of one role merged; a leading assistant turn gets a user
    /// turn before it, since the API wants the user to speak first). Temperatures above
    /// Anthropic's maximum of 1 are clamped.
    fn body(&self, req: &CompletionRequest, model: &str) -> Value {
        let system: Vec<&str> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let mut turns: Vec<(&str, String)> = Vec::new();
        for message in req.messages.iter().filter(|m| m.role != Role::System) {
            let role = if message.role == Role::User {
                "user"
            } else {
                "assistant"
            };
            match turns.last_mut() {
                Some((last, text)) if *last == role => {
                    text.push_str("\n\n");
                    text.push_str(&message.content);
                }
                _ => turns.push((role, message.content.clone())),
            }
        }
        if turns.first().is_none_or(|(role, _)| *role != "user") {
            turns.insert(0, ("user", "(The conversation starts.)".into()));
        }
        let mut body = json!({
            "model": model,
            "max_tokens": req.max_tokens.unwrap_or(self.max_tokens),
            "temperature": req.temperature.unwrap_or(self.temperature).clamp(0.0, 1.0),
            "messages": turns
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect::<Vec<_>>(),
        });
        if !system.is_empty() {
            body["system"] = Value::String(system.join("\n\n"));
        }
        body
    }

    async fn send(&self, body: &Value) -> Result<reqwest::Response, LlmError> {
        let response = self
            .http
            .post(&self.url)
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(body)
            .send()
            .await
            .map_err(|e| LlmError::Transport(chain(&e)))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_response(response).await)
        }
    }

    async fn open(
        &self,
        req: &CompletionRequest,
        model: &str,
        usage: UsageSlot,
    ) -> Result<TokenStream, LlmError> {
        let mut body = self.body(req, model);
        body["stream"] = Value::Bool(true);
        let response = self.send(&body).await?;
        Ok(text_fragments(response, usage))
    }

    async fn json(
        &self,
        req: &CompletionRequest,
        model: &str,
        schema: &Value,
        usage: &UsageSlot,
    ) -> Result<String, LlmError> {
        let mut body = self.body(req, model);
        body["tools"] = json!([{
            "name": "extraction",
            "description": "Values extracted from the user's message",
            "input_schema": schema,
        }]);
        body["tool_choice"] = json!({"type": "tool", "name": "extraction"});
        let response = self.send(&body).await?;
        let message: Value = response
            .json()
            .await
            .map_err(|e| LlmError::Protocol(format!("invalid message JSON: {e}")))?;
        if let Some(reported) = message.get("usage") {
            usage.set(usage_of(reported, 0));
        }
        let blocks = message["content"].as_array().cloned().unwrap_or_default();
        if let Some(tool) = blocks.iter().find(|b| b["type"] == "tool_use") {
            return Ok(tool["input"].to_string());
        }
        // No tool call: the text itself may be the object.
        blocks
            .iter()
            .find(|b| b["type"] == "text")
            .and_then(|b| b["text"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| LlmError::Protocol("the message has no tool call or text".into()))
    }
}

impl Provider for AnthropicProvider {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn stream<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        usage: UsageSlot,
    ) -> BoxFuture<'a, Result<TokenStream, LlmError>> {
        Box::pin(self.open(req, model, usage))
    }

    fn complete_json<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        schema: &'a Value,
        usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        Box::pin(self.json(req, model, schema, usage))
    }
}

/// Input tokens as Anthropic counts them: uncached, plus written to and read from the
/// prompt cache.
fn usage_of(reported: &Value, input_so_far: u64) -> Usage {
    let n = |key: &str| reported.get(key).and_then(Value::as_u64).unwrap_or(0);
    let input = n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens");
    Usage {
        tokens_in: if input > 0 { input } else { input_so_far },
        tokens_out: n("output_tokens"),
    }
}

/// The SSE events of a streamed message as text fragments; usage to `usage` as it comes
/// (`message_start`, then each `message_delta`'s cumulative output tokens).
fn text_fragments(response: reqwest::Response, usage: UsageSlot) -> TokenStream {
    struct State<S> {
        events: S,
        usage: UsageSlot,
        input_tokens: u64,
        stopped: bool,
        done: bool,
    }
    let state = State {
        events: Box::pin(response.bytes_stream().eventsource()),
        usage,
        input_tokens: 0,
        stopped: false,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        while !st.done {
            let event = match st.events.next().await {
                Some(Ok(event)) => event,
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(LlmError::Transport(e.to_string())), st));
                }
                None => {
                    st.done = true;
                    if !st.stopped {
                        let msg = "the stream ended before message_stop";
                        return Some((Err(LlmError::Protocol(msg.into())), st));
                    }
                    return None;
                }
            };
            let data: Value = match serde_json::from_str(&event.data) {
                Ok(data) => data,
                Err(e) => {
                    st.done = true;
                    let msg = format!(
                        "invalid event data ({e}): {}",
                        truncate_message(&event.data, 200)
                    );
                    return Some((Err(LlmError::Protocol(msg)), st));
                }
            };
            match data["type"].as_str().unwrap_or(event.event.as_str()) {
                "message_start" => {
                    let reported = &data["message"]["usage"];
                    let start = usage_of(reported, 0);
                    st.input_tokens = start.tokens_in;
                    st.usage.set(start);
                }
                "content_block_delta" => {
                    let delta = &data["delta"];
                    if delta["type"] == "text_delta"
                        && let Some(text) = delta["text"].as_str()
                        && !text.is_empty()
                    {
                        return Some((Ok(text.to_owned()), st));
                    }
                }
                "message_delta" => {
                    st.usage.set(usage_of(&data["usage"], st.input_tokens));
                }
                "message_stop" => {
                    st.stopped = true;
                    st.done = true;
                }
                "error" => {
                    st.done = true;
                    let error = &data["error"];
                    let message = error["message"].as_str().unwrap_or("error event");
                    let status = match error["type"].as_str() {
                        Some("overloaded_error") => Some(529),
                        Some("api_error") => Some(500),
                        _ => None,
                    };
                    return Some((
                        Err(LlmError::Upstream {
                            status,
                            message: truncate_message(message, MAX_ERROR_CHARS),
                        }),
                        st,
                    ));
                }
                // ping, content_block_start, content_block_stop, and any new event type.
                _ => {}
            }
        }
        None
    }))
}

/// A non-2xx response as an error: Anthropic's `{"type":"error","error":{…}}` message
/// when there is one, and a 429 with its `Retry-After`.
async fn error_response(response: reqwest::Response) -> LlmError {
    let status = response.status().as_u16();
    let retry_after_ms = super::retry_after::parse(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            if body.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                body.clone()
            }
        });
    let message = truncate_message(&message, MAX_ERROR_CHARS);
    if status == 429 {
        LlmError::RateLimited {
            retry_after_ms,
            message,
        }
    } else {
        LlmError::Upstream {
            status: Some(status),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::llm::ChatMessage;

    fn provider() -> AnthropicProvider {
        let cfg = ProviderConfig {
            kind: "anthropic".into(),
            base_url: "http://127.0.0.1:1/v1/".into(),
            api_key: "k".into(),
            ..ProviderConfig::default()
        };
        let http = crate::llm::provider::http_client(Duration::from_secs(1)).unwrap();
        AnthropicProvider::new(&cfg, "llm.providers.claude", http, 64, 1.5).unwrap()
    }

    #[test]
    fn the_body_has_a_system_field_and_alternating_turns_starting_with_the_user() {
        let p = provider();
        assert_eq!(p.url, "http://127.0.0.1:1/v1/messages");
        let req = CompletionRequest::new(vec![
            ChatMessage::system("Be brief."),
            ChatMessage::assistant("Hi! How can I help?"),
            ChatMessage::user("my order"),
            ChatMessage::user("is late"),
        ]);
        let body = p.body(&req, "claude-test");
        assert_eq!(body["system"], "Be brief.");
        assert_eq!(body["model"], "claude-test");
        assert_eq!(body["max_tokens"], 64);
        assert_eq!(body["temperature"], 1.0, "clamped to Anthropic's range");
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(body["messages"][2]["content"], "my order\n\nis late");
    }

    #[test]
    fn usage_counts_cached_input_too() {
        let usage = usage_of(
            &json!({"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}),
            0,
        );
        assert_eq!(
            usage,
            Usage {
                tokens_in: 15,
                tokens_out: 7
            }
        );
        assert_eq!(usage_of(&json!({"output_tokens": 9}), 15).tokens_in, 15);
    }
}
