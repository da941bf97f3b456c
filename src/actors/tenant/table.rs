//! The tenant's table of conversations and how a command finds its way through it.
//!
//! An entry says where a conversation is: running here ([`Entry::Live`]), being claimed
//! or stopping (commands wait in its buffer), owned by another node (commands are
//! forwarded), or quarantined (commands are refused). No conversation in the table
//! means nobody runs it here: the next command claims it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use ractor::{Actor, ActorId, ActorRef};
use tracing::{error, warn};

use super::forward::{self, Routed};
use super::{TenantMsg, TenantState};
use crate::actors::conversation::{ConversationActor, ConversationArgs, ConversationMsg};
use crate::cluster::ClusterError;
use crate::cluster::lease::{Claim, LeaseKey};
use crate::turn::TurnError;

/// Commands held for a conversation that is stopping, restarting or being claimed.
const MAX_BUFFERED: usize = 1_000;
/// How long a known remote owner is trusted before asking again.
const REMOTE_OWNER_TRUST: Duration = Duration::from_secs(1);

pub(super) enum Entry {
    Live {
        actor: ActorRef<ConversationMsg>,
        fence: i64,
    },
    /// Stopping (passivation, lost lease) or failed and about to restart; commands wait
    /// here. `fence` is the lease still held (respawn here with it), `None` once lost.
    Stopping {
        buffer: Vec<Routed>,
        fence: Option<i64>,
    },
    /// Being claimed for this node; commands wait here.
    Claiming {
        buffer: Vec<Routed>,
    },
    /// Another node owns it; commands are forwarded there.
    Remote {
        node: Arc<str>,
        until: Instant,
    },
    Quarantined {
        until: Instant,
    },
}

impl TenantState {
    fn lease(&self, conversation_id: &str) -> LeaseKey {
        LeaseKey::conversation(&self.tenant_id, conversation_id)
    }

    fn release(&self, conversation_id: &str, fence: i64) {
        self.services
            .cluster
            .ownership()
            .release(self.lease(conversation_id), fence);
    }

    /// Gives back every lease held (the tenant is stopping).
    pub(super) fn release_all(&mut self) {
        for (conversation_id, entry) in std::mem::take(&mut self.conversations) {
            if let Entry::Live { fence, .. }
            | Entry::Stopping {
                fence: Some(fence), ..
            } = entry
            {
                self.release(&conversation_id, fence);
            }
        }
    }

    pub(super) async fn route(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        routed: Routed,
    ) {
        match self.conversations.get_mut(&conversation_id) {
            Some(Entry::Live { actor, fence }) => {
                let fence = *fence;
                let (msg, meta) = routed.into_message();
                if let Err(ractor::MessagingErr::SendErr(msg)) = actor.send_message(msg) {
                    // It died and the supervision event is on its way: hold the command.
                    let buffer = meta.with(msg).into_iter().collect();
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
                forward::forward(self, myself, node, conversation_id, routed);
            }
            Some(Entry::Quarantined { until }) if Instant::now() < *until => {
                routed.reject(TurnError::Unavailable);
            }
            _ => self.acquire(myself, conversation_id, vec![routed]).await,
        }
    }

    /// Claims the conversation for this node, then runs it with `buffer`. A claim that is
    /// answered at once (a single node) is handled here; otherwise it runs in a task and
    /// the commands wait in [`Entry::Claiming`] until [`TenantMsg::Claimed`].
    pub(super) async fn acquire(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        conversation_id: String,
        buffer: Vec<Routed>,
    ) {
        let mut claim = self
            .services
            .cluster
            .ownership()
            .claim(self.lease(&conversation_id));
        self.conversations
            .insert(conversation_id.clone(), Entry::Claiming { buffer });
        if let Some(outcome) = (&mut claim).now_or_never() {
            return self.claimed(myself, conversation_id, outcome).await;
        }
        let myself = myself.clone();
        tokio::spawn(async move {
            let outcome = claim.await;
            let _ = myself.cast(TenantMsg::Claimed {
                conversation_id,
                outcome,
            });
        });
    }

    pub(super) async fn claimed(
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
                    self.release(&conversation_id, fence);
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
                    forward::forward(self, myself, node.clone(), conversation_id.clone(), routed);
                }
            }
            Err(error) => {
                let turn_error = match error {
                    ClusterError::NotFound => TurnError::NotFound,
                    ClusterError::Unavailable(_) | ClusterError::Protocol(_) => {
                        TurnError::ClusterUnavailable
                    }
                    ClusterError::Timeout(_)
                    | ClusterError::NoListener(_)
                    | ClusterError::Store(_) => TurnError::Unavailable,
                };
                warn!(tenant_id = %self.tenant_id, conversation_id = %conversation_id,
                    error = %error, "cannot take the conversation on");
                for routed in buffer {
                    routed.reject(turn_error.clone());
                }
            }
        }
    }

    /// Forgets a remote owner that did not answer, so the next command asks again.
    pub(super) fn forget_owner(&mut self, conversation_id: &str, stale_owner: &Arc<str>) {
        if let Some(Entry::Remote { node, .. }) = self.conversations.get(conversation_id)
            && node == stale_owner
        {
            self.conversations.remove(conversation_id);
        }
    }

    /// A conversation actor stopped (passivated, fenced, or gone).
    pub(super) async fn stopped(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: String,
        actor: ActorId,
    ) {
        match self.conversations.remove(&id) {
            Some(Entry::Stopping { buffer, fence }) => match fence {
                // Passivated while commands arrived: run it again, still under our lease.
                Some(fence) if !buffer.is_empty() => self.spawn(myself, id, fence, buffer).await,
                Some(fence) => self.release(&id, fence),
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
                    self.release(&id, fence);
                }
            }
            Some(other) => {
                self.conversations.insert(id, other);
            }
            None => {}
        }
    }

    /// A conversation actor failed: restart it from the store, or quarantine it.
    pub(super) async fn failed(&mut self, myself: &ActorRef<TenantMsg>, id: String, failure: &str) {
        let (buffer, fence) = match self.conversations.remove(&id) {
            Some(Entry::Stopping { buffer, fence }) => (buffer, fence),
            Some(Entry::Live { fence, .. }) => (Vec::new(), Some(fence)),
            Some(other) => {
                self.conversations.insert(id.clone(), other);
                (Vec::new(), None)
            }
            None => (Vec::new(), None),
        };
        let Some(fence) = fence else {
            // Its lease was lost anyway: whatever waits goes to the new owner.
            if !buffer.is_empty() {
                self.acquire(myself, id, buffer).await;
            }
            return;
        };
        if self.intensity.allow_restart(id.clone(), Instant::now()) {
            error!(tenant_id = %self.tenant_id, conversation_id = %id,
                error = %failure, "conversation failed; restarting from the store");
            self.restarts += 1;
            metrics::counter!("switchboard_conversation_restarts_total").increment(1);
            self.spawn(myself, id, fence, buffer).await;
        } else {
            error!(tenant_id = %self.tenant_id, conversation_id = %id,
                error = %failure, "conversation keeps failing; quarantined");
            metrics::counter!("switchboard_conversation_quarantines_total").increment(1);
            for routed in buffer {
                routed.reject(TurnError::Unavailable);
            }
            self.release(&id, fence);
            let window = Duration::from_secs(self.services.config.conversation.restart_window_secs);
            self.conversations.insert(
                id,
                Entry::Quarantined {
                    until: Instant::now() + window,
                },
            );
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
            report_to: self.report_to.clone(),
        };
        match Actor::spawn_linked(None, ConversationActor, args, myself.get_cell()).await {
            Ok((actor, _)) => {
                self.children
                    .insert(actor.get_id(), conversation_id.clone());
                for routed in buffer {
                    let _ = actor.send_message(routed.into_message().0);
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
                self.release(&conversation_id, fence);
            }
        }
    }
}
