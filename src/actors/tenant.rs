//! TenantActor: spawns and supervises the conversations and connections of one tenant.
//!
//! It routes every message for a conversation to that conversation's actor, spawning it
//! on demand. Supervision is one-for-one: a failed conversation is restarted from the
//! store, at most `conversation.max_restarts` times per `restart_window_secs`; past that
//! it is quarantined for the window and its messages get [`TurnError::Unavailable`].
//! Passivation is a handshake: the conversation reports it is idle, the tenant stops
//! routing to it and tells it to stop, and buffers whatever arrives until it has gone.
//!
//! In cluster mode a conversation runs here only under this node's lease: the tenant
//! claims it (off the mailbox) before spawning, forwards messages to the owning node when
//! the claim finds one (see [`super::routing`]), releases the lease on passivation, and
//! stops the actor when the lease or a store write says another node took over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{error, info, warn};

use super::connection::{ConnectionActor, ConnectionArgs, ConnectionMsg};
use super::conversation::{
    Ack, ConversationActor, ConversationArgs, ConversationMsg, Inbound, PersistedState, TurnError,
};
use super::routing::{self, Routed};
use super::supervision::RestartIntensity;
use crate::cluster::ClusterError;
use crate::cluster::lease::Claim;
use crate::flow_cache::FlowLoadError;
use crate::services::Services;
use crate::store::{NewConversation, StoreError, TenantRow};
use crate::transcript::new_id;

/// Longest a caller waits for a conversation to store and ack a message.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);
/// Messages held for a conversation that is stopping, restarting or being claimed.
const MAX_BUFFERED: usize = 1_000;
/// How long a known remote owner is trusted before asking Redis again.
const REMOTE_OWNER_TRUST: Duration = Duration::from_secs(1);

pub enum TenantMsg {
    Route {
        conversation_id: String,
        routed: Routed,
    },
    Idle {
        conversation_id: String,
        actor: ActorId,
    },
    SpawnConnection {
        args: Box<ConnectionArgs>,
        reply: RpcReplyPort<Result<ActorRef<ConnectionMsg>, String>>,
    },
    Stats(RpcReplyPort<TenantStats>),
    /// Cluster: the answer to a lease claim.
    Claimed {
        conversation_id: String,
        outcome: Result<Claim, ClusterError>,
    },
    /// Cluster: a forward failed (the owner is gone or gave the conversation up); route
    /// the message again, not trusting `stale_owner` any more.
    Retry {
        conversation_id: String,
        stale_owner: Arc<str>,
        routed: Routed,
    },
    /// Cluster: a store write of this actor was refused by the fence.
    Fenced {
        conversation_id: String,
        actor: ActorId,
    },
    /// Cluster: the lease keeper found this lease taken by another node.
    LeaseLost {
        conversation_id: String,
        fence: i64,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStats {
    pub live_conversations: usize,
    pub connections: usize,
    pub restarts: u64,
}

pub struct TenantArgs {
    pub tenant_id: Arc<str>,
    pub services: Services,
}

pub struct TenantActor;

enum Entry {
    Live {
        actor: ActorRef<ConversationMsg>,
        fence: i64,
    },
    /// Stopping (passivation, lost lease) or failed and about to restart; messages wait
    /// here. `fence` is the lease still held (respawn here with it), `None` once lost.
    Stopping {
        buffer: Vec<Routed>,
        fence: Option<i64>,
    },
    /// Cluster: the lease is being claimed; messages wait here.
    Claiming {
        buffer: Vec<Routed>,
    },
    /// Cluster: another node owns it; messages are forwarded there.
    Remote {
        node: Arc<str>,
        until: Instant,
    },
    Quarantined {
        until: Instant,
    },
}

enum Child {
    Conversation(String),
    Connection,
}

pub struct TenantState {
    tenant_id: Arc<str>,
    services: Services,
    conversations: HashMap<String, Entry>,
    children: HashMap<ActorId, Child>,
    intensity: RestartIntensity<String>,
    connections: usize,
    restarts: u64,
}

impl Actor for TenantActor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let config = &args.services.config.conversation;
        Ok(TenantState {
            intensity: RestartIntensity::new(
                config.max_restarts,
                Duration::from_secs(config.restart_window_secs),
            ),
            tenant_id: args.tenant_id,
            services: args.services,
            conversations: HashMap::new(),
            children: HashMap::new(),
            connections: 0,
            restarts: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::Route {
                conversation_id,
                routed,
            } => state.route(&myself, conversation_id, routed).await,
            TenantMsg::Idle {
                conversation_id,
                actor,
            } => {
                if let Some(Entry::Live { actor: live, fence }) =
                    state.conversations.get(&conversation_id)
                    && live.get_id() == actor
                {
                    let _ = live.cast(ConversationMsg::Passivate);
                    let fence = Some(*fence);
                    state.conversations.insert(
                        conversation_id,
                        Entry::Stopping {
                            buffer: Vec::new(),
                            fence,
                        },
                    );
                }
            }
            TenantMsg::SpawnConnection { args, reply } => {
                let spawned =
                    Actor::spawn_linked(None, ConnectionActor, *args, myself.get_cell()).await;
                let result = match spawned {
                    Ok((actor, _)) => {
                        state.children.insert(actor.get_id(), Child::Connection);
                        state.connections += 1;
                        Ok(actor)
                    }
                    Err(e) => Err(e.to_string()),
                };
                let _ = reply.send(result);
            }
            TenantMsg::Stats(reply) => {
                let live_conversations = state
                    .conversations
                    .values()
                    .filter(|e| matches!(e, Entry::Live { .. }))
                    .count();
                let _ = reply.send(TenantStats {
                    live_conversations,
                    connections: state.connections,
                    restarts: state.restarts,
                });
            }
            TenantMsg::Claimed {
                conversation_id,
                outcome,
            } => state.claimed(&myself, conversation_id, outcome).await,
            TenantMsg::Retry {
                conversation_id,
                stale_owner,
                routed,
            } => {
                if let Some(Entry::Remote { node, .. }) = state.conversations.get(&conversation_id)
                    && *node == stale_owner
                {
                    state.conversations.remove(&conversation_id);
                }
                state.route(&myself, conversation_id, routed).await;
            }
            TenantMsg::Fenced {
                conversation_id,
                actor,
            } => {
                if let Some(Entry::Live { actor: live, .. }) =
                    state.conversations.get(&conversation_id)
                    && live.get_id() == actor
                {
                    state.conversations.insert(
                        conversation_id,
                        Entry::Stopping {
                            buffer: Vec::new(),
                            fence: None,
                        },
                    );
                }
            }
            TenantMsg::LeaseLost {
                conversation_id,
                fence: lost,
            } => {
                if let Some(Entry::Live { actor, fence }) =
                    state.conversations.get(&conversation_id)
                    && *fence == lost
                {
                    warn!(tenant_id = %state.tenant_id, conversation_id = %conversation_id,
                        fence = lost, "lease lost; stopping the conversation here");
                    actor.stop(Some("lease lost".into()));
                    state.conversations.insert(
                        conversation_id,
                        Entry::Stopping {
                            buffer: Vec::new(),
                            fence: None,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Children stop with their tenant: conversations finish the message at hand.
    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("tenant stopping".into()), Some(ACK_TIMEOUT))
            .await;
        for (conversation_id, entry) in state.conversations.drain() {
            if let Entry::Live { fence, .. }
            | Entry::Stopping {
                fence: Some(fence), ..
            } = entry
            {
                routing::release_lease(&state.services, &state.tenant_id, &conversation_id, fence)
                    .await;
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                match state.children.remove(&cell.get_id()) {
                    Some(Child::Connection) => state.connections -= 1,
                    Some(Child::Conversation(id)) => {
                        tracing::debug!(tenant_id = %state.tenant_id, conversation_id = %id,
                            reason = ?reason, "conversation stopped");
                        state.stopped(&myself, id, cell.get_id()).await;
                    }
                    None => {}
                }
            }
            SupervisionEvent::ActorFailed(cell, failure) => {
                match state.children.remove(&cell.get_id()) {
                    Some(Child::Connection) => {
                        state.connections -= 1;
                        warn!(tenant_id = %state.tenant_id, error = %failure, "connection actor failed");
                    }
                    Some(Child::Conversation(id)) => {
                        let (buffer, fence) = match state.conversations.remove(&id) {
                            Some(Entry::Stopping { buffer, fence }) => (buffer, fence),
                            Some(Entry::Live { fence, .. }) => (Vec::new(), Some(fence)),
                            Some(other) => {
                                state.conversations.insert(id.clone(), other);
                                (Vec::new(), None)
                            }
                            None => (Vec::new(), None),
                        };
                        let Some(fence) = fence else {
                            // Its lease was lost anyway: whatever waits goes to the new owner.
                            if !buffer.is_empty() {
                                state.acquire(&myself, id, buffer).await;
                            }
                            return Ok(());
                        };
                        if state.intensity.allow_restart(id.clone(), Instant::now()) {
                            error!(tenant_id = %state.tenant_id, conversation_id = %id,
                                error = %failure, "conversation failed; restarting from the store");
                            state.restarts += 1;
                            state.spawn(&myself, id, fence, buffer).await;
                        } else {
                            error!(tenant_id = %state.tenant_id, conversation_id = %id,
                                error = %failure, "conversation keeps failing; quarantined");
                            for routed in buffer {
                                routed.reject(TurnError::Unavailable);
                            }
                            routing::release_lease(&state.services, &state.tenant_id, &id, fence)
                                .await;
                            let window = Duration::from_secs(
                                state.services.config.conversation.restart_window_secs,
                            );
                            state.conversations.insert(
                                id,
                                Entry::Quarantined {
                                    until: Instant::now() + window,
                                },
                            );
                        }
                    }
                    None => {}
                }
            }
            _ => {}
        }
        state.intensity.prune(Instant::now());
        Ok(())
    }
}

impl TenantState {
    async fn route(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        routed: Routed,
    ) {
        match self.conversations.get_mut(&conversation_id) {
            Some(Entry::Live { actor, fence }) => {
                let fence = *fence;
                let meta = routed.meta();
                if let Err(e) = actor.send_message(routed.msg) {
                    // It died and the supervision event is on its way: hold the message.
                    let msg = match e {
                        ractor::MessagingErr::SendErr(msg) => Some(msg),
                        _ => None,
                    };
                    let buffer = msg.map(|msg| meta.with(msg)).into_iter().collect();
                    self.conversations.insert(
                        conversation_id,
                        Entry::Stopping {
                            buffer,
                            fence: Some(fence),
                        },
                    );
                }
            }
            Some(Entry::Stopping { buffer, .. }) | Some(Entry::Claiming { buffer }) => {
                if buffer.len() < MAX_BUFFERED {
                    buffer.push(routed);
                } else {
                    routed.reject(TurnError::Unavailable);
                }
            }
            Some(Entry::Remote { node, until }) if Instant::now() < *until => {
                let node = node.clone();
                routing::forward(
                    &self.services,
                    myself,
                    &self.tenant_id,
                    node,
                    conversation_id,
                    routed,
                );
            }
            Some(Entry::Quarantined { until }) if Instant::now() < *until => {
                routed.reject(TurnError::Unavailable);
            }
            _ => self.acquire(myself, conversation_id, vec![routed]).await,
        }
    }

    /// Makes this node the conversation's owner, then runs it with `buffer`. On a single
    /// node that is immediate; in cluster mode the lease is claimed in a task and the
    /// messages wait in [`Entry::Claiming`] meanwhile.
    async fn acquire(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        buffer: Vec<Routed>,
    ) {
        let Some(node) = self.services.cluster.node().cloned() else {
            return self.spawn(myself, conversation_id, 0, buffer).await;
        };
        self.conversations
            .insert(conversation_id.clone(), Entry::Claiming { buffer });
        let store = self.services.store.clone();
        let tenant_id = self.tenant_id.clone();
        let myself = myself.clone();
        tokio::spawn(async move {
            let outcome = node
                .claim_conversation(&store, &tenant_id, &conversation_id)
                .await;
            let _ = myself.cast(TenantMsg::Claimed {
                conversation_id,
                outcome,
            });
        });
    }

    async fn claimed(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        outcome: Result<Claim, ClusterError>,
    ) {
        let buffer = match self.conversations.remove(&conversation_id) {
            Some(Entry::Claiming { buffer }) => buffer,
            Some(other) => {
                // Not waiting for this claim (cannot happen: one claim per entry).
                self.conversations.insert(conversation_id.clone(), other);
                if let Ok(Claim::Granted { fence }) = outcome {
                    routing::release_lease(
                        &self.services,
                        &self.tenant_id,
                        &conversation_id,
                        fence,
                    )
                    .await;
                }
                return;
            }
            None => Vec::new(),
        };
        match outcome {
            Ok(Claim::Granted { fence }) => {
                self.spawn(myself, conversation_id, fence, buffer).await;
            }
            Ok(Claim::Elsewhere { node, ttl_ms }) => {
                let node: Arc<str> = Arc::from(node);
                let trust = Duration::from_millis(ttl_ms.max(0) as u64).min(REMOTE_OWNER_TRUST);
                self.conversations.insert(
                    conversation_id.clone(),
                    Entry::Remote {
                        node: node.clone(),
                        until: Instant::now() + trust,
                    },
                );
                for routed in buffer {
                    routing::forward(
                        &self.services,
                        myself,
                        &self.tenant_id,
                        node.clone(),
                        conversation_id.clone(),
                        routed,
                    );
                }
            }
            Err(error) => {
                let turn_error = match error {
                    ClusterError::NotFound => TurnError::NotFound,
                    ClusterError::Unavailable(_) | ClusterError::Protocol(_) => {
                        TurnError::ClusterUnavailable
                    }
                    _ => TurnError::Unavailable,
                };
                warn!(tenant_id = %self.tenant_id, conversation_id = %conversation_id,
                    error = %error, "cannot take the conversation on");
                for routed in buffer {
                    routed.reject(turn_error.clone());
                }
            }
        }
    }

    /// A conversation actor stopped (passivated, fenced, or gone).
    async fn stopped(&mut self, myself: &ActorRef<TenantMsg>, id: String, actor: ActorId) {
        match self.conversations.remove(&id) {
            Some(Entry::Stopping { buffer, fence }) => match fence {
                // Passivated while messages arrived: run it again, still under our lease.
                Some(fence) if !buffer.is_empty() => self.spawn(myself, id, fence, buffer).await,
                Some(fence) => {
                    routing::release_lease(&self.services, &self.tenant_id, &id, fence).await;
                }
                // The lease is lost: whatever waits goes to wherever the conversation is now.
                None if !buffer.is_empty() => self.acquire(myself, id, buffer).await,
                None => {}
            },
            Some(Entry::Live {
                actor: current,
                fence,
            }) => {
                if current.get_id() != actor {
                    self.conversations.insert(
                        id,
                        Entry::Live {
                            actor: current,
                            fence,
                        },
                    );
                } else {
                    // It stopped on its own (e.g. the conversation does not exist).
                    routing::release_lease(&self.services, &self.tenant_id, &id, fence).await;
                }
            }
            Some(other) => {
                self.conversations.insert(id, other);
            }
            None => {}
        }
    }

    /// Spawns a conversation actor (it loads itself from the store) and hands it `buffer`.
    async fn spawn(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        fence: i64,
        buffer: Vec<Routed>,
    ) {
        let args = ConversationArgs {
            tenant_id: self.tenant_id.clone(),
            conversation_id: conversation_id.clone(),
            fence,
            services: self.services.clone(),
            tenant: myself.clone(),
        };
        match Actor::spawn_linked(None, ConversationActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                self.children
                    .insert(actor.get_id(), Child::Conversation(conversation_id.clone()));
                for routed in buffer {
                    let _ = actor.send_message(routed.msg);
                }
                self.conversations
                    .insert(conversation_id, Entry::Live { actor, fence });
            }
            Err(e) => {
                error!(tenant_id = %self.tenant_id, conversation_id = %conversation_id,
                    error = %e, "could not spawn conversation");
                for routed in buffer {
                    routed.reject(TurnError::Unavailable);
                }
                routing::release_lease(&self.services, &self.tenant_id, &conversation_id, fence)
                    .await;
            }
        }
    }
}

/// Errors from opening a conversation.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Flow(#[from] FlowLoadError),
}

/// Cheap-clone handle to a running tenant.
#[derive(Clone)]
pub struct TenantHandle {
    pub(super) actor: ActorRef<TenantMsg>,
    pub(super) info: Arc<TenantRow>,
    pub(super) tenant_id: Arc<str>,
    pub(super) services: Services,
}

impl TenantHandle {
    pub fn id(&self) -> &Arc<str> {
        &self.tenant_id
    }

    pub fn info(&self) -> &TenantRow {
        &self.info
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Creates a conversation on the tenant's entry flow (its active version).
    pub async fn open_conversation(
        &self,
        channel: &str,
        external_user: &str,
    ) -> Result<String, OpenError> {
        let flow_id = &self.info.entry_flow;
        let (version, _) = self.services.flows.active(&self.tenant_id, flow_id).await?;
        let id = new_id();
        let state = serde_json::to_string(&PersistedState::default())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.services
            .store
            .create_conversation(&NewConversation {
                id: &id,
                tenant_id: &self.tenant_id,
                channel,
                external_user,
                flow_id,
                flow_version: version,
                dialog_state: &state,
            })
            .await?;
        info!(tenant_id = %self.tenant_id, conversation_id = %id, channel, flow_id = %flow_id,
            flow_version = version, "conversation opened");
        Ok(id)
    }

    /// Makes sure the conversation's actor runs: it starts the flow if it has not started
    /// yet, and resumes work interrupted by a restart.
    pub fn wake(&self, conversation_id: &str) {
        self.route(conversation_id, ConversationMsg::Start);
    }

    /// Delivers a user message; resolves once it is stored (or found stored before).
    pub async fn send_user_message(
        &self,
        conversation_id: &str,
        inbound: Inbound,
    ) -> Result<Ack, TurnError> {
        self.ask(conversation_id, false, |reply| {
            ConversationMsg::UserMessage {
                inbound: inbound.clone(),
                reply,
            }
        })
        .await
    }

    /// A human agent's message to the user; only while the conversation is handed off.
    pub async fn agent_message(
        &self,
        conversation_id: &str,
        text: String,
    ) -> Result<Ack, TurnError> {
        self.ask(conversation_id, false, |reply| {
            ConversationMsg::AgentMessage {
                text: text.clone(),
                reply,
            }
        })
        .await
    }

    /// The human agent gives the conversation back to the bot; the flow continues.
    pub async fn release(&self, conversation_id: &str) -> Result<(), TurnError> {
        self.ask(conversation_id, false, |reply| ConversationMsg::Release {
            reply,
        })
        .await
    }

    /// Routes a message and waits for the conversation's answer. A conversation that
    /// moved to another node while the message was on its way ([`TurnError::Moved`]) is
    /// routed again, unless the message itself was forwarded here (its sender reroutes).
    pub(super) async fn ask<T: Send + 'static>(
        &self,
        conversation_id: &str,
        forwarded: bool,
        build: impl Fn(RpcReplyPort<Result<T, TurnError>>) -> ConversationMsg,
    ) -> Result<T, TurnError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let call = self
                .actor
                .call(
                    |reply| TenantMsg::Route {
                        conversation_id: conversation_id.to_string(),
                        routed: Routed::new(build(reply), forwarded),
                    },
                    Some(ACK_TIMEOUT),
                )
                .await;
            match call {
                Ok(ractor::rpc::CallResult::Success(Err(TurnError::Moved)))
                    if !forwarded && attempts < 3 => {}
                Ok(ractor::rpc::CallResult::Success(result)) => return result,
                _ => return Err(TurnError::Unavailable),
            }
        }
    }

    /// Spawns the connection actor of a joined web chat socket under this tenant.
    pub async fn spawn_connection(
        &self,
        args: ConnectionArgs,
    ) -> Result<ActorRef<ConnectionMsg>, String> {
        match self
            .actor
            .call(
                |reply| TenantMsg::SpawnConnection {
                    args: Box::new(args),
                    reply,
                },
                Some(ACK_TIMEOUT),
            )
            .await
        {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            _ => Err("tenant unavailable".into()),
        }
    }

    pub async fn stats(&self) -> Option<TenantStats> {
        match self.actor.call(TenantMsg::Stats, Some(ACK_TIMEOUT)).await {
            Ok(ractor::rpc::CallResult::Success(stats)) => Some(stats),
            _ => None,
        }
    }

    /// Adds a system note to the transcript (delivery failures and the like).
    pub fn system_note(&self, conversation_id: &str, text: String) {
        self.route(conversation_id, ConversationMsg::SystemNote { text });
    }

    /// Cluster: this node's lease on the conversation was taken; stop running it here.
    pub fn lease_lost(&self, conversation_id: &str, fence: i64) {
        let _ = self.actor.cast(TenantMsg::LeaseLost {
            conversation_id: conversation_id.to_string(),
            fence,
        });
    }

    /// Fault injection: makes the conversation's actor panic (supervision tests, drills).
    pub fn inject_panic(&self, conversation_id: &str) {
        self.route(conversation_id, ConversationMsg::InjectPanic);
    }

    pub(super) fn route(&self, conversation_id: &str, msg: ConversationMsg) {
        self.route_routed(conversation_id, Routed::new(msg, false));
    }

    pub(super) fn route_routed(&self, conversation_id: &str, routed: Routed) {
        let _ = self.actor.cast(TenantMsg::Route {
            conversation_id: conversation_id.to_string(),
            routed,
        });
    }
}
