//! Outbound delivery to WhatsApp, Slack and Teams.
//!
//! A [`ChannelHub`] actor owns one [`sender::SenderActor`] per channel account, spawned on
//! demand (and at start for accounts with replies still pending). It is plugged into the
//! core as the [`OutboxListener`], so a conversation that stored replies wakes the sender
//! of its account. `driver.rs` holds the provider specifics (what calls a reply or a
//! stream update becomes), `retry.rs` the retry policy.
//!
//! An account's sender runs on one node at a time: the hub claims the account through
//! the cluster's ownership (at once on a single node, a Redis lease in cluster mode)
//! before spawning the sender; when another node holds it, the signal goes to that
//! node's inbox instead. In cluster mode the hub looks for accounts with pending replies
//! every lease TTL and claims the free ones, so a dead node's accounts are taken over.
//! The hub's mailbox never awaits IO: account reads, claims and notices run in tasks.

pub mod driver;
pub mod retry;
pub mod sender;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::Value;
use tracing::{error, warn};

use crate::actors::Runtime;
use crate::cluster::lease::{Claim, LeaseKey};
use crate::services::OutboxListener;
use crate::store::ChannelAccountRow;
use driver::Driver;
use retry::RetryPolicy;
use sender::{SenderActor, SenderArgs, SenderMsg};

pub enum HubMsg {
    OutboxReady {
        account_id: String,
        conversation_id: String,
        /// Sent here by another node: do not pass it on again.
        forwarded: bool,
    },
    Watch {
        account_id: String,
        conversation_id: String,
        reply_to: Value,
    },
    /// The account's settings changed: the next message uses a fresh sender.
    Reload { account_id: String },
    /// Start the senders of accounts with pending replies (at start; in cluster mode
    /// periodically, to take over a dead node's accounts).
    Recover,
    /// The accounts with pending replies, read from the store.
    Recovered(Vec<String>),
    /// An account's sender could be set up here, or not (read and claimed in a task).
    Claimed {
        account_id: String,
        outcome: Claimed,
    },
    /// Cluster: this node lost the account's delivery lease.
    LeaseLost { account_id: String, fence: i64 },
}

/// The outcome of setting up an account's sender.
pub enum Claimed {
    Here {
        row: ChannelAccountRow,
        fence: i64,
    },
    /// Another node sends for the account.
    Elsewhere {
        node: String,
        tenant_id: String,
    },
    /// No such account, or the store or the cluster failed (logged); replies stay pending.
    Nowhere,
}

/// Cheap-clone handle to the hub.
#[derive(Clone)]
pub struct ChannelHub {
    hub: ActorRef<HubMsg>,
}

impl ChannelHub {
    /// Starts the hub on the current (main) runtime and recovers pending replies.
    pub async fn start(runtime: Runtime) -> Result<Self, ractor::SpawnErr> {
        let takeover = runtime.services().cluster.ownership().takeover_interval();
        let (hub, _) = Actor::spawn(None, HubActor, runtime).await?;
        let _ = hub.cast(HubMsg::Recover);
        if let Some(every) = takeover {
            let hub = hub.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if hub.cast(HubMsg::Recover).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Self { hub })
    }

    /// Cluster: the delivery lease of `account_id` was lost.
    pub fn lease_lost(&self, account_id: &str, fence: i64) {
        let _ = self.hub.cast(HubMsg::LeaseLost {
            account_id: account_id.to_string(),
            fence,
        });
    }

    /// A user wrote in a provider thread: remember where replies go and show typing.
    pub fn watch(&self, account_id: &str, conversation_id: &str, reply_to: Value) {
        let _ = self.hub.cast(HubMsg::Watch {
            account_id: account_id.to_string(),
            conversation_id: conversation_id.to_string(),
            reply_to,
        });
    }

    pub fn reload(&self, account_id: &str) {
        let _ = self.hub.cast(HubMsg::Reload {
            account_id: account_id.to_string(),
        });
    }

    pub async fn stop(&self) {
        let _ = self
            .hub
            .stop_and_wait(None, Some(Duration::from_secs(5)))
            .await;
    }
}

impl OutboxListener for ChannelHub {
    fn outbox_ready(&self, _tenant_id: &str, account_id: &str, conversation_id: &str) {
        let _ = self.hub.cast(HubMsg::OutboxReady {
            account_id: account_id.to_string(),
            conversation_id: conversation_id.to_string(),
            forwarded: false,
        });
    }

    fn outbox_ready_here(&self, _tenant_id: &str, account_id: &str, conversation_id: &str) {
        let _ = self.hub.cast(HubMsg::OutboxReady {
            account_id: account_id.to_string(),
            conversation_id: conversation_id.to_string(),
            forwarded: true,
        });
    }
}

pub struct HubActor;

pub struct HubState {
    runtime: Runtime,
    senders: HashMap<String, Sender>,
}

/// Where an account's replies are sent from, as far as this node knows.
enum Sender {
    Running {
        actor: ActorRef<SenderMsg>,
        tenant_id: String,
        fence: i64,
    },
    /// Being set up; the signals that arrive meanwhile wait here.
    Starting { waiting: Vec<HubMsg> },
}

impl Actor for HubActor {
    type Msg = HubMsg;
    type State = HubState;
    type Arguments = Runtime;

    async fn pre_start(
        &self,
        _myself: ActorRef<HubMsg>,
        runtime: Runtime,
    ) -> Result<HubState, ActorProcessingErr> {
        Ok(HubState {
            runtime,
            senders: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<HubMsg>,
        msg: HubMsg,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            signal @ (HubMsg::OutboxReady { .. } | HubMsg::Watch { .. }) => {
                state.signal(&myself, signal)
            }
            HubMsg::Reload { account_id } => {
                // The lease stays held: the next sender, on this node, claims it again.
                if let Some(Sender::Running { actor, .. }) = state.senders.remove(&account_id) {
                    actor.stop(Some("account changed".into()));
                }
            }
            HubMsg::LeaseLost { account_id, fence } => {
                if let Some(Sender::Running {
                    actor, fence: held, ..
                }) = state.senders.get(&account_id)
                    && *held == fence
                {
                    warn!(account = %account_id, "delivery lease lost; the sender stops here");
                    actor.stop(Some("lease lost".into()));
                    state.senders.remove(&account_id);
                }
            }
            HubMsg::Recover => {
                let store = state.runtime.services().store.clone();
                let myself = myself.clone();
                tokio::spawn(async move {
                    match store.accounts_with_pending_outbox().await {
                        Ok(accounts) => {
                            let _ = myself.cast(HubMsg::Recovered(accounts));
                        }
                        Err(e) => warn!(error = %e, "cannot look for pending replies"),
                    }
                });
            }
            HubMsg::Recovered(accounts) => {
                for account_id in accounts {
                    if !state.senders.contains_key(&account_id) {
                        state.start(&myself, account_id, Vec::new());
                    }
                }
            }
            HubMsg::Claimed {
                account_id,
                outcome,
            } => state.claimed(&myself, account_id, outcome).await,
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<HubMsg>,
        _state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        myself
            .stop_children_and_wait(Some("shutdown".into()), Some(Duration::from_secs(5)))
            .await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<HubMsg>,
        event: SupervisionEvent,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, _)
        | SupervisionEvent::ActorTerminated(cell, ..) = &event
        {
            if let SupervisionEvent::ActorFailed(_, failure) = &event {
                error!(error = %failure, "channel sender failed; it restarts on the next reply");
            }
            // Pending replies stay in the outbox; the next sender picks them up.
            let stopped = state
                .senders
                .iter()
                .find_map(|(account, sender)| match sender {
                    Sender::Running { actor, .. } if actor.get_id() == cell.get_id() => {
                        Some(account.clone())
                    }
                    _ => None,
                });
            if let Some(account_id) = stopped
                && let Some(Sender::Running {
                    tenant_id, fence, ..
                }) = state.senders.remove(&account_id)
            {
                state.release(&tenant_id, &account_id, fence);
            }
        }
        Ok(())
    }
}

impl HubState {
    fn release(&self, tenant_id: &str, account_id: &str, fence: i64) {
        self.runtime
            .services()
            .cluster
            .ownership()
            .release(LeaseKey::sender(tenant_id, account_id), fence);
    }

    /// Hands a signal to the account's sender, starting it first if needed.
    fn signal(&mut self, myself: &ActorRef<HubMsg>, signal: HubMsg) {
        let account_id = match &signal {
            HubMsg::OutboxReady { account_id, .. } | HubMsg::Watch { account_id, .. } => {
                account_id.clone()
            }
            _ => return,
        };
        match self.senders.get_mut(&account_id) {
            Some(Sender::Running { actor, .. }) => deliver(actor, signal),
            Some(Sender::Starting { waiting }) => waiting.push(signal),
            None => self.start(myself, account_id, vec![signal]),
        }
    }

    /// Reads the account and claims its delivery in a task; see [`HubMsg::Claimed`].
    fn start(&mut self, myself: &ActorRef<HubMsg>, account_id: String, waiting: Vec<HubMsg>) {
        self.senders
            .insert(account_id.clone(), Sender::Starting { waiting });
        let services = self.runtime.services();
        let store = services.store.clone();
        let ownership = services.cluster.ownership().clone();
        let myself = myself.clone();
        tokio::spawn(async move {
            let outcome = match store.channel_account(&account_id).await {
                Ok(Some(row)) => {
                    match ownership
                        .claim(LeaseKey::sender(&row.tenant_id, &account_id))
                        .await
                    {
                        Ok(Claim::Granted { fence }) => Claimed::Here { row, fence },
                        Ok(Claim::Elsewhere { node, .. }) => Claimed::Elsewhere {
                            node,
                            tenant_id: row.tenant_id,
                        },
                        Err(e) => {
                            warn!(account = %account_id, error = %e, "cannot claim the account's delivery; replies stay pending");
                            Claimed::Nowhere
                        }
                    }
                }
                Ok(None) => {
                    warn!(account = %account_id, "replies for an unknown channel account");
                    Claimed::Nowhere
                }
                Err(e) => {
                    warn!(account = %account_id, error = %e, "cannot load the channel account");
                    Claimed::Nowhere
                }
            };
            let _ = myself.cast(HubMsg::Claimed {
                account_id,
                outcome,
            });
        });
    }

    async fn claimed(&mut self, myself: &ActorRef<HubMsg>, account_id: String, outcome: Claimed) {
        let waiting = match self.senders.remove(&account_id) {
            Some(Sender::Starting { waiting }) => waiting,
            Some(running) => {
                self.senders.insert(account_id, running);
                return;
            }
            None => Vec::new(),
        };
        match outcome {
            Claimed::Here { row, fence } => match self.spawn_sender(myself, &row).await {
                Ok(actor) => {
                    for signal in waiting {
                        deliver(&actor, signal);
                    }
                    self.senders.insert(
                        account_id,
                        Sender::Running {
                            actor,
                            tenant_id: row.tenant_id,
                            fence,
                        },
                    );
                }
                Err(()) => self.release(&row.tenant_id, &account_id, fence),
            },
            Claimed::Elsewhere { node, tenant_id } => {
                // Signals that came from here go on to the sending node; a watch is for the
                // sender that runs (it reads reply targets from the store).
                for signal in waiting {
                    if let HubMsg::OutboxReady {
                        conversation_id,
                        forwarded: false,
                        ..
                    } = signal
                    {
                        self.notify_remote(&node, &tenant_id, &account_id, conversation_id);
                    }
                }
            }
            Claimed::Nowhere => {}
        }
    }

    /// Tells the node that sends for the account; if it is gone, the next recovery
    /// sweep claims the account.
    fn notify_remote(
        &self,
        node: &str,
        tenant_id: &str,
        account_id: &str,
        conversation_id: String,
    ) {
        let notified = self.runtime.services().cluster.ownership().notify_outbox(
            node.to_string(),
            tenant_id.to_string(),
            account_id.to_string(),
            conversation_id,
        );
        let (node, account_id) = (node.to_string(), account_id.to_string());
        tokio::spawn(async move {
            if !matches!(notified.await, Ok(true)) {
                warn!(account = %account_id, node = %node, "the account's sender node did not get the signal; recovery picks the replies up");
            }
        });
    }

    /// Starts the account's sender here.
    async fn spawn_sender(
        &mut self,
        myself: &ActorRef<HubMsg>,
        row: &ChannelAccountRow,
    ) -> Result<ActorRef<SenderMsg>, ()> {
        let services = self.runtime.services();
        let driver = Driver::from_account(row, &services.secrets, &services.config.channels)
            .map_err(|e| {
                error!(account = %row.id, error = %e, "channel account is misconfigured; replies stay pending");
            })?;
        let config = &services.config.channels;
        let args = SenderArgs {
            tenant_id: Arc::from(row.tenant_id.as_str()),
            account_id: row.id.clone(),
            driver: Arc::new(driver),
            runtime: self.runtime.clone(),
            policy: RetryPolicy {
                max_attempts: config.send_max_attempts,
                base_backoff: Duration::from_millis(config.send_backoff_ms),
                max_backoff: Duration::from_millis(config.send_max_backoff_ms),
            },
        };
        Actor::spawn_linked(None, SenderActor, args, myself.get_cell())
            .await
            .map(|(sender, _)| sender)
            .map_err(|e| {
                error!(account = %row.id, error = %e, "cannot start the channel sender");
            })
    }
}

/// Passes a signal on to a running sender.
fn deliver(sender: &ActorRef<SenderMsg>, signal: HubMsg) {
    let msg = match signal {
        HubMsg::OutboxReady {
            conversation_id, ..
        } => SenderMsg::OutboxReady { conversation_id },
        HubMsg::Watch {
            conversation_id,
            reply_to,
            ..
        } => SenderMsg::Watch {
            conversation_id,
            reply_to,
        },
        _ => return,
    };
    let _ = sender.cast(msg);
}
