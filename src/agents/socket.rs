//! The agent WebSocket: one task per socket, like web chat's.
//!
//! After `hello` (the agent's token) the agent is present (`agent:<id>`, kept alive by
//! this node while the socket is open), gets `welcome` and its `inbox`, and a new
//! `inbox` whenever it changes (checked every `agents.sweep_ms` against the store, so
//! changes made on any node show). Each followed conversation has a `bus::Follower` in a
//! task of its own: the store's events after the agent's `last_seq`, then live ones, in
//! seq order and exactly once, so an agent who reconnects with the last seq it saw
//! misses nothing and sees nothing twice. A conversation that leaves the agent's inbox
//! is unfollowed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::rt::net::TcpStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::debug;

use super::actions;
use super::protocol::{ClientFrame, ServerFrame, parse};
use crate::actors::AbortOnDrop;
use crate::bus::{BusEvent, Follower};
use crate::channels::webchat::WebchatContext;
use crate::store::{AgentRow, HandoffRow, InboxView};
use crate::transcript::Message;

type Ws = WebSocketStream<TcpStream>;

/// The path of the agent socket.
pub const PATH: &str = "/v1/agent/ws";
/// Conversations listed in an inbox frame.
const INBOX_LIMIT: i64 = 1_000;
/// Conversations one socket may follow at once.
const MAX_FOLLOWS: usize = 200;
/// Frames a slow agent may have waiting before its socket is closed (it reconnects
/// with its last seqs and loses nothing).
const QUEUE: usize = 4_096;

fn text(json: String) -> WsMessage {
    WsMessage::Text(json.into())
}

fn error(code: &str, message: &str) -> WsMessage {
    text(ServerFrame::Error { code, message }.to_json())
}

/// Runs the socket until it closes.
pub async fn run(ctx: WebchatContext, ws: Ws) {
    let (mut sink, mut stream) = ws.split();
    let hello_timeout = Duration::from_millis(ctx.config.hello_timeout_ms);
    // The first frame must be a valid hello.
    let agent = match tokio::time::timeout(hello_timeout, stream.next()).await {
        Ok(Some(Ok(WsMessage::Text(frame)))) => match parse(&frame) {
            Ok(ClientFrame::Hello { token, status }) => {
                match crate::agents::token::authenticate(&ctx.runtime.services().store, &token)
                    .await
                {
                    Ok(Some(agent)) => Some((agent, status)),
                    Ok(None) => {
                        let _ = sink
                            .send(error("unauthorized", "unknown agent token"))
                            .await;
                        None
                    }
                    Err(_) => {
                        let _ = sink.send(error("unavailable", "try again shortly")).await;
                        None
                    }
                }
            }
            Ok(_) => {
                let _ = sink
                    .send(error("hello_required", "the first frame must be hello"))
                    .await;
                None
            }
            Err(message) => {
                let _ = sink.send(error("invalid_frame", &message)).await;
                None
            }
        },
        _ => None,
    };
    let Some((agent, status)) = agent else {
        let _ = sink
            .send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::Policy,
                reason: "sign in with hello first".into(),
            })))
            .await;
        return;
    };
    let status = match status.as_deref() {
        Some("away") => "away",
        _ => "online",
    };
    let presence = Presence::announce(&ctx, &agent, status);
    let _ = sink
        .send(text(ServerFrame::Welcome { agent: &agent }.to_json()))
        .await;

    let (events_tx, mut events) = mpsc::channel::<(String, Arc<BusEvent>)>(QUEUE);
    let mut follows: HashMap<String, AbortOnDrop> = HashMap::new();
    let mut typed: HashMap<String, Instant> = HashMap::new();
    let mut inbox: Option<Vec<HandoffRow>> = None;
    let mut poll = tokio::time::interval(Duration::from_millis(
        ctx.runtime.services().config.agents.sweep_ms,
    ));
    let mut heartbeat =
        tokio::time::interval(Duration::from_secs(ctx.config.heartbeat_interval_secs));
    let shutdown = ctx.shutdown.clone();

    let reason = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Some((CloseCode::Away, "server shutting down")),
            _ = heartbeat.tick() => {
                if sink.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break None;
                }
            }
            _ = poll.tick() => {
                let Ok(now) = ctx.runtime.services().store
                    .inbox(&agent.tenant_id, &agent.id, &agent.queues, InboxView::All, INBOX_LIMIT)
                    .await else { continue };
                if inbox.as_ref() != Some(&now) {
                    // Conversations that left the inbox are unfollowed.
                    let gone: Vec<String> = follows
                        .keys()
                        .filter(|id| !now.iter().any(|row| row.conversation_id == **id))
                        .cloned()
                        .collect();
                    let mut frames = Vec::with_capacity(gone.len() + 1);
                    for id in gone {
                        follows.remove(&id);
                        frames.push(text(ServerFrame::Unfollowed { conversation_id: &id }.to_json()));
                    }
                    frames.push(text(ServerFrame::Inbox { conversations: &now }.to_json()));
                    let mut sent = true;
                    for frame in frames {
                        sent = sent && sink.send(frame).await.is_ok();
                    }
                    if !sent {
                        break None;
                    }
                    inbox = Some(now);
                }
            }
            Some((conversation_id, event)) = events.recv() => {
                if !follows.contains_key(&conversation_id) {
                    continue;
                }
                let frame = match event.as_ref() {
                    BusEvent::Message(message) => message_frame(&conversation_id, message),
                    BusEvent::Typing { role, .. } => text(
                        ServerFrame::Typing { conversation_id: &conversation_id, role: *role }.to_json(),
                    ),
                    _ => continue,
                };
                if sink.send(frame).await.is_err() {
                    break None;
                }
            }
            frame = stream.next() => {
                let frame = match frame {
                    Some(Ok(WsMessage::Text(frame))) => frame,
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(_)) => continue, // pings are answered by the library
                };
                let reply = match parse(&frame) {
                    Err(message) => Some(error("invalid_frame", &message)),
                    Ok(ClientFrame::Hello { .. }) => Some(error("invalid_frame", "already signed in")),
                    Ok(ClientFrame::Presence { status }) => match status.as_str() {
                        "online" | "away" => {
                            presence.set(&ctx, &agent, &status);
                            None
                        }
                        _ => Some(error("invalid_frame", "`status` must be online or away")),
                    },
                    Ok(ClientFrame::Unfollow { conversation_id }) => {
                        follows.remove(&conversation_id);
                        None
                    }
                    Ok(ClientFrame::Typing { conversation_id }) => {
                        if follows.contains_key(&conversation_id) {
                            typing(&ctx, &agent, &conversation_id, &mut typed);
                            None
                        } else {
                            Some(error("conversation_not_found", "follow the conversation first"))
                        }
                    }
                    Ok(ClientFrame::Follow { conversation_id, last_seq }) => {
                        if follows.len() >= MAX_FOLLOWS && !follows.contains_key(&conversation_id) {
                            Some(error("too_many_follows", "unfollow a conversation first"))
                        } else {
                            match actions::visible(&ctx.runtime, &agent, &conversation_id).await {
                                Ok(_) => {
                                    let task = follow(&ctx, &agent, conversation_id.clone(),
                                        last_seq.max(0), events_tx.clone()).await;
                                    follows.insert(conversation_id, task);
                                    None
                                }
                                Err(actions::ActionError::NotFound) => {
                                    Some(error("conversation_not_found", "not in your inbox"))
                                }
                                Err(_) => Some(error("unavailable", "try again shortly")),
                            }
                        }
                    }
                };
                if let Some(reply) = reply
                    && sink.send(reply).await.is_err()
                {
                    break None;
                }
            }
        }
    };
    drop(follows);
    presence.leave(&ctx, &agent);
    if let Some((code, reason)) = reason {
        let _ = sink
            .send(WsMessage::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = sink.close().await;
    debug!(tenant_id = %agent.tenant_id, agent_id = %agent.id, "agent socket closed");
}

fn message_frame(conversation_id: &str, message: &Message) -> WsMessage {
    text(
        ServerFrame::Message {
            conversation_id,
            message,
        }
        .to_json(),
    )
}

/// The agent is typing in a followed conversation: told to the end user, at most once a
/// second per conversation.
fn typing(
    ctx: &WebchatContext,
    agent: &AgentRow,
    conversation_id: &str,
    typed: &mut HashMap<String, Instant>,
) {
    let now = Instant::now();
    if typed
        .get(conversation_id)
        .is_some_and(|at| now.duration_since(*at) < Duration::from_secs(1))
    {
        return;
    }
    typed.insert(conversation_id.to_owned(), now);
    ctx.runtime.services().bus.publish(
        &Arc::from(agent.tenant_id.as_str()),
        conversation_id,
        BusEvent::Typing {
            role: crate::transcript::Role::Agent,
            author: Some(agent.name.clone()),
        },
    );
}

/// Follows one conversation in a task that forwards its durable events and the end
/// user's typing.
async fn follow(
    ctx: &WebchatContext,
    agent: &AgentRow,
    conversation_id: String,
    last_seq: i64,
    to: mpsc::Sender<(String, Arc<BusEvent>)>,
) -> AbortOnDrop {
    let services = ctx.runtime.services();
    let mut follower = Follower::start(
        &services.bus,
        services.store.clone(),
        Arc::from(agent.tenant_id.as_str()),
        conversation_id.clone(),
        last_seq,
    )
    .await;
    AbortOnDrop(tokio::spawn(async move {
        while let Ok(event) = follower.next().await {
            // The agent's own typing is not echoed back.
            let wanted = match event.as_ref() {
                BusEvent::Message(_) => true,
                BusEvent::Typing { role, .. } => *role == crate::transcript::Role::User,
                _ => false,
            };
            if wanted && to.send((conversation_id.clone(), event)).await.is_err() {
                return;
            }
        }
    }))
}

/// The socket's presence entry (one per socket, so an agent's second tab closing does
/// not take the first offline).
struct Presence {
    id: String,
}

impl Presence {
    fn announce(ctx: &WebchatContext, agent: &AgentRow, status: &str) -> Self {
        let this = Self {
            id: format!("agent:{}:{}", agent.id, crate::transcript::new_id()),
        };
        this.set(ctx, agent, status);
        this
    }

    fn set(&self, ctx: &WebchatContext, agent: &AgentRow, status: &str) {
        let cluster = &ctx.runtime.services().cluster;
        cluster.presence().online(
            &agent.tenant_id,
            super::presence_entry(agent, self.id.clone(), cluster.node_id(), status),
            true,
        );
    }

    fn leave(&self, ctx: &WebchatContext, agent: &AgentRow) {
        ctx.runtime
            .services()
            .cluster
            .presence()
            .offline(&agent.tenant_id, &self.id);
    }
}
