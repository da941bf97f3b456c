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
            .subscribe(args.tenant.id(), &args.conversation_id);
        let mut last_sent = args.replay_after;
        loop {
            let page = match services
                .store
                .events_after(
                    args.tenant.id(),
                    &args.conversation_id,
                    last_sent,
                    REPLAY_PAGE,
                )
                .await
            {
                Ok(page) => page,
                Err(_) => {
                    args.sink.close(CloseReason::Unavailable);
                    return Ok(());
                }
            };
            let done = (page.len() as i64) < REPLAY_PAGE;
            for message in page {
                last_sent = message.seq;
                if !args
                    .sink
                    .push(Outbound::Event(Arc::new(BusEvent::Message(message))))
                {
                    return Ok(());
                }
            }
            if done {
                break;
            }
        }
        let sink = args.sink.clone();
        state._forwarder = Some(AbortOnDrop(tokio::spawn(forward(
            subscription,
            sink,
            last_sent,
        ))));
        // Joining wakes the conversation: a new one starts its flow, a resumed one
        // finishes work a restart interrupted (queued input, an LLM reply in flight).
        args.tenant.wake(&args.conversation_id);
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
                    TurnError::Store | TurnError::Unavailable | TurnError::NotInHumanMode => {
                        "unavailable"
                    }
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

/// Forwards live bus events to the socket, skipping durable ones already replayed.
async fn forward(mut subscription: Subscription, sink: ConnectionSink, mut last_sent: i64) {
    loop {
        match subscription.recv().await {
            Ok(event) => {
                if let BusEvent::Message(message) = event.as_ref() {
                    if message.seq <= last_sent {
                        continue;
                    }
                    last_sent = message.seq;
                }
                if !sink.push(Outbound::Event(event)) {
                    return;
                }
            }
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
