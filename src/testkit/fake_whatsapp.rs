//! A fake WhatsApp Cloud API (Graph API `POST /{version}/{phone_number_id}/messages`)
//! on a real local HTTP server, so client code is tested over real sockets. It records
//! every request, answers like Meta (`{"messaging_product":"whatsapp","contacts":[…],
//! "messages":[{"id":"wamid.<n>"}]}`), validates the body shape Meta requires, and can
//! be told to fail the next requests (status codes with `Retry-After`, Graph error
//! codes, or closing the connection without answering).
//! It is served by [`super::server::FakeServer`], like every fake.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::server::{FakeServer, drop_connection, json_response, lock, set_retry_after};

/// One request as a fake received it (successful or not).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Request path, e.g. `/v21.0/123/messages` or `/api/chat.postMessage`.
    pub path: String,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// The `Content-Type` header, verbatim.
    pub content_type: Option<String>,
    /// The body as JSON; a body that is not JSON is recorded as a JSON string holding
    /// its (lossy UTF-8) text.
    pub body: Value,
}

impl RecordedRequest {
    pub(crate) fn capture(req: &HttpRequest, body: &[u8]) -> Self {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        Self {
            path: req.path().to_owned(),
            authorization: header("authorization"),
            content_type: header("content-type"),
            body: serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
        }
    }

    /// The bearer token, if the header is `Bearer <token>`.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }
}

/// What the fake does with the next request instead of its normal behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this status and a matching Graph error body (429 → code 130429,
    /// 401 → 190, 5xx → 1, other → 100); `Some(secs)` adds `Retry-After: secs`.
    Status(u16, Option<u64>),
    /// Answer with this status and a Graph error body carrying this error `code`
    /// (e.g. HTTP 400 with 131056, Meta's pair rate limit).
    GraphError { status: u16, code: i64 },
    /// Close the connection without sending any response.
    Drop,
}

struct Shared {
    token: Option<String>,
    failures: Mutex<VecDeque<Failure>>,
    requests: Mutex<Vec<RecordedRequest>>,
    delivered: Mutex<Vec<(String, String)>>,
    next_id: AtomicU64,
}

/// Handle to a running fake WhatsApp Cloud API; stops when dropped.
pub struct FakeWhatsapp {
    server: FakeServer,
    shared: Arc<Shared>,
}

impl FakeWhatsapp {
    /// Starts a fake that accepts any bearer token.
    pub fn start() -> io::Result<Self> {
        Self::launch(None)
    }

    /// Starts a fake that answers 401 (Graph code 190) unless the bearer token is `token`.
    pub fn start_with_token(token: &str) -> io::Result<Self> {
        Self::launch(Some(token.to_owned()))
    }

    fn launch(token: Option<String>) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            token,
            failures: Mutex::default(),
            requests: Mutex::default(),
            delivered: Mutex::default(),
            next_id: AtomicU64::new(1),
        });
        let data = web::Data::from(shared.clone());
        let server = FakeServer::start("fake-whatsapp", move |cfg| {
            cfg.app_data(data.clone()).route(
                "/{version}/{phone_number_id}/messages",
                web::post().to(send_message),
            );
        })?;
        Ok(Self { server, shared })
    }

    /// `http://127.0.0.1:PORT`: use as the client's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every request received, failed ones included, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// `(to, text)` of every message accepted (answered with a wamid), in order.
    pub fn delivered(&self) -> Vec<(String, String)> {
        lock(&self.shared.delivered).clone()
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

async fn send_message(req: HttpRequest, body: Bytes, state: web::Data<Shared>) -> HttpResponse {
    let recorded = RecordedRequest::capture(&req, &body);
    let bearer = recorded.bearer().map(str::to_owned);
    let json = recorded.body.clone();
    lock(&state.requests).push(recorded);

    let failure = lock(&state.failures).pop_front();
    match failure {
        Some(Failure::Drop) => return drop_connection(&req),
        Some(Failure::Status(status, retry_after)) => {
            let (code, message) = match status {
                429 => (130429, "Rate limit hit"),
                401 => (190, "Invalid OAuth access token"),
                500..=599 => (1, "An unknown error occurred"),
                _ => (100, "Invalid parameter"),
            };
            return graph_error(status, code, message, retry_after);
        }
        Some(Failure::GraphError { status, code }) => {
            return graph_error(status, code, "Injected error", None);
        }
        None => {}
    }
    let authorized = match (&state.token, bearer.as_deref()) {
        (_, None | Some("")) => false,
        (Some(expected), Some(got)) => expected == got,
        (None, Some(_)) => true,
    };
    if !authorized {
        return graph_error(401, 190, "Invalid OAuth access token", None);
    }
    let Some((to, text)) = valid_text_message(&json).or_else(|| valid_template_message(&json))
    else {
        return graph_error(400, 100, "Invalid parameter", None);
    };
    let id = format!("wamid.{}", state.next_id.fetch_add(1, Ordering::SeqCst));
    lock(&state.delivered).push((to.clone(), text));
    json_response(
        StatusCode::OK,
        &json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to }],
            "messages": [{ "id": id }],
        }),
    )
}

/// `(to, "template:<name>:<language>")` if `json` is a template message (no
/// parameters) Meta would accept.
fn valid_template_message(json: &Value) -> Option<(String, String)> {
    if json.get("messaging_product")?.as_str()? != "whatsapp"
        || json.get("type")?.as_str()? != "template"
    {
        return None;
    }
    let to = json.get("to")?.as_str()?.to_owned();
    let template = json.get("template")?;
    let name = template.get("name")?.as_str()?;
    let code = template.get("language")?.get("code")?.as_str()?;
    let valid = !to.is_empty()
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !code.is_empty();
    valid.then(|| (to, format!("template:{name}:{code}")))
}

/// `(to, body)` if `json` is a text message Meta would accept.
fn valid_text_message(json: &Value) -> Option<(String, String)> {
    if json.get("messaging_product")?.as_str()? != "whatsapp"
        || json.get("type")?.as_str()? != "text"
    {
        return None;
    }
    if let Some(kind) = json.get("recipient_type")
        && kind.as_str()? != "individual"
    {
        return None;
    }
    let to = json.get("to")?.as_str()?.to_owned();
    let text = json.get("text")?.get("body")?.as_str()?.to_owned();
    let fits = text.chars().count() <= 4096 && !text.trim().is_empty();
    (!to.is_empty() && fits).then_some((to, text))
}

fn graph_error(status: u16, code: i64, message: &str, retry_after: Option<u64>) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(
        status,
        &json!({ "error": {
            "message": format!("(#{code}) {message}"),
            "type": "OAuthException",
            "code": code,
            "error_data": { "messaging_product": "whatsapp", "details": message },
            "fbtrace_id": "AFakeTraceId",
        }}),
    );
    if let Some(secs) = retry_after {
        set_retry_after(&mut response, secs);
    }
    response
}
