//! The loop of one web chat socket: one task on the HTTP worker that accepted it, and
//! no actor.
//!
//! It reads client frames, answers bad ones with `error` frames, performs the hello
//! handshake, and then drives the joined [`Session`]: client messages go in, the
//! conversation's events and the answers to messages come out. It writes frames in order,
//! pings the client, and closes the socket with a code when the client is gone, abusive,
//! too slow, or the server shuts down. Closing follows RFC 6455: protocol errors get 1002,
//! invalid UTF-8 1007, an oversized frame or message 1009 (refused from its header, before
//! its payload is read), and after the closing handshake the server closes the TCP
//! connection itself.
//!
//! Overflow policy: frames wait in a queue of at most `webchat.outbound_queue`. While it
//! is full the session is not polled, so the conversation's events wait in the bus (a
//! watcher that falls behind re-reads the store); a socket whose queue overflows anyway
//! (answers to its own messages) is closed with 1013 and resumes from its last seq
//! without losing anything (every durable event is in the store).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, ready};
use std::time::Duration;

use actix_web::rt::net::TcpStream;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::debug;

use super::WebchatContext;
use super::errors::{ErrorCode, FrameError};
use super::hello::{HelloRefused, join};
use super::protocol::{ClientFrame, ServerFrame, parse_client_frame};
use super::session::{Session, SessionEvent};
use crate::bus::FollowError;

type Ws = WebSocketStream<TcpStream>;

/// Longest the closing handshake and the last frames may take before the server hangs up.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

struct Socket {
    ctx: WebchatContext,
    origin: Option<String>,
    session: Option<Session>,
    /// Frames waiting to be written, oldest first.
    out: VecDeque<Message>,
    bad_frames: u32,
}

fn close(code: CloseCode, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    })
}

fn text(json: String) -> Message {
    Message::Text(json.into())
}

/// Runs the socket until it closes.
pub async fn run(ctx: WebchatContext, ws: Ws, origin: Option<String>) {
    /// Counts the socket open for as long as it runs (however `run` ends).
    struct Open;
    impl Drop for Open {
        fn drop(&mut self) {
            metrics::gauge!("switchboard_webchat_sockets").decrement(1.0);
        }
    }
    metrics::gauge!("switchboard_webchat_sockets").increment(1.0);
    let _open = Open;
    let config = ctx.config.clone();
    let (mut sink, mut stream) = ws.split();
    let mut socket = Socket {
        ctx,
        origin,
        session: None,
        out: VecDeque::new(),
        bad_frames: 0,
    };
    let mut unflushed = false;
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
        let room = socket.out.len() < config.outbound_queue;
        let writing = unflushed || !socket.out.is_empty();
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break close(CloseCode::Away, "server shutting down"),
            event = next_of(socket.session.as_mut()), if room => {
                match event {
                    SessionEvent::Event(event) => {
                        if let Some(frame) = ServerFrame::event(&event) {
                            socket.out.push_back(text(frame.to_json()));
                        }
                    }
                    SessionEvent::Answer(frame) => socket.out.push_back(text(frame)),
                    SessionEvent::Lost(FollowError::Store(error)) => {
                        debug!(error = %error, "cannot read the conversation; closing");
                        break close(CloseCode::Again, "temporarily unavailable; reconnect with last_seq");
                    }
                    SessionEvent::Lost(FollowError::Closed) => break None,
                }
            }
            // After the events, so that what is ready goes out in one write.
            written = write(&mut sink, &mut socket.out, &mut unflushed), if writing => {
                if written.is_err() {
                    break None;
                }
            }
            _ = &mut hello_deadline, if socket.session.is_none() => {
                let error = FrameError::new(ErrorCode::HelloTimeout, "no hello within the time allowed");
                socket.out.push_back(text(ServerFrame::error(&error).to_json()));
                break close(CloseCode::Policy, "hello timeout");
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > client_timeout {
                    break close(CloseCode::Away, "client timed out");
                }
                socket.out.push_back(Message::Ping(Default::default()));
            }
            frame = stream.next() => {
                let message = match frame {
                    None => break None,
                    Some(Err(error)) => break close_for(&error),
                    Some(Ok(message)) => message,
                };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => {
                        // Boxed: a frame's handling (a hello, a message awaiting its
                        // ack) is the largest state of this loop, and an idle socket
                        // would hold room for it all its life.
                        if let Some(reason) = Box::pin(socket.on_text(&text)).await {
                            break reason;
                        }
                    }
                    Message::Binary(_) => {
                        if let Some(reason) = socket.refuse(FrameError::new(
                            ErrorCode::UnsupportedFrame, "binary frames are not part of the protocol"))
                        {
                            break reason;
                        }
                    }
                    // tungstenite answers pings itself (sent with the next write).
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => unflushed = true,
                    Message::Close(frame) => {
                        debug!(?frame, "client closed the socket");
                        break None;
                    }
                }
            }
        }
    };
    drop(socket.session.take());
    finish(sink, stream, socket.out, reason).await;
}

/// The close code for a read that failed: RFC 6455 §7.4.1.
fn close_for(error: &WsError) -> Option<CloseFrame> {
    match error {
        WsError::Utf8(_) => close(CloseCode::Invalid, "text is not valid UTF-8"),
        WsError::Capacity(_) => close(CloseCode::Size, "frame or message too large"),
        WsError::Protocol(e) => {
            debug!(error = %e, "websocket protocol error");
            close(CloseCode::Protocol, "protocol error")
        }
        // The connection is gone (or the peer closed): nothing to say.
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Io(_)
        | WsError::Tls(_)
        | WsError::WriteBufferFull(_)
        | WsError::Url(_)
        | WsError::Http(_)
        | WsError::HttpFormat(_)
        | WsError::AttackAttempt => None,
    }
}

/// Writes every queued frame and flushes. Cancel safe: a frame leaves the queue only
/// once the connection has taken it.
async fn write(
    sink: &mut SplitSink<Ws, Message>,
    out: &mut VecDeque<Message>,
    unflushed: &mut bool,
) -> Result<(), WsError> {
    poll_fn(|cx| {
        while !out.is_empty() {
            ready!(sink.poll_ready_unpin(cx))?;
            if let Some(message) = out.pop_front() {
                sink.start_send_unpin(message)?;
                metrics::counter!("switchboard_webchat_frames_sent_total").increment(1);
                *unflushed = true;
            }
        }
        ready!(sink.poll_flush_unpin(cx))?;
        *unflushed = false;
        Poll::Ready(Ok(()))
    })
    .await
}

/// Ends the socket: the frames that explain why, the close frame, the client's answer
/// to it (bounded in time), and then the server drops the TCP connection itself.
async fn finish(
    mut sink: SplitSink<Ws, Message>,
    mut stream: SplitStream<Ws>,
    mut out: VecDeque<Message>,
    reason: Option<CloseFrame>,
) {
    let closing = async {
        let mut unflushed = true;
        if write(&mut sink, &mut out, &mut unflushed).await.is_err() {
            return;
        }
        match reason {
            Some(frame) => {
                if sink.send(Message::Close(Some(frame))).await.is_err() {
                    return;
                }
                // The client answers with its own close frame; then we hang up.
                while let Some(Ok(message)) = stream.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            }
            // The client closed first: its close frame's answer is queued; send it.
            None => {
                let _ = sink.close().await;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
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
    async fn on_text(&mut self, text_frame: &str) -> Option<Option<CloseFrame>> {
        let frame = match parse_client_frame(text_frame, self.ctx.config.max_text_chars) {
            Ok(frame) => frame,
            Err(error) => {
                metrics::counter!("switchboard_webchat_frames_total", "type" => "invalid")
                    .increment(1);
                return self.refuse(error);
            }
        };
        let kind = match &frame {
            ClientFrame::Hello(_) => "hello",
            ClientFrame::Message { .. } => "message",
            ClientFrame::Typing => "typing",
        };
        metrics::counter!("switchboard_webchat_frames_total", "type" => kind).increment(1);
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
                        // The connection's span (`upgrade.rs`) learns what it serves.
                        let span = tracing::Span::current();
                        span.record("tenant", joined.session.tenant_id());
                        span.record("conversation", joined.session.conversation_id());
                        self.out.extend(joined.frames.into_iter().map(text));
                        self.session = Some(joined.session);
                        None
                    }
                    Err(HelloRefused::Error(error)) => self.refuse(error),
                    Err(HelloRefused::Fatal(error)) => {
                        self.out
                            .push_back(text(ServerFrame::error(&error).to_json()));
                        Some(close(CloseCode::Policy, "origin not allowed"))
                    }
                }
            }
            ClientFrame::Typing => {
                match self.session.as_mut() {
                    Some(session) => session.typing(),
                    None => {
                        return self.refuse(FrameError::new(
                            ErrorCode::HelloRequired,
                            "send hello before typing",
                        ));
                    }
                }
                None
            }
            ClientFrame::Message {
                client_id,
                text: body,
            } => {
                let Some(session) = self.session.as_mut() else {
                    return self.refuse(
                        FrameError::new(ErrorCode::HelloRequired, "send hello before any message")
                            .for_client(client_id),
                    );
                };
                // Too many waiting is a rate limit, not abuse: it does not count as a bad frame.
                if let Err(error) = session.submit(client_id, body) {
                    self.out
                        .push_back(text(ServerFrame::error(&error).to_json()));
                }
                None
            }
        }
    }

    /// Answers a frame with an error; closes the socket once the client is abusive.
    fn refuse(&mut self, error: FrameError) -> Option<Option<CloseFrame>> {
        self.bad_frames += 1;
        self.out
            .push_back(text(ServerFrame::error(&error).to_json()));
        (self.bad_frames > self.ctx.config.max_bad_frames)
            .then(|| close(CloseCode::Policy, "too many bad frames"))
    }
}
