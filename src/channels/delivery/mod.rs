//! Outbound delivery to WhatsApp, Slack and Teams.
//!
//! A [`ChannelHub`] actor owns one [`sender::SenderActor`] per channel account, spawned on
//! demand (and at start for accounts with replies still pending). It is plugged into the
//! core as the [`OutboxListener`], so a conversation that stored replies wakes the sender
//! of its account. `driver.rs` holds the provider specifics (what calls a reply or a
//! stream update becomes), `retry.rs` the retry policy.
//!
//! In cluster mode an account's sender runs on one node at a time, under a Redis lease:
//! the hub claims it before spawning the sender; when another node holds it, the signal
//! goes to that node's inbox instead. Every lease TTL the hub looks for accounts with
//! pending replies and claims the free ones, so a dead node's accounts are taken over.

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
use crate::cluster::lease::Claim;
use crate::services::OutboxListener;
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
    /// Spawn the senders of accounts with pending replies (at start; in cluster mode
    /// periodically, to take over a dead node's accounts).
    Recover,
    /// Cluster: this node lost the account's delivery lease.
    LeaseLost { account_id: String, fence: i64 },
}

/// Cheap-clone handle to the hub.
#[derive(Clone)]
pub struct ChannelHub {
    hub: ActorRef<HubMsg>,
}

impl ChannelHub {
    /// Starts the hub on the current (main) runtime and recovers pending replies.
    pub async fn start(runtime: Runtime) -> Result<Self, ractor::SpawnErr> {
        let cluster = runtime.services().cluster.node().cloned();
        let (hub, _) = Actor::spawn(None, HubActor, runtime).await?;
        let _ = hub.cast(HubMsg::Recover);
        if let Some(node) = cluster {
            let every = Duration::from_millis(node.lease_ttl_ms());
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
    senders: HashMap<String, ActorRef<SenderMsg>>,
    /// Cluster: the delivery lease of each running sender: (tenant, fence).
    leases: HashMap<String, (String, i64)>,
}

/// Where an account's replies are sent from.
enum SenderAt {
    Here(ActorRef<SenderMsg>),
    /// Another node holds the account's delivery lease.
    Node(String, String),
    Nowhere,
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
            leases: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<HubMsg>,
        msg: HubMsg,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HubMsg::OutboxReady {
                account_id,
                conversation_id,
                forwarded,
            } => match state.sender(&myself, &account_id).await {
                SenderAt::Here(sender) => {
                    let _ = sender.cast(SenderMsg::OutboxReady { conversation_id });
                }
                SenderAt::Node(node, tenant_id) if !forwarded => {
                    state
                        .notify_remote(node, tenant_id, account_id, conversation_id)
                        .await;
                }
                _ => {}
            },
            HubMsg::Watch {
                account_id,
                conversation_id,
                reply_to,
            } => {
                // On another node the sender reads the reply target from the store.
                if let SenderAt::Here(sender) = state.sender(&myself, &account_id).await {
                    let _ = sender.cast(SenderMsg::Watch {
                        conversation_id,
                        reply_to,
                    });
                }
            }
            HubMsg::Reload { account_id } => {
                if let Some(sender) = state.senders.remove(&account_id) {
                    sender.stop(Some("account changed".into()));
                }
            }
            HubMsg::LeaseLost { account_id, fence } => {
                if state
                    .leases
                    .get(&account_id)
                    .is_some_and(|(_, f)| *f == fence)
                {
                    state.leases.remove(&account_id);
                    if let Some(sender) = state.senders.remove(&account_id) {
                        warn!(account = %account_id, "delivery lease lost; the sender stops here");
                        sender.stop(Some("lease lost".into()));
                    }
                }
            }
            HubMsg::Recover => {
                let store = &state.runtime.services().store;
                match store.accounts_with_pending_outbox().await {
                    Ok(accounts) => {
                        for account_id in accounts {
                            state.sender(&myself, &account_id).await;
                        }
                    }
                    Err(e) => warn!(error = %e, "cannot look for pending replies at start"),
                }
            }
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
            let stopped: Vec<String> = state
                .senders
                .iter()
                .filter(|(_, sender)| sender.get_id() == cell.get_id())
                .map(|(account, _)| account.clone())
                .collect();
            for account_id in stopped {
                state.senders.remove(&account_id);
                if let (Some((tenant_id, fence)), Some(node)) = (
                    state.leases.remove(&account_id),
                    state.runtime.services().cluster.node(),
                ) {
                    node.release_sender(&tenant_id, &account_id, fence).await;
                }
            }
        }
        Ok(())
    }
}

impl HubState {
    /// Tells the node that sends for the account; if it is gone, the next recovery
    /// sweep claims the account.
    async fn notify_remote(
        &self,
        node: String,
        tenant_id: String,
        account_id: String,
        conversation_id: String,
    ) {
        if let Some(cluster) = self.runtime.services().cluster.node() {
            let notified = cluster
                .notify_outbox(&node, &tenant_id, &account_id, &conversation_id)
                .await;
            if !matches!(notified, Ok(true)) {
                warn!(account = %account_id, node = %node, "the account's sender node did not get the signal; recovery picks the replies up");
            }
        }
    }

    async fn sender(&mut self, myself: &ActorRef<HubMsg>, account_id: &str) -> SenderAt {
        if let Some(sender) = self.senders.get(account_id) {
            return SenderAt::Here(sender.clone());
        }
        match self.spawn_sender(myself, account_id).await {
            Ok(sender) => SenderAt::Here(sender),
            Err(Some((node, tenant_id))) => SenderAt::Node(node, tenant_id),
            Err(None) => SenderAt::Nowhere,
        }
    }

    /// Starts the account's sender here, if this node may send for it. `Err(Some)` names
    /// the node that sends for it instead.
    async fn spawn_sender(
        &mut self,
        myself: &ActorRef<HubMsg>,
        account_id: &str,
    ) -> Result<ActorRef<SenderMsg>, Option<(String, String)>> {
        let services = self.runtime.services();
        let row = match services.store.channel_account(account_id).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                warn!(
                    account = account_id,
                    "replies for an unknown channel account"
                );
                return Err(None);
            }
            Err(e) => {
                warn!(account = account_id, error = %e, "cannot load the channel account");
                return Err(None);
            }
        };
        let mut lease = None;
        if let Some(cluster) = services.cluster.node() {
            match cluster.claim_sender(&row.tenant_id, account_id).await {
                Ok(Claim::Granted { fence }) => lease = Some((row.tenant_id.clone(), fence)),
                Ok(Claim::Elsewhere { node, .. }) => return Err(Some((node, row.tenant_id))),
                Err(e) => {
                    warn!(account = account_id, error = %e, "cannot claim the account's delivery; replies stay pending");
                    return Err(None);
                }
            }
        }
        let driver = match Driver::from_account(&row, &services.secrets, &services.config.channels)
        {
            Ok(driver) => driver,
            Err(e) => {
                error!(account = account_id, error = %e, "channel account is misconfigured; replies stay pending");
                if let (Some(cluster), Some((tenant_id, fence))) = (services.cluster.node(), lease)
                {
                    cluster.release_sender(&tenant_id, account_id, fence).await;
                }
                return Err(None);
            }
        };
        let config = &services.config.channels;
        let args = SenderArgs {
            tenant_id: Arc::from(row.tenant_id.as_str()),
            account_id: account_id.to_string(),
            driver: Arc::new(driver),
            runtime: self.runtime.clone(),
            policy: RetryPolicy {
                max_attempts: config.send_max_attempts,
                base_backoff: Duration::from_millis(config.send_backoff_ms),
                max_backoff: Duration::from_millis(config.send_max_backoff_ms),
            },
        };
        match Actor::spawn_linked(None, SenderActor, args, myself.get_cell()).await {
            Ok((sender, _)) => {
                self.senders.insert(account_id.to_string(), sender.clone());
                if let Some(lease) = lease {
                    self.leases.insert(account_id.to_string(), lease);
                }
                Ok(sender)
            }
            Err(e) => {
                error!(account = account_id, error = %e, "cannot start the channel sender");
                if let (Some(cluster), Some((tenant_id, fence))) = (services.cluster.node(), lease)
                {
                    cluster.release_sender(&tenant_id, account_id, fence).await;
                }
                Err(None)
            }
        }
    }
}
