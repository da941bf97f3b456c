//! The loop of one web chat socket: one task on the HTTP worker that accepted it, and
//! no actor.
//!
//! It reads client frames (the actix-ws stream is not `Send`, so it stays here), answers
//! bad ones with `error` frames, performs the hello handshake, and then drives the
//! joined [`Session`]: client messages go in, the conversation's events and the answers
//! to messages come out. It writes frames in order, pings the client, and closes the
//! socket with a code when the client is gone, abusive, too slow, or the server shuts
//! down.
//!
//! Overflow policy: frames wait in a queue of at most `webchat.outbound_queue`. While it
//! is full the session is not polled, so the conversation's events back up in the bus;
//! a socket that falls behind the bus, or whose queue overflows with answers, is closed
//! with 1013 and resumes from its last seq without losing anything (every durable event
//! is in the store).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, MessageStream};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use tokio::time::Instant;
use tracing::debug;

use super::WebchatContext;
use super::errors::{ErrorCode, FrameError};
use super::hello::{HelloRefused, join};
use super::protocol::{ClientFrame, ServerFrame, parse_client_frame};
use super::session::{Session, SessionEvent};
use crate::bus::FollowError;

/// Longest a single frame may take to be handed to the connection before the client
/// counts as stalled.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
    let (response, ws, stream) = actix_ws::handle(&req, body)?;
    let ctx = ctx.get_ref().clone();
    actix_web::rt::spawn(run(ctx, ws, stream, origin));
    Ok(response)
}

struct Socket {
    ctx: WebchatContext,
    origin: Option<String>,
    session: Option<Session>,
    /// Frames waiting to be written, oldest first.
    out: VecDeque<String>,
    bad_frames: u32,
}

fn close(code: CloseCode, description: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code,
        description: Some(description.to_string()),
    })
}

async fn run(
    ctx: WebchatContext,
    mut ws: actix_ws::Session,
    stream: MessageStream,
    origin: Option<String>,
) {
    let config = ctx.config.clone();
    let mut stream = stream
        .max_frame_size(config.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(config.max_frame_bytes);
    let mut socket = Socket {
        ctx,
        origin,
        session: None,
        out: VecDeque::new(),
        bad_frames: 0,
    };
    let mut writing: Option<LocalBoxFuture<'static, bool>> = None;
    let hello_deadline = tokio::time::sleep(Duration::from_millis(config.hello_timeout_ms));
    tokio::pin!(hello_deadline);
    let heartbeat_every = Duration::from_secs(config.heartbeat_interval_secs);
    let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat_every, heartbeat_every);
    let client_timeout = Duration::from_secs(config.client_timeout_secs);
    let mut last_heard = Instant::now();
    let shutdown = socket.ctx.shutdown.clone();

    let reason = loop {
        if socket.out.len() > config.outbound_queue {
            break close(
                CloseCode::Again,
                "too slow to keep up; reconnect with last_seq",
            );
        }
        if writing.is_none()
            && let Some(frame) = socket.out.pop_front()
        {
            let mut writer = ws.clone();
            writing = Some(
                async move {
                    matches!(
                        tokio::time::timeout(WRITE_TIMEOUT, writer.text(frame)).await,
                        Ok(Ok(()))
                    )
                }
                .boxed_local(),
            );
        }
        let room = socket.out.len() < config.outbound_queue;
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break close(CloseCode::Away, "server shutting down"),
            written = poll_fn(|cx| match writing.as_mut() {
                Some(write) => write.poll_unpin(cx),
                None => Poll::Pending,
            }), if writing.is_some() => {
                writing = None;
                if !written {
                    break None;
                }
            }
            event = next_of(socket.session.as_mut()), if room => {
                match event {
                    SessionEvent::Event(event) => {
                        if let Some(frame) = ServerFrame::event(&event) {
                            socket.out.push_back(frame.to_json());
                        }
                    }
                    SessionEvent::Answer(frame) => socket.out.push_back(frame),
                    SessionEvent::Lost(FollowError::Lagged(missed)) => {
                        debug!(missed, "socket fell behind the bus; asking the client to resync");
                        break close(CloseCode::Again, "fell behind; reconnect with last_seq");
                    }
                    SessionEvent::Lost(FollowError::Store(error)) => {
                        debug!(error = %error, "cannot read the conversation; closing");
                        break close(CloseCode::Again, "temporarily unavailable; reconnect with last_seq");
                    }
                    SessionEvent::Lost(FollowError::Closed) => break None,
                }
            }
            _ = &mut hello_deadline, if socket.session.is_none() => {
                let error = FrameError::new(ErrorCode::HelloTimeout, "no hello within the time allowed");
                socket.out.push_back(ServerFrame::error(&error).to_json());
                break close(CloseCode::Policy, "hello timeout");
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > client_timeout {
                    break close(CloseCode::Away, "client timed out");
                }
                if ws.ping(b"").await.is_err() { break None; }
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
                            break reason;
                        }
                    }
                    AggregatedMessage::Binary(_) => {
                        if let Some(reason) = socket.refuse(FrameError::new(
                            ErrorCode::UnsupportedFrame, "binary frames are not part of the protocol"))
                        {
                            break reason;
                        }
                    }
                    AggregatedMessage::Ping(bytes) => {
                        if ws.pong(&bytes).await.is_err() { break None; }
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
    // Say why before closing (a refused hello, too many bad frames), when there is
    // something to say and the client still reads.
    let explained = async {
        if let Some(write) = writing.take() {
            write.await;
        }
        for frame in socket.out.drain(..) {
            if ws.text(frame).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, explained).await;
    drop(socket.session.take());
    let _ = ws.close(reason).await;
}

/// The session's next event; never, before the hello.
async fn next_of(session: Option<&mut Session>) -> SessionEvent {
    match session {
        Some(session) => session.next().await,
        None => std::future::pending().await,
    }
}

impl Socket {
    /// Handles a text frame; returns a close reason when the socket must close.
    async fn on_text(&mut self, text: &str) -> Option<Option<CloseReason>> {
        let frame = match parse_client_frame(text, self.ctx.config.max_text_chars) {
            Ok(frame) => frame,
            Err(error) => return self.refuse(error),
        };
        match frame {
            ClientFrame::Hello(_) if self.session.is_some() => self.refuse(FrameError::new(
                ErrorCode::AlreadyJoined,
                "this socket has joined a conversation already; open another socket to switch",
            )),
            ClientFrame::Hello(hello) => {
                // Boxed: the handshake's future is large (store and actor calls) and is
                // needed once, while this socket's task lives as long as the socket. Inline,
                // it would make every idle socket's task that much bigger.
                let handshake = Box::pin(join(&self.ctx, hello, self.origin.as_deref()));
                match handshake.await {
                    Ok(joined) => {
                        self.out.extend(joined.frames);
                        self.session = Some(joined.session);
                        None
                    }
                    Err(HelloRefused::Error(error)) => self.refuse(error),
                    Err(HelloRefused::Fatal(error)) => {
                        self.out.push_back(ServerFrame::error(&error).to_json());
                        Some(close(CloseCode::Policy, "origin not allowed"))
                    }
                }
            }
            ClientFrame::Message { client_id, text } => {
                let Some(session) = self.session.as_mut() else {
                    return self.refuse(
                        FrameError::new(ErrorCode::HelloRequired, "send hello before any message")
                            .for_client(client_id),
                    );
                };
                // Too many waiting is a rate limit, not abuse: it does not count as a bad frame.
                if let Err(error) = session.submit(client_id, text) {
                    self.out.push_back(ServerFrame::error(&error).to_json());
                }
                None
            }
        }
    }

    /// Answers a frame with an error; closes the socket once the client is abusive.
    fn refuse(&mut self, error: FrameError) -> Option<Option<CloseReason>> {
        self.bad_frames += 1;
        self.out.push_back(ServerFrame::error(&error).to_json());
        (self.bad_frames > self.ctx.config.max_bad_frames)
            .then(|| close(CloseCode::Policy, "too many bad frames"))
    }
}
