//! ConnectionActor: one per joined web chat socket.
//!
//! It watches its conversation (replaying stored events after the client's `last_seq`,
//! then the live ones, with no gap and no duplicate), and carries the client's messages
//! to the conversation, turning the conversation's answer into an ack. Joining wakes the
//! conversation actor, so work a restart interrupted resumes while someone watches. It speaks only
//! internal types ([`Outbound`]); the web chat edge turns them into protocol frames.
//!
//! Overflow policy: frames go to the socket through a bounded queue. A client too slow
//! to drain it is disconnected with [`CloseReason::SlowConsumer`]; it reconnects with its
//! last seq and loses nothing, because every durable event is in the store.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{mpsc, watch};
use tracing::debug;

use super::AbortOnDrop;
use super::conversation::{Inbound, TurnError};
use super::tenant::TenantHandle;
use crate::bus::{BusEvent, BusRecvError, Subscription};
use crate::cluster::presence::{PresenceEntry, PresenceKind};
use crate::store::now_ms;
use crate::transcript::new_id;

/// Replay reads the store in pages of this many events.
const REPLAY_PAGE: i64 = 500;

/// What a connection sends towards its socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    /// The socket joined a conversation. Queued by the edge before any replayed event.
    Welcome {
        conversation_id: String,
        visitor_token: String,
        last_seq: i64,
    },
    Ack {
        client_id: String,
        message_id: String,
        seq: i64,
    },
    Event(Arc<BusEvent>),
    Error {
        code: &'static str,
        message: String,
        client_id: Option<String>,
    },
}

/// Why the server closes a socket on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client did not drain its queue; it should resume with `last_seq`.
    SlowConsumer,
    /// The live stream fell behind the bus; the client should resume with `last_seq`.
    Resync,
    /// The store failed during replay.
    Unavailable,
}

/// Where a connection's output goes: frames in order, plus an out-of-band close.
#[derive(Clone)]
pub struct ConnectionSink {
    pub frames: mpsc::Sender<Outbound>,
    pub close: watch::Sender<Option<CloseReason>>,
}

impl ConnectionSink {
    /// Queues a frame; a full queue closes the connection (see the module doc).
    pub fn push(&self, frame: Outbound) -> bool {
        match self.frames.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close.send_replace(Some(CloseReason::SlowConsumer));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn close(&self, reason: CloseReason) {
        self.close.send_replace(Some(reason));
    }
}

pub struct ConnectionArgs {
    pub tenant: TenantHandle,
    pub conversation_id: String,
    /// The visitor behind the socket (presence, cross-node rate limit).
    pub visitor_id: String,
    /// Replay stored events with a seq above this.
    pub replay_after: i64,
    pub sink: ConnectionSink,
}

pub enum ConnectionMsg {
    UserMessage { client_id: String, text: String },
}

pub struct ConnectionActor;

pub struct ConnectionState {
    args: ConnectionArgs,
    /// This socket's presence entry id.
    presence_id: String,
    _forwarder: Option<AbortOnDrop>,
}

impl Actor for ConnectionActor {
    type Msg = ConnectionMsg;
    type State = ConnectionState;
    type Arguments = ConnectionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ConnectionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ConnectionState {
            args,
            presence_id: format!("conn:{}", new_id()),
            _forwarder: None,
        })
    }

    async fn post_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let args = &state.args;
        let services = args.tenant.services();
        // Subscribe before reading the store, so nothing published in between is missed.
        let subscription = services
            .bus
            .subscribe(args.tenant.id(), &args.conversation_id)
            .await;
        let replayer = Replayer {
            tenant: args.tenant.clone(),
            conversation_id: args.conversation_id.clone(),
            sink: args.sink.clone(),
        };
        let Some(last_sent) = replayer.catch_up(args.replay_after, None).await else {
            return Ok(());
        };
        state._forwarder = Some(AbortOnDrop(tokio::spawn(forward(
            subscription,
            replayer,
            last_sent,
        ))));
        services.cluster.presence().online(
            args.tenant.id(),
            PresenceEntry {
                id: state.presence_id.clone(),
                kind: PresenceKind::Connection,
                subject: args.visitor_id.clone(),
                conversation_id: Some(args.conversation_id.clone()),
                node: services.cluster.node_id().to_string(),
                since: now_ms(),
            },
            true,
        );
        // Joining wakes the conversation: a new one starts its flow, a resumed one
        // finishes work a restart interrupted (queued input, an LLM reply in flight).
        args.tenant.wake(&args.conversation_id);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let args = &state.args;
        args.tenant
            .services()
            .cluster
            .presence()
            .offline(args.tenant.id(), &state.presence_id);
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let ConnectionMsg::UserMessage { client_id, text } = msg;
        let args = &state.args;
        if let Some(node) = args.tenant.services().cluster.node()
            && !node
                .allow_visitor_message(args.tenant.id(), &args.visitor_id)
                .await
        {
            args.sink.push(Outbound::Error {
                code: "rate_limited",
                message: "this visitor sends too many messages across its sockets; slow down and resend with the same client_id".into(),
                client_id: Some(client_id),
            });
            return Ok(());
        }
        let inbound = Inbound {
            source: "webchat",
            dedup_key: format!("{}:{client_id}", args.conversation_id),
            text,
        };
        // Awaiting here keeps this client's acks in order; only this socket waits.
        let frame = match args
            .tenant
            .send_user_message(&args.conversation_id, inbound)
            .await
        {
            Ok(ack) => Outbound::Ack {
                client_id,
                message_id: ack.message_id,
                seq: ack.seq,
            },
            Err(error) => Outbound::Error {
                code: match error {
                    TurnError::Store
                    | TurnError::Unavailable
                    | TurnError::NotInHumanMode
                    | TurnError::Moved => "unavailable",
                    TurnError::ClusterUnavailable => "cluster_unavailable",
                    TurnError::NotFound => "conversation_not_found",
                },
                message: format!("{error}; resend it with the same client_id"),
                client_id: Some(client_id),
            },
        };
        args.sink.push(frame);
        Ok(())
    }
}

/// Reads missed events from the store and queues them for the socket.
struct Replayer {
    tenant: TenantHandle,
    conversation_id: String,
    sink: ConnectionSink,
}

impl Replayer {
    /// Queues stored events after `last_sent` (up to `until`, when given); returns the
    /// new last seq, or `None` when the socket is gone or the store failed.
    async fn catch_up(&self, mut last_sent: i64, until: Option<i64>) -> Option<i64> {
        loop {
            let page = self
                .tenant
                .services()
                .store
                .events_after(
                    self.tenant.id(),
                    &self.conversation_id,
                    last_sent,
                    REPLAY_PAGE,
                )
                .await;
            let Ok(page) = page else {
                self.sink.close(CloseReason::Unavailable);
                return None;
            };
            let done = (page.len() as i64) < REPLAY_PAGE;
            for message in page {
                if until.is_some_and(|until| message.seq > until) {
                    return Some(last_sent);
                }
                last_sent = message.seq;
                if !self
                    .sink
                    .push(Outbound::Event(Arc::new(BusEvent::Message(message))))
                {
                    return None;
                }
            }
            if done {
                return Some(last_sent);
            }
        }
    }
}

/// Forwards live bus events to the socket in seq order: durable events already sent are
/// skipped, a gap (an event lost between nodes) is filled from the store, and a resync
/// notice re-reads the store. A repeated delta (a retried publish) is skipped too.
async fn forward(mut subscription: Subscription, replayer: Replayer, mut last_sent: i64) {
    let sink = replayer.sink.clone();
    let mut next_delta: Option<(String, usize)> = None;
    loop {
        match subscription.recv().await {
            Ok(event) => match event.as_ref() {
                BusEvent::Message(message) => {
                    if message.seq <= last_sent {
                        continue;
                    }
                    if message.seq > last_sent + 1
                        && replayer
                            .catch_up(last_sent, Some(message.seq - 1))
                            .await
                            .is_none()
                    {
                        return;
                    }
                    last_sent = message.seq;
                    if !sink.push(Outbound::Event(event)) {
                        return;
                    }
                }
                BusEvent::Delta {
                    message_id,
                    offset,
                    text,
                } => {
                    if let Some((id, next)) = &next_delta
                        && id == message_id
                        && *offset < *next
                    {
                        continue;
                    }
                    next_delta = Some((message_id.clone(), offset + text.chars().count()));
                    if !sink.push(Outbound::Event(event)) {
                        return;
                    }
                }
                BusEvent::Resync => match replayer.catch_up(last_sent, None).await {
                    Some(seq) => last_sent = seq,
                    None => return,
                },
            },
            Err(BusRecvError::Lagged(missed)) => {
                debug!(
                    missed,
                    "connection fell behind the bus; asking the client to resync"
                );
                sink.close(CloseReason::Resync);
                return;
            }
            Err(BusRecvError::Closed) => return,
        }
    }
}
