//! TenantActor: routes, spawns and supervises the conversations of one tenant.
//!
//! Every command for a conversation goes through the tenant, which keeps a table of its
//! conversations ([`table`]): running here, being claimed, stopping, owned by another
//! node, or quarantined. A conversation runs here only after [`Ownership`] granted it
//! (at once on a single node; a Redis lease in cluster mode); a command for one owned
//! elsewhere is forwarded to the owner ([`forward`]). Supervision is one-for-one: a
//! failed conversation is restarted from the store, at most `conversation.max_restarts`
//! times per `restart_window_secs`; past that it is quarantined for the window and its
//! commands get [`TurnError::Unavailable`]. Passivation is a handshake: the conversation
//! reports it is idle, the tenant stops routing to it and tells it to stop, and buffers
//! whatever arrives until it has gone.
//!
//! The mailbox never awaits IO: claims, lease releases and forwards run in tasks (or
//! the ownership's own), and their outcomes come back as messages. Callers use the
//! typed [`TenantHandle`] ([`handle`]).
//!
//! [`Ownership`]: crate::cluster::ownership::Ownership

mod forward;
mod handle;
mod table;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::telemetry::metrics::Alive;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tracing::warn;

use super::conversation::{ConversationMsg, Report, ReportTo};
use super::supervision::RestartIntensity;
use crate::cluster::ClusterError;
use crate::cluster::lease::Claim;
use crate::services::Services;
pub use forward::Routed;
pub use handle::{OpenError, Opened, Opening, TenantHandle, Thread};
use table::Entry;

/// Longest a caller waits for a conversation to answer a command.
const ACK_TIMEOUT: Duration = Duration::from_secs(15);

pub enum TenantMsg {
    /// A command for a conversation.
    Route {
        conversation_id: String,
        routed: Routed,
    },
    /// What a conversation reports (idle, fenced).
    Report(Report),
    /// The outcome of claiming a conversation for this node.
    Claimed {
        conversation_id: String,
        outcome: Result<Claim, ClusterError>,
    },
    /// A forward failed (the owner is gone or gave the conversation up): route the
    /// command again, not trusting `stale_owner` any more.
    Retry {
        conversation_id: String,
        stale_owner: Arc<str>,
        routed: Routed,
    },
    /// This node's lease on the conversation was taken by another node.
    LeaseLost {
        conversation_id: String,
        fence: i64,
    },
    Stats(RpcReplyPort<TenantStats>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStats {
    pub live_conversations: usize,
    pub restarts: u64,
}

pub struct TenantArgs {
    pub tenant_id: Arc<str>,
    pub services: Services,
}

pub struct TenantActor;

pub struct TenantState {
    _alive: Alive,
    tenant_id: Arc<str>,
    services: Services,
    conversations: HashMap<String, Entry>,
    /// Conversation actors by id, to recognise them in supervision events.
    children: HashMap<ActorId, String>,
    intensity: RestartIntensity<String>,
    restarts: u64,
    /// How this tenant's conversations report to it (one handle shared by all).
    report_to: ReportTo,
}

impl Actor for TenantActor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let config = &args.services.config.conversation;
        Ok(TenantState {
            report_to: ReportTo::new(move |report| {
                let _ = myself.cast(TenantMsg::Report(report));
            }),
            intensity: RestartIntensity::new(
                config.max_restarts,
                Duration::from_secs(config.restart_window_secs),
            ),
            tenant_id: args.tenant_id,
            services: args.services,
            conversations: HashMap::new(),
            children: HashMap::new(),
            restarts: 0,
            _alive: Alive::new("tenant"),
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
            TenantMsg::Report(Report::Idle {
                conversation_id,
                actor,
            }) => state.passivate(conversation_id, actor),
            TenantMsg::Report(Report::Fenced {
                conversation_id,
                actor,
            }) => state.fenced(conversation_id, actor),
            TenantMsg::Claimed {
                conversation_id,
                outcome,
            } => state.claimed(&myself, conversation_id, outcome).await,
            TenantMsg::Retry {
                conversation_id,
                stale_owner,
                routed,
            } => {
                state.forget_owner(&conversation_id, &stale_owner);
                state.route(&myself, conversation_id, routed).await;
            }
            TenantMsg::LeaseLost {
                conversation_id,
                fence,
            } => state.lease_lost(conversation_id, fence),
            TenantMsg::Stats(reply) => {
                let _ = reply.send(state.stats());
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
        state.release_all();
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
                if let Some(id) = state.children.remove(&cell.get_id()) {
                    tracing::debug!(tenant_id = %state.tenant_id, conversation_id = %id,
                        reason = ?reason, "conversation stopped");
                    state.stopped(&myself, id, cell.get_id()).await;
                }
            }
            SupervisionEvent::ActorFailed(cell, failure) => {
                if let Some(id) = state.children.remove(&cell.get_id()) {
                    state.failed(&myself, id, &failure.to_string()).await;
                }
            }
            _ => {}
        }
        state.intensity.prune(Instant::now());
        Ok(())
    }
}

impl TenantState {
    fn stats(&self) -> TenantStats {
        TenantStats {
            live_conversations: self
                .conversations
                .values()
                .filter(|e| matches!(e, Entry::Live { .. }))
                .count(),
            restarts: self.restarts,
        }
    }

    /// The conversation reported idle: stop routing to it and let it stop.
    fn passivate(&mut self, conversation_id: String, actor: ActorId) {
        if let Some(Entry::Live { actor: live, fence }) = self.conversations.get(&conversation_id)
            && live.get_id() == actor
        {
            let _ = live.cast(ConversationMsg::Passivate);
            let fence = Some(*fence);
            self.conversations.insert(
                conversation_id,
                Entry::Stopping {
                    buffer: Vec::new(),
                    fence,
                },
            );
        }
    }

    /// A store write of the conversation was refused by the fence: it stops by itself,
    /// and what arrives meanwhile goes to the new owner.
    fn fenced(&mut self, conversation_id: String, actor: ActorId) {
        if let Some(Entry::Live { actor: live, .. }) = self.conversations.get(&conversation_id)
            && live.get_id() == actor
        {
            self.conversations.insert(
                conversation_id,
                Entry::Stopping {
                    buffer: Vec::new(),
                    fence: None,
                },
            );
        }
    }

    /// The lease keeper found the lease taken: stop running the conversation here.
    fn lease_lost(&mut self, conversation_id: String, lost: i64) {
        if let Some(Entry::Live { actor, fence }) = self.conversations.get(&conversation_id)
            && *fence == lost
        {
            warn!(tenant_id = %self.tenant_id, conversation_id = %conversation_id,
                fence = lost, "lease lost; stopping the conversation here");
            actor.stop(Some("lease lost".into()));
            self.conversations.insert(
                conversation_id,
                Entry::Stopping {
                    buffer: Vec::new(),
                    fence: None,
                },
            );
        }
    }
}
