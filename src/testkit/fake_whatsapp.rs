//! A fake WhatsApp Cloud API (Graph API `POST /{version}/{phone_number_id}/messages`)
//! on a real local HTTP server, so client code is tested over real sockets. It records
//! every request, answers like Meta (`{"messaging_product":"whatsapp","contacts":[…],
//! "messages":[{"id":"wamid.<n>"}]}`), validates the body shape Meta requires, and can
//! be told to fail the next requests (status codes with `Retry-After`, Graph error
//! codes, or closing the connection without answering).
//!
//! This file also holds the server plumbing shared with the fake Slack
//! ([`super::fake_slack`]): each fake runs actix-web on `127.0.0.1:0` on its own OS
//! thread inside its own `actix_web::rt::System` (1 worker, no signal handling, no
//! half-closed connections), so it works from any tokio runtime flavour, including
//! `#[tokio::test(flavor = "multi_thread")]`, and from plain `#[test]`s.

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{Value, json};

/// Largest request body the fakes accept.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long `start` waits for the server thread to bind and run.
const START_TIMEOUT: Duration = Duration::from_secs(10);

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
    let Some((to, text)) = valid_text_message(&json) else {
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

pub(crate) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

pub(crate) fn set_retry_after(response: &mut HttpResponse, secs: u64) {
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&secs.to_string()) {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, value);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A duplicate of the connection's socket, stored per connection by `on_connect` so a
/// handler can cut the connection without responding.
struct ConnSocket(std::net::TcpStream);

/// Shuts the request's TCP connection down in both directions; the client sees the
/// connection close with no response. The returned response can no longer be sent.
pub(crate) fn drop_connection(req: &HttpRequest) -> HttpResponse {
    match req.conn_data::<ConnSocket>() {
        Some(socket) => {
            let _ = socket.0.shutdown(Shutdown::Both);
        }
        None => tracing::warn!("fake server: no socket to drop; answering 500 instead"),
    }
    HttpResponse::InternalServerError().finish()
}

fn remember_socket(conn: &dyn Any, ext: &mut Extensions) {
    let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    #[cfg(unix)]
    let owned = std::os::fd::AsFd::as_fd(tcp).try_clone_to_owned();
    #[cfg(windows)]
    let owned = std::os::windows::io::AsSocket::as_socket(tcp).try_clone_to_owned();
    #[cfg(any(unix, windows))]
    if let Ok(owned) = owned {
        ext.insert(ConnSocket(std::net::TcpStream::from(owned)));
    }
    #[cfg(not(any(unix, windows)))]
    let _ = (tcp, ext);
}

/// A running actix-web server on its own thread (shared by the fakes).
pub(crate) struct FakeServer {
    addr: SocketAddr,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Binds `127.0.0.1:0` and serves the routes `configure` registers.
    pub(crate) fn start<F>(name: &str, configure: F) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<ServerHandle>>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || run(listener, configure, ready_tx))?;
        let handle = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::other("fake server thread did not start")),
        };
        Ok(Self {
            addr,
            handle: Some(handle),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (closing open connections) and joins its thread.
    pub(crate) fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            // The command is sent eagerly; the returned future only awaits completion.
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            drop(handle.stop(false));
        }
    }
}

fn run<F>(listener: TcpListener, configure: F, ready: mpsc::Sender<io::Result<ServerHandle>>)
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .configure(configure.clone())
        })
        .workers(1)
        .disable_signals()
        .h1_allow_half_closed(false)
        .shutdown_timeout(1)
        .on_connect(remember_socket)
        .listen(listener);
        let server = match server {
            Ok(server) => server.run(),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(server.handle()));
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "fake provider server stopped with an error");
        }
    });
}
