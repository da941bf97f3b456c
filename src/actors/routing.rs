//! Cluster routing of conversation messages: what a tenant does with a message for a
//! conversation that another node owns, and what a node does with a message forwarded to
//! it.
//!
//! Only the messages an edge sends cross nodes ([`Command`]); their reply ports stay on
//! the sending node, which answers them with the owner's [`CommandResult`]. A forward that
//! finds the owner gone (nobody listening on its inbox, or no answer in time) or no longer
//! the owner ([`TurnError::Moved`]) is routed again: by then the lease has moved or
//! expired, and this node may claim the conversation itself. A forwarded message is never
//! forwarded again, so a message cannot bounce between nodes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use ractor::ActorRef;
use tracing::debug;

use super::conversation::{Ack, ConversationMsg, Inbound, TurnError};
use super::root::Runtime;
use super::tenant::{TenantHandle, TenantMsg};
use crate::cluster::ClusterError;
use crate::cluster::inbox::InboxHandler;
use crate::cluster::messages::{Command, CommandResult};
use crate::services::Services;

/// Forwards of one message before it is given up.
const MAX_ATTEMPTS: u32 = 60;
/// Pause before routing again after the owner did not answer (its lease is running out).
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// A message on its way to a conversation, with where it came from.
pub struct Routed {
    pub(super) msg: ConversationMsg,
    /// It was forwarded here by another node; if this node is not the owner either, the
    /// sender is told ([`TurnError::Moved`]) instead of forwarding it again.
    forwarded: bool,
    attempt: u32,
}

impl Routed {
    pub fn new(msg: ConversationMsg, forwarded: bool) -> Self {
        Self {
            msg,
            forwarded,
            attempt: 0,
        }
    }

    /// The routing facts, for a message rebuilt from this one.
    pub(super) fn meta(&self) -> RoutedMeta {
        RoutedMeta {
            forwarded: self.forwarded,
            attempt: self.attempt,
        }
    }

    pub(super) fn reject(self, error: TurnError) {
        self.msg.reject(error);
    }
}

/// [`Routed`] without its message.
pub(super) struct RoutedMeta {
    forwarded: bool,
    attempt: u32,
}

impl RoutedMeta {
    pub(super) fn with(self, msg: ConversationMsg) -> Routed {
        Routed {
            msg,
            forwarded: self.forwarded,
            attempt: self.attempt,
        }
    }
}

/// The command to send to another node for this message; `None` for messages that only
/// make sense on the owning node (task results, timers).
fn command_of(msg: &ConversationMsg) -> Option<Command> {
    Some(match msg {
        ConversationMsg::Start => Command::Start,
        ConversationMsg::UserMessage { inbound, .. } => Command::UserMessage {
            source: inbound.source.to_string(),
            dedup_key: inbound.dedup_key.clone(),
            text: inbound.text.clone(),
        },
        ConversationMsg::AgentMessage { text, .. } => Command::AgentMessage { text: text.clone() },
        ConversationMsg::Release { .. } => Command::Release,
        ConversationMsg::SystemNote { text } => Command::SystemNote { text: text.clone() },
        ConversationMsg::InjectPanic => Command::InjectPanic,
        _ => return None,
    })
}

/// Answers the message's caller with the owner's result.
fn answer(msg: ConversationMsg, result: CommandResult) {
    match (msg, result) {
        (
            ConversationMsg::UserMessage { reply, .. }
            | ConversationMsg::AgentMessage { reply, .. },
            CommandResult::Ack {
                message_id,
                seq,
                duplicate,
            },
        ) => {
            let _ = reply.send(Ok(Ack {
                message_id,
                seq,
                duplicate,
            }));
        }
        (ConversationMsg::Release { reply }, CommandResult::Done) => {
            let _ = reply.send(Ok(()));
        }
        (msg, CommandResult::Failed { error }) => msg.reject(error),
        (msg, _) => msg.reject(TurnError::Unavailable),
    }
}

/// Sends `routed` to the conversation's owner `node` and answers it, or routes it again.
pub(super) fn forward(
    services: &Services,
    tenant: &ActorRef<TenantMsg>,
    tenant_id: &Arc<str>,
    node: Arc<str>,
    conversation_id: String,
    routed: Routed,
) {
    if routed.forwarded {
        routed.reject(TurnError::Moved);
        return;
    }
    let (Some(cluster), Some(command)) =
        (services.cluster.node().cloned(), command_of(&routed.msg))
    else {
        routed.reject(TurnError::Unavailable);
        return;
    };
    let tenant = tenant.clone();
    let tenant_id = tenant_id.clone();
    tokio::spawn(async move {
        let result = cluster
            .forward(&node, &tenant_id, &conversation_id, command)
            .await;
        let pause = match result {
            Ok(CommandResult::Failed {
                error: TurnError::Moved,
            }) => Duration::ZERO,
            Err(ClusterError::NoListener(_) | ClusterError::Timeout(_)) => RETRY_PAUSE,
            Ok(result) => return answer(routed.msg, result),
            Err(_) => return routed.reject(TurnError::ClusterUnavailable),
        };
        if routed.attempt + 1 >= MAX_ATTEMPTS {
            return routed.reject(TurnError::Unavailable);
        }
        debug!(conversation_id = %conversation_id, owner = %node, ?result, "forward failed; routing again");
        tokio::time::sleep(pause).await;
        let _ = tenant.cast(TenantMsg::Retry {
            conversation_id,
            stale_owner: node,
            routed: Routed {
                attempt: routed.attempt + 1,
                ..routed
            },
        });
    });
}

/// Gives a conversation lease back (a no-op on a single node).
pub(super) async fn release_lease(
    services: &Services,
    tenant_id: &str,
    conversation_id: &str,
    fence: i64,
) {
    if let Some(node) = services.cluster.node() {
        node.release_conversation(tenant_id, conversation_id, fence)
            .await;
    }
}

/// The dedup namespaces a forwarded user message can come from.
fn source_name(source: &str) -> &'static str {
    match source {
        "webchat" => "webchat",
        "whatsapp" => "whatsapp",
        "slack" => "slack",
        "teams" => "teams",
        _ => "forwarded",
    }
}

impl TenantHandle {
    /// Runs a command forwarded by another node on this node's actor for the conversation.
    pub async fn run_forwarded(&self, conversation_id: &str, command: Command) -> CommandResult {
        match command {
            Command::UserMessage {
                source,
                dedup_key,
                text,
            } => {
                let inbound = Inbound {
                    source: source_name(&source),
                    dedup_key,
                    text,
                };
                self.ask(conversation_id, true, |reply| {
                    ConversationMsg::UserMessage {
                        inbound: inbound.clone(),
                        reply,
                    }
                })
                .await
                .into()
            }
            Command::AgentMessage { text } => self
                .ask(conversation_id, true, |reply| {
                    ConversationMsg::AgentMessage {
                        text: text.clone(),
                        reply,
                    }
                })
                .await
                .into(),
            Command::Release => self
                .ask(conversation_id, true, |reply| ConversationMsg::Release {
                    reply,
                })
                .await
                .into(),
            Command::Start => self.cast_forwarded(conversation_id, ConversationMsg::Start),
            Command::SystemNote { text } => {
                self.cast_forwarded(conversation_id, ConversationMsg::SystemNote { text })
            }
            Command::InjectPanic => {
                self.cast_forwarded(conversation_id, ConversationMsg::InjectPanic)
            }
        }
    }

    fn cast_forwarded(&self, conversation_id: &str, msg: ConversationMsg) -> CommandResult {
        self.route_routed(conversation_id, Routed::new(msg, true));
        CommandResult::Done
    }
}

impl InboxHandler for Runtime {
    fn command(
        &self,
        tenant: String,
        conversation: String,
        command: Command,
    ) -> BoxFuture<'static, CommandResult> {
        let runtime = self.clone();
        Box::pin(async move {
            match runtime.tenant(&tenant).await {
                Ok(Some(handle)) => handle.run_forwarded(&conversation, command).await,
                Ok(None) => CommandResult::Failed {
                    error: TurnError::NotFound,
                },
                Err(_) => CommandResult::Failed {
                    error: TurnError::Unavailable,
                },
            }
        })
    }

    fn outbox_ready(&self, tenant: String, account: String, conversation: String) {
        self.services()
            .outbox
            .ready_here(&tenant, &account, &conversation);
    }
}
