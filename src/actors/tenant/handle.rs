//! [`TenantHandle`]: the typed, cheap-clone way to talk to a running tenant. Callers
//! open conversations and send them commands through it, and never build a message
//! enum: each method says what it does and returns what the conversation answered.

use std::sync::Arc;

use ractor::ActorRef;
use ractor::rpc::CallResult;
use tracing::info;

use super::{ACK_TIMEOUT, Routed, TenantMsg, TenantStats};
use crate::flow_cache::FlowLoadError;
use crate::services::Services;
use crate::store::{NewConversation, StoreError, TenantRow};
use crate::transcript::new_id;
use crate::turn::{Ack, Command, Inbound, PersistedState, Reply, Source, TurnError};

/// Errors from opening a conversation.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Flow(#[from] FlowLoadError),
}

/// A conversation to open on the tenant's entry flow.
pub struct Opening<'a> {
    /// The channel it is on.
    pub source: Source,
    /// Who the end user is on that channel (a visitor id; a provider thread key).
    pub external_user: &'a str,
    /// A provider thread: one conversation per (account, thread), found again on every
    /// message; `None` opens a new conversation every time (web chat).
    pub thread: Option<Thread<'a>>,
    /// Run this flow at this preview version (negative) instead of the entry flow's
    /// active version: the console's live widget on a draft.
    pub preview: Option<(&'a str, i64)>,
}

/// The provider side of a thread conversation.
pub struct Thread<'a> {
    pub account_id: &'a str,
    /// Where replies go, as provider JSON opaque to the core.
    pub reply_to: &'a str,
}

/// An opened conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: String,
    /// False when a provider thread already had its conversation.
    pub created: bool,
}

/// Cheap-clone handle to a running tenant.
#[derive(Clone)]
pub struct TenantHandle {
    pub(in crate::actors) actor: ActorRef<TenantMsg>,
    pub(in crate::actors) info: Arc<TenantRow>,
    pub(in crate::actors) tenant_id: Arc<str>,
    pub(in crate::actors) services: Services,
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

    /// Opens a conversation on the tenant's entry flow, at its active version. This is
    /// the one way conversations come to be, for every channel.
    pub async fn open_conversation(&self, opening: Opening<'_>) -> Result<Opened, OpenError> {
        let (flow_id, version) = match opening.preview {
            Some((flow_id, version)) => {
                // It must load (and compile) before a conversation is made on it.
                self.services
                    .flows
                    .get(&self.tenant_id, flow_id, version)
                    .await?;
                (flow_id, version)
            }
            None => {
                let flow_id = self.info.entry_flow.as_str();
                // The flow's experiment arm for this person, else its active version.
                let flows = &self.services.flows;
                let version = flows
                    .version_for_new(&self.tenant_id, flow_id, opening.external_user)
                    .await?;
                (flow_id, version)
            }
        };
        let state = PersistedState::initial_json();
        let store = &self.services.store;
        let channel = opening.source.as_str();
        let opened = match opening.thread {
            Some(thread) => {
                let (id, created) = store
                    .open_thread_conversation(
                        &self.tenant_id,
                        thread.account_id,
                        channel,
                        opening.external_user,
                        flow_id,
                        version,
                        &state,
                        thread.reply_to,
                    )
                    .await?;
                Opened { id, created }
            }
            None => {
                let id = new_id();
                store
                    .create_conversation(&NewConversation {
                        id: &id,
                        tenant_id: &self.tenant_id,
                        channel,
                        external_user: opening.external_user,
                        flow_id,
                        flow_version: version,
                        dialog_state: &state,
                    })
                    .await?;
                Opened { id, created: true }
            }
        };
        if opened.created {
            info!(tenant_id = %self.tenant_id, conversation_id = %opened.id, channel,
                flow_id = %flow_id, flow_version = version, "conversation opened");
        }
        Ok(opened)
    }

    /// Sends a command and waits for the conversation's reply. A conversation that
    /// moved to another node while the command was on its way ([`TurnError::Moved`]) is
    /// routed again, unless the command was itself forwarded here (its sender reroutes).
    pub async fn command(&self, conversation_id: &str, command: Command, forwarded: bool) -> Reply {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let call = self
                .actor
                .call(
                    |reply| TenantMsg::Route {
                        conversation_id: conversation_id.to_string(),
                        routed: Routed::new(command.clone(), Some(reply), forwarded),
                    },
                    Some(ACK_TIMEOUT),
                )
                .await;
            match call {
                Ok(CallResult::Success(Reply::Failed {
                    error: TurnError::Moved,
                })) if !forwarded && attempts < 3 => {}
                Ok(CallResult::Success(reply)) => return reply,
                _ => return TurnError::Unavailable.into(),
            }
        }
    }

    /// Sends a command nobody waits for.
    fn tell(&self, conversation_id: &str, command: Command) {
        let _ = self.actor.cast(TenantMsg::Route {
            conversation_id: conversation_id.to_string(),
            routed: Routed::new(command, None, false),
        });
    }

    /// Delivers a user message; resolves once it is stored (or found stored before).
    pub async fn send_user_message(
        &self,
        conversation_id: &str,
        inbound: Inbound,
    ) -> Result<Ack, TurnError> {
        self.command(conversation_id, Command::UserMessage(inbound), false)
            .await
            .into_ack()
    }

    /// A human agent's message to the user, under the agent's display name when given;
    /// only while the conversation is handed off.
    pub async fn agent_message(
        &self,
        conversation_id: &str,
        text: String,
        author: Option<String>,
    ) -> Result<Ack, TurnError> {
        self.command(
            conversation_id,
            Command::AgentMessage { text, author },
            false,
        )
        .await
        .into_ack()
    }

    /// The human agent gives the conversation back to the bot; the flow continues.
    pub async fn release(&self, conversation_id: &str) -> Result<(), TurnError> {
        self.command(conversation_id, Command::Release, false)
            .await
            .into_done()
    }

    /// Delivers the conversation's timer due at `due_at`; a stale one changes nothing.
    pub async fn timer(&self, conversation_id: &str, due_at: i64) -> Result<(), TurnError> {
        self.command(conversation_id, Command::Timer { due_at }, false)
            .await
            .into_done()
    }

    /// Erases the conversation (everything said in it) through its actor, the single
    /// writer, which then stops.
    pub async fn erase(&self, conversation_id: &str) -> Result<(), TurnError> {
        self.command(conversation_id, Command::Erase, false)
            .await
            .into_done()
    }

    /// Makes sure the conversation's actor runs: it starts the flow if it has not started
    /// yet, and resumes work interrupted by a restart.
    pub fn wake(&self, conversation_id: &str) {
        self.tell(conversation_id, Command::Start);
    }

    /// Adds a system note to the transcript (delivery failures and the like).
    pub fn system_note(&self, conversation_id: &str, text: String) {
        self.tell(conversation_id, Command::SystemNote { text });
    }

    /// Fault injection: makes the conversation's actor panic (supervision tests, drills).
    pub fn inject_panic(&self, conversation_id: &str) {
        self.tell(conversation_id, Command::InjectPanic);
    }

    /// Cluster: this node's lease on the conversation was taken; stop running it here.
    pub fn lease_lost(&self, conversation_id: &str, fence: i64) {
        let _ = self.actor.cast(TenantMsg::LeaseLost {
            conversation_id: conversation_id.to_string(),
            fence,
        });
    }

    pub async fn stats(&self) -> Option<TenantStats> {
        match self.actor.call(TenantMsg::Stats, Some(ACK_TIMEOUT)).await {
            Ok(CallResult::Success(stats)) => Some(stats),
            _ => None,
        }
    }
}
