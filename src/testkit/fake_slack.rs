//! A fake Slack Web API (`POST /api/chat.postMessage`, `POST /api/chat.update`) on a
//! real local HTTP server, for testing the Slack client and streaming replies over
//! real sockets. It behaves like Slack where it matters to us: HTTP 200 with
//! `{"ok":true,…}` or `{"ok":false,"error":…}`, bearer-token checks (`not_authed`,
//! `invalid_auth`), unique increasing `ts` values, `message_not_found` for updates of
//! unknown messages, `no_text` for blank text. It keeps the final text of every
//! message after updates plus an ordered log of every post and update, and has the
//! same failure queue as the fake WhatsApp, plus `ok:false` errors.
//!
//! The server plumbing (own thread, own actix System, connection dropping) lives in
//! [`super::fake_whatsapp`] and is reused here.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

/// The request record shared with the fake WhatsApp.
pub use super::fake_whatsapp::RecordedRequest;
use super::server::{FakeServer, drop_connection, json_response, lock, set_retry_after};

/// What the fake does with the next request instead of its normal behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this HTTP status (429 with `{"ok":false,"error":"ratelimited"}`,
    /// others with a plain-text body); `Some(secs)` adds `Retry-After: secs`.
    Status(u16, Option<u64>),
    /// Close the connection without sending any response.
    Drop,
    /// HTTP 200 with `{"ok":false,"error":<this>}` (e.g. `ratelimited`,
    /// `channel_not_found`, `internal_error`).
    SlackError(String),
}

/// A message the fake holds, with its latest text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
}

/// One accepted call, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackOp {
    Post {
        channel: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
    },
    Update {
        channel: String,
        ts: String,
        text: String,
    },
}

struct Shared {
    token: Option<String>,
    failures: Mutex<VecDeque<Failure>>,
    requests: Mutex<Vec<RecordedRequest>>,
    messages: Mutex<Vec<PostedMessage>>,
    log: Mutex<Vec<SlackOp>>,
    ts_base: u64,
    ts_counter: AtomicU64,
}

/// Handle to a running fake Slack Web API; stops when dropped.
pub struct FakeSlack {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeSlack {
    /// Starts a fake that accepts any non-empty bearer token.
    pub fn start() -> io::Result<Self> {
        Self::launch(None)
    }

    /// Starts a fake that answers `invalid_auth` unless the bearer token is `token`.
    pub fn start_with_token(token: &str) -> io::Result<Self> {
        Self::launch(Some(token.to_owned()))
    }

    fn launch(token: Option<String>) -> io::Result<Self> {
        let ts_base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1_700_000_000, |d| d.as_secs());
        let shared = Arc::new(Shared {
            token,
            failures: Mutex::default(),
            requests: Mutex::default(),
            messages: Mutex::default(),
            log: Mutex::default(),
            ts_base,
            ts_counter: AtomicU64::new(1),
        });
        let data = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-slack", move |cfg| {
            cfg.app_data(data.clone())
                .route("/api/chat.postMessage", web::post().to(post_message))
                .route("/api/chat.update", web::post().to(update_message));
        })?;
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:PORT/api`: use as the client's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.server.addr())
    }

    /// Every request received, failed ones included, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Every message posted successfully, in post order, with its final text.
    pub fn delivered(&self) -> Vec<PostedMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Every accepted post and update, in order.
    pub fn log(&self) -> Vec<SlackOp> {
        lock(&self.shared.log).clone()
    }

    /// Queues failures; each following request consumes one before normal behaviour.
    pub fn fail_next(&self, failures: Vec<Failure>) {
        lock(&self.shared.failures).extend(failures);
    }

    /// Stops the server and waits for its thread.
    pub fn stop(self) {
        self.server.stop();
    }
}

/// Shared preamble: record, apply a queued failure, check auth and parse the body.
/// `Err` is the response to send instead of normal behaviour.
fn preamble(req: &HttpRequest, body: &[u8], state: &Shared) -> Result<Value, Box<HttpResponse>> {
    let recorded = RecordedRequest::capture(req, body);
    let bearer = recorded.bearer().map(str::to_owned);
    let json_ct = recorded
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with("application/json"));
    lock(&state.requests).push(recorded);

    let failure = lock(&state.failures).pop_front();
    match failure {
        Some(Failure::Drop) => return Err(Box::new(drop_connection(req))),
        Some(Failure::Status(429, retry_after)) => {
            let mut response =
                json_response(StatusCode::TOO_MANY_REQUESTS, &slack_error("ratelimited"));
            if let Some(secs) = retry_after {
                set_retry_after(&mut response, secs);
            }
            return Err(Box::new(response));
        }
        Some(Failure::Status(status, retry_after)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = HttpResponse::build(status)
                .content_type("text/plain")
                .body(status.canonical_reason().unwrap_or("error"));
            if let Some(secs) = retry_after {
                set_retry_after(&mut response, secs);
            }
            return Err(Box::new(response));
        }
        Some(Failure::SlackError(error)) => return Err(Box::new(ok_false(&error))),
        None => {}
    }
    match (&state.token, bearer.as_deref()) {
        (_, None | Some("")) => return Err(Box::new(ok_false("not_authed"))),
        (Some(expected), Some(got)) if expected != got => {
            return Err(Box::new(ok_false("invalid_auth")));
        }
        _ => {}
    }
    if !json_ct {
        return Err(Box::new(ok_false("invalid_arguments")));
    }
    serde_json::from_slice(body).map_err(|_| Box::new(ok_false("invalid_json")))
}

async fn post_message(req: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let json = match preamble(&req, &body, &state) {
        Ok(json) => json,
        Err(response) => return *response,
    };
    let Some(channel) = non_empty_str(&json, "channel") else {
        return ok_false("channel_not_found");
    };
    let Some(text) = non_empty_str(&json, "text").filter(|t| !t.trim().is_empty()) else {
        return ok_false("no_text");
    };
    let thread_ts = non_empty_str(&json, "thread_ts");
    let n = state.ts_counter.fetch_add(1, Ordering::SeqCst);
    let ts = format!("{}.{:06}", state.ts_base + n / 1_000_000, n % 1_000_000);
    let message = PostedMessage {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        text: text.clone(),
    };
    lock(&state.messages).push(message);
    lock(&state.log).push(SlackOp::Post {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        text: text.clone(),
    });
    let mut message = json!({
        "type": "message", "user": "UFAKEBOT", "bot_id": "BFAKEBOT", "text": text, "ts": ts,
    });
    if let Some(thread_ts) = thread_ts {
        message["thread_ts"] = Value::String(thread_ts);
    }
    json_response(
        StatusCode::OK,
        &json!({ "ok": true, "channel": channel, "ts": ts, "message": message }),
    )
}

async fn update_message(req: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let json = match preamble(&req, &body, &state) {
        Ok(json) => json,
        Err(response) => return *response,
    };
    let Some(channel) = non_empty_str(&json, "channel") else {
        return ok_false("channel_not_found");
    };
    let Some(ts) = non_empty_str(&json, "ts") else {
        return ok_false("message_not_found");
    };
    let Some(text) = non_empty_str(&json, "text").filter(|t| !t.trim().is_empty()) else {
        return ok_false("no_text");
    };
    {
        let mut messages = lock(&state.messages);
        let Some(message) = messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
        else {
            return ok_false("message_not_found");
        };
        message.text = text.clone();
    }
    lock(&state.log).push(SlackOp::Update {
        channel: channel.clone(),
        ts: ts.clone(),
        text: text.clone(),
    });
    json_response(
        StatusCode::OK,
        &json!({ "ok": true, "channel": channel, "ts": ts, "text": text,
                 "message": { "type": "message", "user": "UFAKEBOT", "text": text } }),
    )
}

fn non_empty_str(json: &Value, key: &str) -> Option<String> {
    json.get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn slack_error(error: &str) -> Value {
    json!({ "ok": false, "error": error })
}

fn ok_false(error: &str) -> HttpResponse {
    json_response(StatusCode::OK, &slack_error(error))
}
