//! Outbound delivery to WhatsApp, Slack and Teams.
//!
//! A [`ChannelHub`] actor owns one [`sender::SenderActor`] per channel account, spawned on
//! demand (and at start for accounts with replies still pending). It is plugged into the
//! core as the [`OutboxListener`], so a conversation that stored replies wakes the sender
//! of its account. `driver.rs` holds the provider specifics (what calls a reply or a
//! stream update becomes), `retry.rs` the retry policy.

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
use crate::services::OutboxListener;
use driver::Driver;
use retry::RetryPolicy;
use sender::{SenderActor, SenderArgs, SenderMsg};

pub enum HubMsg {
    OutboxReady {
        account_id: String,
        conversation_id: String,
    },
    Watch {
        account_id: String,
        conversation_id: String,
        reply_to: Value,
    },
    /// The account's settings changed: the next message uses a fresh sender.
    Reload { account_id: String },
    /// Spawn the senders of accounts with pending replies (at start).
    Recover,
}

/// Cheap-clone handle to the hub.
#[derive(Clone)]
pub struct ChannelHub {
    hub: ActorRef<HubMsg>,
}

impl ChannelHub {
    /// Starts the hub on the current (main) runtime and recovers pending replies.
    pub async fn start(runtime: Runtime) -> Result<Self, ractor::SpawnErr> {
        let (hub, _) = Actor::spawn(None, HubActor, runtime).await?;
        let _ = hub.cast(HubMsg::Recover);
        Ok(Self { hub })
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
        });
    }
}

pub struct HubActor;

pub struct HubState {
    runtime: Runtime,
    senders: HashMap<String, ActorRef<SenderMsg>>,
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
            HubMsg::OutboxReady {
                account_id,
                conversation_id,
            } => {
                if let Some(sender) = state.sender(&myself, &account_id).await {
                    let _ = sender.cast(SenderMsg::OutboxReady { conversation_id });
                }
            }
            HubMsg::Watch {
                account_id,
                conversation_id,
                reply_to,
            } => {
                if let Some(sender) = state.sender(&myself, &account_id).await {
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
            state
                .senders
                .retain(|_, sender| sender.get_id() != cell.get_id());
        }
        Ok(())
    }
}

impl HubState {
    async fn sender(
        &mut self,
        myself: &ActorRef<HubMsg>,
        account_id: &str,
    ) -> Option<ActorRef<SenderMsg>> {
        if let Some(sender) = self.senders.get(account_id) {
            return Some(sender.clone());
        }
        let services = self.runtime.services();
        let row = match services.store.channel_account(account_id).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                warn!(
                    account = account_id,
                    "replies for an unknown channel account"
                );
                return None;
            }
            Err(e) => {
                warn!(account = account_id, error = %e, "cannot load the channel account");
                return None;
            }
        };
        let driver = match Driver::from_account(&row, &services.secrets, &services.config.channels)
        {
            Ok(driver) => driver,
            Err(e) => {
                error!(account = account_id, error = %e, "channel account is misconfigured; replies stay pending");
                return None;
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
                Some(sender)
            }
            Err(e) => {
                error!(account = account_id, error = %e, "cannot start the channel sender");
                None
            }
        }
    }
}
