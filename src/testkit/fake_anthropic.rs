//! A fake Anthropic Messages API: a real HTTP server on 127.0.0.1 that answers
//! `POST /v1/messages` as Anthropic does. Streamed, it sends the named SSE events
//! (`message_start` with the input tokens, `content_block_start`, `ping`, one
//! `content_block_delta` per token, `content_block_stop`, `message_delta` with the output
//! tokens, `message_stop`); not streamed, a `message` whose content is a `tool_use` block
//! when the request forces a tool (extraction) or a text block. Errors use Anthropic's
//! `{"type":"error","error":{"type","message"}}` body. It checks `x-api-key` and
//! `anthropic-version` like the real API (401 / 400).
//! [`FakeAnthropic::reported_usage`] lists the usage it reported.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::server::{FakeServer, json_response, lock, set_retry_after};

/// What the fake does with the next request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnthropicBehaviour {
    /// Answer with `tokens` (streamed with `gap` before each, or as one message).
    Reply { tokens: Vec<String>, gap: Duration },
    /// This HTTP status with an error body of `error_type` (e.g. `overloaded_error`, 529)
    /// and, when given, `Retry-After` seconds.
    Error {
        status: u16,
        error_type: String,
        retry_after_secs: Option<u64>,
    },
    /// Stream the first `after` tokens, then an `error` event (`overloaded_error`).
    ErrorEventAfter { tokens: Vec<String>, after: usize },
}

impl AnthropicBehaviour {
    pub fn tokens<S: Into<String>>(words: impl IntoIterator<Item = S>) -> Self {
        AnthropicBehaviour::Reply {
            tokens: words.into_iter().map(Into::into).collect(),
            gap: Duration::ZERO,
        }
    }
}

/// The usage the fake reported for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnthropicUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

struct Shared {
    api_key: String,
    behaviour: Mutex<AnthropicBehaviour>,
    requests: Mutex<Vec<Value>>,
    reported: Mutex<Vec<AnthropicUsage>>,
}

/// Handle to a running fake; it stops when dropped.
pub struct FakeAnthropic {
    /// `http://127.0.0.1:PORT/v1`: the provider's `base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: FakeServer,
}

impl FakeAnthropic {
    /// Serves with `behaviour`, accepting only `api_key`.
    pub async fn start(api_key: &str, behaviour: AnthropicBehaviour) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            behaviour: Mutex::new(behaviour),
            requests: Mutex::new(Vec::new()),
            reported: Mutex::new(Vec::new()),
        });
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-anthropic", move |cfg| {
            cfg.app_data(state.clone())
                .route("/v1/messages", web::post().to(messages));
        })?;
        Ok(Self {
            base_url: format!("http://{}/v1", server.addr()),
            shared,
            _server: server,
        })
    }

    pub fn set_behaviour(&self, behaviour: AnthropicBehaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }

    /// Bodies of the accepted requests, in order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests).clone()
    }

    /// The usage reported for each message that got as far as its end, in order.
    pub fn reported_usage(&self) -> Vec<AnthropicUsage> {
        lock(&self.shared.reported).clone()
    }
}

fn error(status: StatusCode, error_type: &str, message: &str) -> HttpResponse {
    json_response(
        status,
        &json!({"type": "error", "error": {"type": error_type, "message": message}}),
    )
}

/// The fake's tokenizer: words of the system prompt and of every message, plus 3 per
/// message, so tests can predict it.
fn input_tokens(request: &Value) -> u64 {
    let words = |v: &Value| {
        v.as_str()
            .map_or(0, |t| t.split_whitespace().count() as u64)
    };
    let system = words(&request["system"]);
    let messages = request["messages"].as_array().map_or(0, |messages| {
        messages.iter().map(|m| words(&m["content"]) + 3).sum()
    });
    system + messages
}

async fn messages(state: web::Data<Shared>, req: HttpRequest, body: Bytes) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("x-api-key") != Some(state.api_key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        );
    }
    if header("anthropic-version").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &e.to_string(),
            );
        }
    };
    for field in ["model", "max_tokens", "messages"] {
        if request.get(field).is_none() {
            let message = format!("{field}: Field required");
            return error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
        }
    }
    if request["messages"][0]["role"] != "user" {
        let message = "messages: first message must use the \"user\" role";
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", message);
    }
    lock(&state.requests).push(request.clone());
    let behaviour = lock(&state.behaviour).clone();
    let input = input_tokens(&request);
    let model = request["model"].as_str().unwrap_or("claude").to_owned();
    let streaming = request["stream"] == true;
    match behaviour {
        AnthropicBehaviour::Error {
            status,
            error_type,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = error(status, &error_type, "the fake says no");
            if let Some(secs) = retry_after_secs {
                set_retry_after(&mut response, secs);
            }
            response
        }
        AnthropicBehaviour::Reply { tokens, .. } if !streaming => {
            let usage = AnthropicUsage {
                input_tokens: input,
                output_tokens: tokens.len() as u64,
            };
            lock(&state.reported).push(usage);
            let text = tokens.concat();
            let content = match request["tool_choice"]["name"].as_str() {
                Some(tool) => {
                    let input: Value = serde_json::from_str(&text).unwrap_or(json!({}));
                    json!([{"type": "tool_use", "id": "toolu_fake", "name": tool, "input": input}])
                }
                None => json!([{"type": "text", "text": text}]),
            };
            json_response(
                StatusCode::OK,
                &json!({
                    "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                    "content": content, "stop_reason": "end_turn", "stop_sequence": null,
                    "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
                }),
            )
        }
        AnthropicBehaviour::Reply { tokens, gap } => {
            sse(state.into_inner(), model, input, tokens, gap, None)
        }
        AnthropicBehaviour::ErrorEventAfter { tokens, after } => {
            let sent = tokens.into_iter().take(after).collect();
            sse(
                state.into_inner(),
                model,
                input,
                sent,
                Duration::ZERO,
                Some("overloaded_error"),
            )
        }
    }
}

fn event(name: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// A streamed message: its events, then the end (or an error event).
fn sse(
    state: Arc<Shared>,
    model: String,
    input: u64,
    tokens: Vec<String>,
    gap: Duration,
    fail_with: Option<&'static str>,
) -> HttpResponse {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    actix_web::rt::spawn(async move {
        let start = json!({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": 1}}});
        let mut events = vec![
            event("message_start", start),
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            ),
            event("ping", json!({"type": "ping"})),
        ];
        for bytes in events.drain(..) {
            if tx.send(bytes).await.is_err() {
                return;
            }
        }
        let count = tokens.len() as u64;
        for token in tokens {
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            let delta = json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": token}});
            if tx.send(event("content_block_delta", delta)).await.is_err() {
                return;
            }
        }
        if let Some(error_type) = fail_with {
            let data =
                json!({"type": "error", "error": {"type": error_type, "message": "Overloaded"}});
            let _ = tx.send(event("error", data)).await;
            return;
        }
        let usage = AnthropicUsage {
            input_tokens: input,
            output_tokens: count,
        };
        let end = [
            event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            event(
                "message_delta",
                json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": count}}),
            ),
            event("message_stop", json!({"type": "message_stop"})),
        ];
        for bytes in end {
            if tx.send(bytes).await.is_err() {
                return;
            }
        }
        lock(&state.reported).push(usage);
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body)
}
