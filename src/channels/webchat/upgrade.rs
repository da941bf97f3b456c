//! The WebSocket upgrades of `GET /v1/ws` (web chat) and `GET /v1/agent/ws` (the agent
//! inbox, `crate::agents::socket`), done on the raw connection.
//!
//! actix-http hands every `Connection: upgrade` request here together with its
//! connection (see `crate::http::server`). The handshake is checked and answered by hand
//! (RFC 6455 §4.2), then the connection becomes a tokio-tungstenite stream whose socket
//! loop ([`super::socket`]) runs as a task of its own on the worker: the HTTP/1
//! dispatcher and its buffers are gone from then on. Anything that is not a valid
//! WebSocket handshake for `/v1/ws` gets a plain HTTP error and the connection closes.
//! Every answer carries `x-request-id` (the client's when usable), and the socket's task
//! runs in a `webchat connection` span with that id, which the hello fills with the
//! tenant and conversation.

use actix_codec::Framed;
use actix_http::{HttpMessage, Request, h1};
use actix_service::{ServiceFactory, fn_service};
use actix_web::rt::net::TcpStream;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::Instrument;
use tracing::field::Empty;

use super::{WebchatContext, socket};
use crate::telemetry::request_id::{self, RequestId};

/// The path of web chat protocol v1.
pub const PATH: &str = "/v1/ws";
/// Bytes read from the socket at a time: frames are small, and a small buffer keeps an
/// idle socket cheap (a larger frame grows it as needed, up to the frame limit).
const READ_BUFFER: usize = 1024;

/// The upgrade service for actix-http.
pub fn factory(
    ctx: WebchatContext,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_http::Error,
    InitError = (),
> {
    fn_service(
        move |(request, framed): (Request, Framed<TcpStream, h1::Codec>)| {
            let ctx = ctx.clone();
            async move {
                upgrade(ctx, request, framed).await;
                Ok(())
            }
        },
    )
}

/// Why a request cannot become a web chat socket.
struct Refusal {
    status: &'static str,
    reason: &'static str,
    /// Extra response header lines, each ending in CRLF.
    headers: &'static str,
}

const NOT_FOUND: Refusal = Refusal {
    status: "404 Not Found",
    reason: "no WebSocket endpoint here; web chat is at /v1/ws, the agent inbox at /v1/agent/ws",
    headers: "",
};

fn bad_request(reason: &'static str) -> Refusal {
    Refusal {
        status: "400 Bad Request",
        reason,
        headers: "",
    }
}

/// Checks the opening handshake; returns the `Sec-WebSocket-Accept` value.
fn accept_key(request: &Request) -> Result<String, Refusal> {
    if request.path() != PATH && request.path() != crate::agents::socket::PATH {
        return Err(NOT_FOUND);
    }
    if request.method() != actix_http::Method::GET {
        return Err(bad_request("a WebSocket handshake is a GET request"));
    }
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(bad_request("expected `Upgrade: websocket`"));
    }
    if header("sec-websocket-version") != Some("13") {
        return Err(Refusal {
            status: "426 Upgrade Required",
            reason: "only WebSocket version 13 is supported",
            headers: "Sec-WebSocket-Version: 13\r\n",
        });
    }
    let key = header("sec-websocket-key")
        .filter(|key| !key.is_empty())
        .ok_or_else(|| bad_request("missing `Sec-WebSocket-Key`"))?;
    Ok(derive_accept_key(key.as_bytes()))
}

async fn upgrade(ctx: WebchatContext, request: Request, framed: Framed<TcpStream, h1::Codec>) {
    let parts = framed.into_parts();
    let mut io = parts.io;
    let request_id = RequestId::from_client(
        request
            .headers()
            .get(request_id::HEADER)
            .map(|v| v.as_bytes()),
    );
    let accept = match accept_key(&request) {
        Ok(accept) => accept,
        Err(refusal) => {
            tracing::debug!(
                request_id = %request_id,
                status = refusal.status,
                reason = refusal.reason,
                "upgrade refused"
            );
            let response = format!(
                "HTTP/1.1 {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\
                 connection: close\r\n{}: {request_id}\r\n{}\r\n{}",
                refusal.status,
                refusal.reason.len(),
                request_id::HEADER,
                refusal.headers,
                refusal.reason
            );
            let _ = io.write_all(response.as_bytes()).await;
            let _ = io.shutdown().await;
            return;
        }
    };
    let origin = request
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: {accept}\r\n{}: {request_id}\r\n\r\n",
        request_id::HEADER
    );
    if io.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let limit = ctx.config.max_frame_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_frame_size(Some(limit))
        .max_message_size(Some(limit));
    // Whatever the client sent after its request head (frames it did not wait to send)
    // is the start of the WebSocket stream.
    let ws = WebSocketStream::from_partially_read(
        io,
        parts.read_buf.to_vec(),
        Role::Server,
        Some(config),
    )
    .await;
    if request.path() == crate::agents::socket::PATH {
        let span = tracing::info_span!(
            "agent connection",
            otel.name = "GET /v1/agent/ws",
            otel.kind = "server",
            request_id = %request_id,
        );
        actix_web::rt::spawn(crate::agents::socket::run(ctx, ws).instrument(span));
        return;
    }
    let span = tracing::info_span!(
        "webchat connection",
        otel.name = "GET /v1/ws",
        otel.kind = "server",
        request_id = %request_id,
        tenant = Empty,
        conversation = Empty,
    );
    actix_web::rt::spawn(socket::run(ctx, ws, origin).instrument(span));
}
