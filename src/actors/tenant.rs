//! TenantActor: spawns and supervises the conversations and connections of one tenant.
//!
//! It routes every message for a conversation to that conversation's actor, spawning it
//! on demand. Supervision is one-for-one: a failed conversation is restarted from the
//! store, at most `conversation.max_restarts` times per `restart_window_secs`; past that
//! it is quarantined for the window and its messages get [`TurnError::Unavailable`].
//! Passivation is a handshake: the conversation reports it is idle, the tenant stops
//! routing to it and tells it to stop, and buffers whatever arrives until it has gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::{error, info, warn};

use super::connection::{ConnectionActor, ConnectionArgs, ConnectionMsg};
use super::conversation::{
    Ack, ConversationActor, ConversationArgs, ConversationMsg, Inbound, PersistedState, TurnError,
};
use super::supervision::RestartIntensity;
use crate::flow_cache::FlowLoadError;
use crate::services::Services;
use crate::store::{NewConversation, StoreError, TenantRow};
use crate::transcript::new_id;

/// Longest a caller waits for a conversation to store and ack a message.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);
/// Messages held for a conversation that is stopping or restarting.
const MAX_BUFFERED: usize = 1_000;

pub enum TenantMsg {
    Route {
        conversation_id: String,
        msg: ConversationMsg,
    },
    Idle {
        conversation_id: String,
        actor: ActorId,
    },
    SpawnConnection {
        args: ConnectionArgs,
        reply: RpcReplyPort<Result<ActorRef<ConnectionMsg>, String>>,
    },
    Stats(RpcReplyPort<TenantStats>),
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
    Live(ActorRef<ConversationMsg>),
    /// Stopping (passivation) or failed and about to restart; messages wait here.
    Stopping(Vec<ConversationMsg>),
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
                msg,
            } => state.route(&myself, conversation_id, msg).await,
            TenantMsg::Idle {
                conversation_id,
                actor,
            } => {
                if let Some(Entry::Live(live)) = state.conversations.get(&conversation_id)
                    && live.get_id() == actor
                {
                    let _ = live.cast(ConversationMsg::Passivate);
                    state
                        .conversations
                        .insert(conversation_id, Entry::Stopping(Vec::new()));
                }
            }
            TenantMsg::SpawnConnection { args, reply } => {
                let spawned =
                    Actor::spawn_linked(None, ConnectionActor, args, myself.get_cell()).await;
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
                    .filter(|e| matches!(e, Entry::Live(_)))
                    .count();
                let _ = reply.send(TenantStats {
                    live_conversations,
                    connections: state.connections,
                    restarts: state.restarts,
                });
            }
        }
        Ok(())
    }

    /// Children stop with their tenant: conversations finish the message at hand.
    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("tenant stopping".into()), Some(ACK_TIMEOUT))
            .await;
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
                        // Passivated (or stopped itself): respawn only for buffered work.
                        match state.conversations.remove(&id) {
                            Some(Entry::Stopping(buffer)) if !buffer.is_empty() => {
                                state.respawn(&myself, id, buffer).await;
                            }
                            Some(entry @ Entry::Quarantined { .. }) => {
                                state.conversations.insert(id, entry);
                            }
                            Some(Entry::Live(current)) if current.get_id() != cell.get_id() => {
                                state.conversations.insert(id, Entry::Live(current));
                            }
                            _ => {}
                        }
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
                        let buffer = match state.conversations.remove(&id) {
                            Some(Entry::Stopping(buffer)) => buffer,
                            _ => Vec::new(),
                        };
                        if state.intensity.allow_restart(id.clone(), Instant::now()) {
                            error!(tenant_id = %state.tenant_id, conversation_id = %id,
                                error = %failure, "conversation failed; restarting from the store");
                            state.restarts += 1;
                            state.respawn(&myself, id, buffer).await;
                        } else {
                            error!(tenant_id = %state.tenant_id, conversation_id = %id,
                                error = %failure, "conversation keeps failing; quarantined");
                            for msg in buffer {
                                msg.reject(TurnError::Unavailable);
                            }
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
        msg: ConversationMsg,
    ) {
        match self.conversations.get_mut(&conversation_id) {
            Some(Entry::Live(actor)) => {
                if let Err(e) = actor.send_message(msg) {
                    // It died and the supervision event is on its way: hold the message.
                    let msg = match e {
                        ractor::MessagingErr::SendErr(msg) => Some(msg),
                        _ => None,
                    };
                    self.conversations
                        .insert(conversation_id, Entry::Stopping(msg.into_iter().collect()));
                }
            }
            Some(Entry::Stopping(buffer)) => {
                if buffer.len() < MAX_BUFFERED {
                    buffer.push(msg);
                } else {
                    msg.reject(TurnError::Unavailable);
                }
            }
            Some(Entry::Quarantined { until }) if Instant::now() < *until => {
                msg.reject(TurnError::Unavailable);
            }
            _ => self.respawn(myself, conversation_id, vec![msg]).await,
        }
    }

    /// Spawns a conversation actor (it loads itself from the store) and hands it `buffer`.
    async fn respawn(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        buffer: Vec<ConversationMsg>,
    ) {
        let args = ConversationArgs {
            tenant_id: self.tenant_id.clone(),
            conversation_id: conversation_id.clone(),
            services: self.services.clone(),
            tenant: myself.clone(),
        };
        match Actor::spawn_linked(None, ConversationActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                self.children
                    .insert(actor.get_id(), Child::Conversation(conversation_id.clone()));
                for msg in buffer {
                    let _ = actor.send_message(msg);
                }
                self.conversations
                    .insert(conversation_id, Entry::Live(actor));
            }
            Err(e) => {
                error!(tenant_id = %self.tenant_id, conversation_id = %conversation_id,
                    error = %e, "could not spawn conversation");
                for msg in buffer {
                    msg.reject(TurnError::Unavailable);
                }
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
        self.ask(conversation_id, |reply| ConversationMsg::UserMessage {
            inbound,
            reply,
        })
        .await
    }

    /// A human agent's message to the user; only while the conversation is handed off.
    pub async fn agent_message(
        &self,
        conversation_id: &str,
        text: String,
    ) -> Result<Ack, TurnError> {
        self.ask(conversation_id, |reply| ConversationMsg::AgentMessage {
            text,
            reply,
        })
        .await
    }

    /// The human agent gives the conversation back to the bot; the flow continues.
    pub async fn release(&self, conversation_id: &str) -> Result<(), TurnError> {
        self.ask(conversation_id, |reply| ConversationMsg::Release { reply })
            .await
    }

    async fn ask<T: Send + 'static>(
        &self,
        conversation_id: &str,
        build: impl FnOnce(RpcReplyPort<Result<T, TurnError>>) -> ConversationMsg,
    ) -> Result<T, TurnError> {
        let call = self
            .actor
            .call(
                |reply| TenantMsg::Route {
                    conversation_id: conversation_id.to_string(),
                    msg: build(reply),
                },
                Some(ACK_TIMEOUT),
            )
            .await;
        match call {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            _ => Err(TurnError::Unavailable),
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
                |reply| TenantMsg::SpawnConnection { args, reply },
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

    /// Fault injection: makes the conversation's actor panic (supervision tests, drills).
    pub fn inject_panic(&self, conversation_id: &str) {
        self.route(conversation_id, ConversationMsg::InjectPanic);
    }

    fn route(&self, conversation_id: &str, msg: ConversationMsg) {
        let _ = self.actor.cast(TenantMsg::Route {
            conversation_id: conversation_id.to_string(),
            msg,
        });
    }
}
