//! [`Session`]: a socket that joined a conversation — no actor, just state polled by the
//! socket's own task.
//!
//! It follows the conversation ([`Follower`]: replay after the client's `last_seq`, then
//! live events, without gap or duplicate), keeps the visitor's presence entry, and
//! carries the client's messages to the conversation one at a time, in the order they
//! arrived, turning each answer into an `ack` or an `error` frame. Joining wakes the
//! conversation, so work a restart interrupted resumes while someone watches.
//!
//! Bounds: at most [`MAX_WAITING`] messages wait for their turn (beyond: `rate_limited`),
//! and the connection's [`MessageLimiter`] is asked before each one is sent on.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::WebchatContext;
use super::errors::{ErrorCode, FrameError};
use super::protocol::ServerFrame;
use crate::actors::TenantHandle;
use crate::bus::{BusEvent, FollowError, Follower};
use crate::cluster::presence::{Presence, PresenceEntry, PresenceKind};
use crate::cluster::rate_limit::MessageLimiter;
use crate::store::now_ms;
use crate::transcript::new_id;
use crate::turn::{Inbound, Source};

/// Messages of one socket waiting to be sent on to the conversation.
pub const MAX_WAITING: usize = 64;

pub struct Session {
    follower: Follower,
    messages: Messages,
    _presence: PresenceGuard,
    /// When the visitor's typing was last passed on (at most one a second).
    typed_at: Option<std::time::Instant>,
}

/// What a session has to say next.
pub enum SessionEvent {
    /// An event of the conversation, in order.
    Event(Arc<BusEvent>),
    /// The `ack` or `error` frame answering a client message.
    Answer(String),
    /// The conversation can no longer be followed; the client should resume.
    Lost(FollowError),
}

/// The client's messages on their way to the conversation, one at a time.
struct Messages {
    tenant: TenantHandle,
    conversation_id: Arc<str>,
    limiter: Arc<dyn MessageLimiter>,
    /// Received and not yet sent on: (client id, text).
    waiting: VecDeque<(String, String)>,
    /// The message being stored now; resolves to its `ack` or `error` frame.
    in_flight: Option<BoxFuture<'static, String>>,
}

impl Session {
    /// Joins the conversation: follows it from `replay_after`, marks the visitor online
    /// and wakes the conversation.
    pub async fn start(
        ctx: &WebchatContext,
        tenant: TenantHandle,
        conversation_id: String,
        visitor_id: String,
        replay_after: i64,
    ) -> Self {
        let services = tenant.services();
        let follower = Follower::start(
            &services.bus,
            services.store.clone(),
            tenant.id().clone(),
            conversation_id.clone(),
            replay_after,
        )
        .await;
        let limiter = services
            .cluster
            .message_limiter(tenant.id(), &visitor_id, &ctx.config);
        let presence = PresenceGuard::online(&tenant, &conversation_id, visitor_id);
        // A new conversation starts its flow; a resumed one finishes work a restart
        // interrupted (queued input, an LLM reply in flight).
        tenant.wake(&conversation_id);
        Self {
            follower,
            messages: Messages {
                tenant,
                conversation_id: Arc::from(conversation_id),
                limiter,
                waiting: VecDeque::new(),
                in_flight: None,
            },
            _presence: presence,
            typed_at: None,
        }
    }

    /// The visitor is typing: told to whoever follows the conversation (a human agent),
    /// at most once a second. Nothing is stored.
    pub fn typing(&mut self) {
        if self
            .typed_at
            .is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1))
        {
            return;
        }
        self.typed_at = Some(std::time::Instant::now());
        let tenant = &self.messages.tenant;
        tenant.services().bus.publish(
            tenant.id(),
            &self.messages.conversation_id,
            BusEvent::Typing {
                role: crate::transcript::Role::User,
                author: None,
            },
        );
    }

    /// What to send the client next. Cancel safe.
    pub async fn next(&mut self) -> SessionEvent {
        let Self {
            follower, messages, ..
        } = self;
        // Answers first: a message's ack is sent before the events of the turn that
        // answers it are published, so a client sees its ack before the reply.
        tokio::select! {
            biased;
            frame = messages.answered() => SessionEvent::Answer(frame),
            event = follower.next() => match event {
                Ok(event) => SessionEvent::Event(event),
                Err(error) => SessionEvent::Lost(error),
            },
        }
    }

    /// The tenant of the joined conversation.
    pub fn tenant_id(&self) -> &str {
        self.messages.tenant.id()
    }

    pub fn conversation_id(&self) -> &str {
        &self.messages.conversation_id
    }

    /// Queues a client message; refused when too many wait already.
    pub fn submit(&mut self, client_id: String, text: String) -> Result<(), FrameError> {
        let waiting = &mut self.messages.waiting;
        if waiting.len() >= MAX_WAITING {
            return Err(rate_limited(client_id));
        }
        waiting.push_back((client_id, text));
        Ok(())
    }
}

impl Messages {
    /// The answer to the oldest message sent on, as a frame; pending while there is none.
    /// Cancel safe: the message in flight stays in flight.
    pub async fn answered(&mut self) -> String {
        poll_fn(|cx| {
            if self.in_flight.is_none() {
                let Some((client_id, text)) = self.waiting.pop_front() else {
                    return Poll::Pending;
                };
                self.in_flight = Some(self.send(client_id, text));
            }
            let Some(in_flight) = self.in_flight.as_mut() else {
                return Poll::Pending;
            };
            let frame = std::task::ready!(in_flight.poll_unpin(cx));
            self.in_flight = None;
            Poll::Ready(frame)
        })
        .await
    }

    /// Counts the message against the limit, then stores it through the conversation.
    fn send(&self, client_id: String, text: String) -> BoxFuture<'static, String> {
        let tenant = self.tenant.clone();
        let conversation_id = self.conversation_id.clone();
        let limiter = self.limiter.clone();
        async move {
            let received = std::time::Instant::now();
            if !limiter.allow().await {
                metrics::counter!("switchboard_user_messages_total", "channel" => "webchat", "outcome" => "rate_limited").increment(1);
                return ServerFrame::error(&rate_limited(client_id)).to_json();
            }
            let inbound = Inbound {
                source: Source::Webchat,
                dedup_key: format!("{conversation_id}:{client_id}"),
                text,
            };
            match tenant.send_user_message(&conversation_id, inbound).await {
                Ok(ack) => {
                    metrics::histogram!("switchboard_ack_seconds").record(received.elapsed().as_secs_f64());
                    metrics::counter!("switchboard_user_messages_total", "channel" => "webchat", "outcome" => "stored").increment(1);
                    ServerFrame::Ack {
                        client_id: &client_id,
                        message_id: &ack.message_id,
                        seq: ack.seq,
                    }
                    .to_json()
                }
                Err(error) => {
                    metrics::counter!("switchboard_user_messages_total", "channel" => "webchat", "outcome" => "refused").increment(1);
                    ServerFrame::error(&FrameError::of_turn(&error, client_id)).to_json()
                }
            }
        }
        .boxed()
    }
}

fn rate_limited(client_id: String) -> FrameError {
    FrameError::new(
        ErrorCode::RateLimited,
        "too many messages; slow down and resend with the same client_id",
    )
    .for_client(client_id)
}

/// The socket's presence entry, online while the session lives.
struct PresenceGuard {
    presence: Arc<dyn Presence>,
    tenant_id: Arc<str>,
    id: String,
}

impl PresenceGuard {
    fn online(tenant: &TenantHandle, conversation_id: &str, visitor_id: String) -> Self {
        let cluster = &tenant.services().cluster;
        let id = format!("conn:{}", new_id());
        cluster.presence().online(
            tenant.id(),
            PresenceEntry {
                id: id.clone(),
                kind: PresenceKind::Connection,
                subject: visitor_id,
                conversation_id: Some(conversation_id.to_string()),
                node: cluster.node_id().to_string(),
                since: now_ms(),
                status: None,
            },
            true,
        );
        Self {
            presence: cluster.presence().clone(),
            tenant_id: tenant.id().clone(),
            id,
        }
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.presence.offline(&self.tenant_id, &self.id);
    }
}
