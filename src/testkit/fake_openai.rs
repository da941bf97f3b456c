//! A fake OpenAI-compatible upstream: a real actix-web HTTP server on 127.0.0.1 that
//! speaks the `POST /v1/chat/completions` wire protocol (SSE chunks ending in
//! `data: [DONE]`, or a plain `chat.completion` JSON), with scriptable behaviours for
//! errors and stalls. Like OpenAI it reports token usage: in the JSON completion, and in
//! a last chunk with empty `choices` when the request asks for
//! `stream_options.include_usage`. [`FakeOpenAi::reported_usage`] lists what it reported. Tests and benchmarks point the gateway at it to exercise the
//! real HTTP/SSE path without network access.
//!
//! It is served by [`FakeServer`] (its own OS thread and `actix_web::rt::System`, one
//! worker), so it works the same from any tokio runtime flavour (multi-thread,
//! current-thread, even with paused time) and from plain binaries. Stalled responses
//! are driven by a task that exits when the client disconnects or after five minutes.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::server::{FakeServer, lock};

/// How long a stalled response is kept open if the client never disconnects.
const STALL_LIMIT: Duration = Duration::from_secs(300);

/// What the fake does with the next `POST /v1/chat/completions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeBehaviour {
    /// Stream `tokens`, waiting `gap` before each one, then finish normally.
    Stream { tokens: Vec<String>, gap: Duration },
    /// Answer with this HTTP status and an OpenAI error body carrying `message`.
    Error { status: u16, message: String },
    /// Send `200` headers, then nothing until the client goes away.
    StallBeforeFirstToken,
    /// Stream the first `after` of `tokens` without delay, then go silent.
    StallAfter { tokens: Vec<String>, after: usize },
    /// `429` with an OpenAI `rate_limit_exceeded` body and, when given, `Retry-After`.
    RateLimited { retry_after_secs: Option<u64> },
}

impl FakeBehaviour {
    /// Convenience: stream `words` with no gap.
    pub fn tokens<S: Into<String>>(words: impl IntoIterator<Item = S>) -> Self {
        FakeBehaviour::Stream {
            tokens: words.into_iter().map(Into::into).collect(),
            gap: Duration::ZERO,
        }
    }
}

/// State shared between the handle and the server thread.
struct Shared {
    behaviour: Mutex<FakeBehaviour>,
    /// Behaviours for the next requests, one each, before `behaviour` applies again.
    queued: Mutex<std::collections::VecDeque<FakeBehaviour>>,
    requests: Mutex<Vec<Value>>,
    /// The `Authorization` header of each request, in order.
    authorizations: Mutex<Vec<String>>,
    open_streams: AtomicUsize,
    next_id: AtomicUsize,
    reported: Mutex<Vec<ReportedUsage>>,
    /// The body of each `/v1/embeddings` request, in order.
    embedding_requests: Mutex<Vec<Value>>,
}

/// The usage the fake reported for one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The fake's tokenizer: whitespace-separated words of every message, plus 3 per message
/// (OpenAI's per-message overhead), deterministic so tests can predict it.
fn prompt_tokens(request: &Value) -> u64 {
    let messages = request.get("messages").and_then(Value::as_array);
    messages.map_or(0, |messages| {
        messages
            .iter()
            .map(|m| {
                let words = m
                    .get("content")
                    .and_then(Value::as_str)
                    .map_or(0, |c| c.split_whitespace().count());
                words as u64 + 3
            })
            .sum()
    })
}

/// Handle to a running fake upstream; the server stops when this is dropped or on [`FakeOpenAi::stop`].
pub struct FakeOpenAi {
    /// `http://127.0.0.1:PORT/v1` — use as `LlmConfig::base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    server: FakeServer,
}

impl FakeOpenAi {
    /// Binds `127.0.0.1:0` and starts serving with `behaviour`.
    pub async fn start(behaviour: FakeBehaviour) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            queued: Mutex::new(std::collections::VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
            open_streams: AtomicUsize::new(0),
            next_id: AtomicUsize::new(1),
            reported: Mutex::new(Vec::new()),
            embedding_requests: Mutex::new(Vec::new()),
        });
        let state = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-openai", move |cfg| {
            cfg.app_data(state.clone())
                .route("/v1/chat/completions", web::post().to(chat_completions))
                .route("/v1/embeddings", web::post().to(embeddings))
                .route(
                    "/openai/deployments/{deployment}/chat/completions",
                    web::post().to(azure_chat_completions),
                );
        })?;
        Ok(Self {
            base_url: format!("http://{}/v1", server.addr()),
            shared,
            server,
        })
    }

    /// The body of each `/v1/embeddings` request, in order.
    pub fn embedding_requests(&self) -> Vec<Value> {
        lock(&self.shared.embedding_requests).clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Switches what the following requests get.
    pub fn set_behaviour(&self, b: FakeBehaviour) {
        *lock(&self.shared.behaviour) = b;
    }

    /// The next requests get these behaviours, one each, in order; then the one set
    /// with [`FakeOpenAi::set_behaviour`] again.
    pub fn queue_behaviours(&self, behaviours: impl IntoIterator<Item = FakeBehaviour>) {
        lock(&self.shared.queued).extend(behaviours);
    }

    /// JSON bodies of all requests received so far, in arrival order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests).clone()
    }

    /// The usage reported for each completion that got as far as reporting it, in order.
    pub fn reported_usage(&self) -> Vec<ReportedUsage> {
        lock(&self.shared.reported).clone()
    }

    /// The `Authorization` header of each request received so far (empty when absent).
    pub fn authorizations(&self) -> Vec<String> {
        lock(&self.shared.authorizations).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Responses whose body is still being produced (streaming or stalled).
    /// Drops back to 0 once clients disconnect, so tests can assert nothing leaks.
    pub fn open_streams(&self) -> usize {
        self.shared.open_streams.load(Ordering::SeqCst)
    }

    /// Stops the server, closes open connections and waits for its thread to exit.
    pub async fn stop(self) {
        self.server.stop_async().await;
    }
}

/// Azure OpenAI's path for the same API: the deployment in the path, `api-version` in
/// the query and the key in `api-key`. The request is recorded with `_azure` (deployment,
/// api-version, api-key) added, so tests can check all three.
async fn azure_chat_completions(
    state: web::Data<Shared>,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string());
    let Some(api_version) = query.ok().and_then(|q| q.get("api-version").cloned()) else {
        return error_response(
            StatusCode::NOT_FOUND,
            "Resource not found (no api-version)",
            "invalid_request_error",
        );
    };
    let api_key = req
        .headers()
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return chat_completions(state, req, body).await;
    };
    request["_azure"] = json!({
        "deployment": path.into_inner(),
        "api_version": api_version,
        "api_key": api_key,
    });
    chat_completions(state, req, Bytes::from(request.to_string())).await
}

/// `POST /v1/embeddings` in OpenAI's wire format: `input` is a string or an array of
/// strings; each gets the offline model's deterministic vector (so retrieval through
/// the fake behaves like the offline model), with `usage.prompt_tokens` its word count.
async fn embeddings(state: web::Data<Shared>, body: Bytes) -> HttpResponse {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("We could not parse the JSON body of your request. ({e})"),
                "invalid_request_error",
            );
        }
    };
    lock(&state.embedding_requests).push(request.clone());
    let inputs: Vec<String> = match &request["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "'input' must be a string or an array of strings",
                "invalid_request_error",
            );
        }
    };
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            serde_json::json!({
                "object": "embedding",
                "index": index,
                "embedding": crate::llm::embedding::offline_embedding(text),
            })
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "object": "list",
        "data": data,
        "model": request["model"],
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
}

async fn chat_completions(
    state: web::Data<Shared>,
    req: actix_web::HttpRequest,
    body: Bytes,
) -> HttpResponse {
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("We could not parse the JSON body of your request. ({e})"),
                "invalid_request_error",
            );
        }
    };
    lock(&state.requests).push(request.clone());
    lock(&state.authorizations).push(authorization);
    let queued = lock(&state.queued).pop_front();
    let behaviour = queued.unwrap_or_else(|| lock(&state.behaviour).clone());
    let meta = ChunkMeta {
        id: format!(
            "chatcmpl-fake{}",
            state.next_id.fetch_add(1, Ordering::SeqCst)
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("fake-model")
            .to_owned(),
    };
    let streaming = request.get("stream").and_then(Value::as_bool) == Some(true);
    let include_usage = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let prompt_tokens = prompt_tokens(&request);

    match behaviour {
        FakeBehaviour::Error { status, message } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error_response(status, &message, "server_error")
        }
        FakeBehaviour::RateLimited { retry_after_secs } => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests",
                "requests",
            );
            if let Some(secs) = retry_after_secs {
                super::server::set_retry_after(&mut response, secs);
            }
            response
        }
        FakeBehaviour::Stream { tokens, .. } if !streaming => {
            let usage = ReportedUsage {
                prompt_tokens,
                completion_tokens: tokens.len() as u64,
            };
            lock(&state.reported).push(usage);
            HttpResponse::Ok().json(meta.completion(&tokens.concat(), usage))
        }
        FakeBehaviour::Stream { tokens, gap } => {
            let usage = include_usage.then_some(ReportedUsage {
                prompt_tokens,
                completion_tokens: tokens.len() as u64,
            });
            sse_response(&state, meta, tokens, Script::Finish { gap, usage })
        }
        FakeBehaviour::StallBeforeFirstToken => {
            let content_type = if streaming {
                "text/event-stream"
            } else {
                "application/json"
            };
            body_response(&state, content_type, stall)
        }
        FakeBehaviour::StallAfter { tokens, after } if streaming => {
            let sent = tokens.into_iter().take(after).collect();
            sse_response(&state, meta, sent, Script::Stall)
        }
        FakeBehaviour::StallAfter { .. } => body_response(&state, "application/json", stall),
    }
}

/// How an SSE response ends after its tokens.
enum Script {
    /// The finish chunk, the usage chunk when asked for, then `[DONE]`.
    Finish {
        gap: Duration,
        usage: Option<ReportedUsage>,
    },
    Stall,
}

fn sse_response(
    state: &web::Data<Shared>,
    meta: ChunkMeta,
    tokens: Vec<String>,
    script: Script,
) -> HttpResponse {
    let shared = state.clone().into_inner();
    body_response(state, "text/event-stream", move |tx| async move {
        let gap = match script {
            Script::Finish { gap, .. } => gap,
            Script::Stall => Duration::ZERO,
        };
        let role = json!({"role": "assistant", "content": ""});
        if !send(&tx, meta.sse_chunk(role, Value::Null)).await {
            return;
        }
        for token in tokens {
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            if !send(&tx, meta.sse_chunk(json!({"content": token}), Value::Null)).await {
                return;
            }
        }
        match script {
            Script::Finish { usage, .. } => {
                if !send(&tx, meta.sse_chunk(json!({}), json!("stop"))).await {
                    return;
                }
                if let Some(usage) = usage {
                    if !send(&tx, meta.usage_chunk(usage)).await {
                        return;
                    }
                    lock(&shared.reported).push(usage);
                }
                send(&tx, Bytes::from_static(b"data: [DONE]\n\n")).await;
            }
            Script::Stall => stall(tx).await,
        }
    })
}

/// Sends `200` with `content_type` and a body fed by `produce`, which runs as a task on
/// the worker and is counted in `open_streams` until it returns.
fn body_response<F, Fut>(state: &web::Data<Shared>, content_type: &str, produce: F) -> HttpResponse
where
    F: FnOnce(mpsc::Sender<Bytes>) -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let shared = state.clone().into_inner();
    shared.open_streams.fetch_add(1, Ordering::SeqCst);
    actix_web::rt::spawn(async move {
        produce(tx).await;
        shared.open_streams.fetch_sub(1, Ordering::SeqCst);
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("cache-control", "no-cache"))
        .streaming(body)
}

/// Sends one body piece; false once the client is gone.
async fn send(tx: &mpsc::Sender<Bytes>, bytes: Bytes) -> bool {
    tx.send(bytes).await.is_ok()
}

/// Keeps the body open and silent until the client disconnects or `STALL_LIMIT` passes.
async fn stall(tx: mpsc::Sender<Bytes>) {
    tokio::select! {
        _ = tx.closed() => {}
        _ = tokio::time::sleep(STALL_LIMIT) => {}
    }
}

fn error_response(status: StatusCode, message: &str, kind: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": {"message": message, "type": kind, "param": null, "code": null}
    }))
}

/// Fields shared by every chunk of one completion.
struct ChunkMeta {
    id: String,
    created: u64,
    model: String,
}

impl ChunkMeta {
    fn sse_chunk(&self, delta: Value, finish_reason: Value) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    /// The last chunk of a stream that asked for usage: no choices, the usage.
    fn usage_chunk(&self, usage: ReportedUsage) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_json(usage),
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }

    fn completion(&self, text: &str, usage: ReportedUsage) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": usage_json(usage),
        })
    }
}

fn usage_json(usage: ReportedUsage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}
