//! The loop of one web chat socket, on the HTTP worker that accepted it.
//!
//! It reads client frames (the actix-ws stream is not `Send`, so it stays here), answers
//! bad ones with `error` frames, performs the hello handshake, rate-limits messages and
//! hands them to the connection actor; it writes whatever the connection queues, pings
//! the client, and closes the socket with a code when the client is gone, abusive, too
//! slow, or the server shuts down.

use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{
    AggregatedMessage, CloseCode, CloseReason as WsCloseReason, MessageStream, Session,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ractor::ActorRef;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

use super::WebchatContext;
use super::hello::{HelloRefused, join};
use super::protocol::{ClientFrame, FrameError, ServerFrame, parse_client_frame};
use crate::actors::connection::ConnectionMsg;
use crate::actors::{CloseReason, ConnectionSink, Outbound};

/// Upgrades the request and starts the socket loop on this worker.
pub async fn serve(
    req: HttpRequest,
    body: web::Payload,
    ctx: web::Data<WebchatContext>,
) -> Result<HttpResponse, actix_web::Error> {
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let ctx = ctx.get_ref().clone();
    actix_web::rt::spawn(run(ctx, session, stream, origin));
    Ok(response)
}

struct Socket {
    ctx: WebchatContext,
    origin: Option<String>,
    sink: ConnectionSink,
    joined: Option<ActorRef<ConnectionMsg>>,
    limiter: DefaultDirectRateLimiter,
    bad_frames: u32,
}

fn close(code: CloseCode, description: &str) -> Option<WsCloseReason> {
    Some(WsCloseReason {
        code,
        description: Some(description.to_string()),
    })
}

async fn run(
    ctx: WebchatContext,
    mut session: Session,
    stream: MessageStream,
    origin: Option<String>,
) {
    let config = ctx.config.clone();
    let mut stream = stream
        .max_frame_size(config.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(config.max_frame_bytes);
    let (frames_tx, mut frames) = mpsc::channel(config.outbound_queue);
    let (close_tx, mut close_rx) = watch::channel(None);
    let per_second = NonZeroU32::new(config.messages_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.message_burst).unwrap_or(NonZeroU32::MIN);
    let mut socket = Socket {
        origin,
        sink: ConnectionSink {
            frames: frames_tx,
            close: close_tx,
        },
        joined: None,
        limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
        bad_frames: 0,
        ctx,
    };
    let hello_deadline = tokio::time::sleep(Duration::from_millis(config.hello_timeout_ms));
    tokio::pin!(hello_deadline);
    let heartbeat_every = Duration::from_secs(config.heartbeat_interval_secs);
    let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat_every, heartbeat_every);
    let client_timeout = Duration::from_secs(config.client_timeout_secs);
    let mut last_heard = Instant::now();
    let shutdown = socket.ctx.shutdown.clone();

    let reason = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break close(CloseCode::Away, "server shutting down"),
            changed = close_rx.changed() => {
                if changed.is_err() { break None; }
                let reason = *close_rx.borrow();
                match reason {
                    Some(CloseReason::SlowConsumer) =>
                        break close(CloseCode::Again, "too slow to keep up; reconnect with last_seq"),
                    Some(CloseReason::Resync) =>
                        break close(CloseCode::Again, "fell behind; reconnect with last_seq"),
                    Some(CloseReason::Unavailable) =>
                        break close(CloseCode::Again, "temporarily unavailable; reconnect with last_seq"),
                    None => {}
                }
            }
            Some(outbound) = frames.recv() => {
                if let Some(frame) = ServerFrame::from_outbound(&outbound)
                    && session.text(frame.to_json()).await.is_err()
                {
                    break None;
                }
            }
            _ = &mut hello_deadline, if socket.joined.is_none() => {
                let error = FrameError::new("hello_timeout", "no hello within the time allowed");
                let _ = session.text(ServerFrame::error(&error).to_json()).await;
                break close(CloseCode::Policy, "hello timeout");
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > client_timeout {
                    break close(CloseCode::Away, "client timed out");
                }
                if session.ping(b"").await.is_err() { break None; }
            }
            frame = stream.recv() => {
                let message = match frame {
                    None => break None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) =>
                        break close(CloseCode::Size, "frame too large"),
                    Some(Err(e)) => {
                        debug!(error = %e, "websocket protocol error");
                        break close(CloseCode::Protocol, "protocol error");
                    }
                    Some(Ok(message)) => message,
                };
                last_heard = Instant::now();
                match message {
                    AggregatedMessage::Text(text) => {
                        if let Some(reason) = socket.on_text(&text).await {
                            // Flush what the handshake queued (the error) before closing.
                            while let Ok(outbound) = frames.try_recv() {
                                if let Some(frame) = ServerFrame::from_outbound(&outbound) {
                                    let _ = session.text(frame.to_json()).await;
                                }
                            }
                            break reason;
                        }
                    }
                    AggregatedMessage::Binary(_) => {
                        if let Some(reason) = socket.refuse(FrameError::new(
                            "unsupported_frame", "binary frames are not part of the protocol"))
                        {
                            break reason;
                        }
                    }
                    AggregatedMessage::Ping(bytes) => {
                        if session.pong(&bytes).await.is_err() { break None; }
                    }
                    AggregatedMessage::Pong(_) => {}
                    AggregatedMessage::Close(reason) => {
                        debug!(?reason, "client closed the socket");
                        break None;
                    }
                }
            }
        }
    };
    if let Some(actor) = socket.joined.take() {
        actor.stop(Some("socket closed".into()));
    }
    let _ = session.close(reason).await;
}

impl Socket {
    /// Handles a text frame; returns a close reason when the socket must close.
    async fn on_text(&mut self, text: &str) -> Option<Option<WsCloseReason>> {
        let frame = match parse_client_frame(text, self.ctx.config.max_text_chars) {
            Ok(frame) => frame,
            Err(error) => return self.refuse(error),
        };
        match frame {
            ClientFrame::Hello(_) if self.joined.is_some() => self.refuse(FrameError::new(
                "already_joined",
                "this socket has joined a conversation already; open another socket to switch",
            )),
            ClientFrame::Hello(hello) => {
                // Boxed: the handshake's future is large (store and actor calls) and is
                // needed once, while this socket's task lives as long as the socket. Inline,
                // it would make every idle socket's task that much bigger.
                let handshake =
                    Box::pin(join(&self.ctx, hello, self.origin.as_deref(), &self.sink));
                match handshake.await {
                    Ok(actor) => {
                        self.joined = Some(actor);
                        None
                    }
                    Err(HelloRefused::Error(error)) => self.refuse(error),
                    Err(HelloRefused::Fatal(error)) => {
                        self.sink.push(Outbound::Error {
                            code: error.code,
                            message: error.message,
                            client_id: None,
                        });
                        Some(close(CloseCode::Policy, "origin not allowed"))
                    }
                }
            }
            ClientFrame::Message { client_id, text } => {
                let Some(actor) = &self.joined else {
                    return self.refuse(
                        FrameError::new("hello_required", "send hello before any message")
                            .for_client(client_id),
                    );
                };
                if self.limiter.check().is_err() {
                    return self.refuse(
                        FrameError::new("rate_limited", "too many messages; slow down and resend")
                            .for_client(client_id),
                    );
                }
                if actor
                    .cast(ConnectionMsg::UserMessage {
                        client_id: client_id.clone(),
                        text,
                    })
                    .is_err()
                {
                    return self.refuse(
                        FrameError::new("unavailable", "the connection is closing")
                            .for_client(client_id),
                    );
                }
                None
            }
        }
    }

    /// Answers a frame with an error; closes the socket once the client is abusive.
    fn refuse(&mut self, error: FrameError) -> Option<Option<WsCloseReason>> {
        self.bad_frames += 1;
        self.sink.push(Outbound::Error {
            code: error.code,
            message: error.message,
            client_id: error.client_id,
        });
        (self.bad_frames > self.ctx.config.max_bad_frames)
            .then(|| close(CloseCode::Policy, "too many bad frames"))
    }
}
