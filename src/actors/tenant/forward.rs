//! A command on its way to a conversation ([`Routed`]), and the cluster half of routing:
//! sending it to the node that owns the conversation, and running commands other nodes
//! send here.
//!
//! A forwarded command is the same [`Command`] value, and the owner's [`Reply`] answers
//! the caller as is. A forward that finds the owner gone (nobody listening on its inbox,
//! or no answer in time) or no longer the owner ([`TurnError::Moved`]) is routed again:
//! by then the lease has moved or expired, and this node may claim the conversation
//! itself. A forwarded command is never forwarded again, so a command cannot bounce
//! between nodes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use ractor::{ActorRef, RpcReplyPort};
use tracing::debug;

use super::{TenantMsg, TenantState};
use crate::actors::conversation::{ConversationMsg, Responder};
use crate::actors::root::Runtime;
use crate::cluster::ClusterError;
use crate::cluster::inbox::InboxHandler;
use crate::turn::{Command, Reply, TurnError};

/// Forwards of one command before it is given up.
const MAX_ATTEMPTS: u32 = 60;
/// Pause before routing again after the owner did not answer (its lease is running out).
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// A command on its way to a conversation, with who waits for the reply and where the
/// command came from.
pub struct Routed {
    command: Command,
    reply: Option<RpcReplyPort<Reply>>,
    /// It was forwarded here by another node; if this node is not the owner either, the
    /// sender is told ([`TurnError::Moved`]) instead of forwarding it again.
    forwarded: bool,
    attempt: u32,
}

impl Routed {
    pub fn new(command: Command, reply: Option<RpcReplyPort<Reply>>, forwarded: bool) -> Self {
        Self {
            command,
            reply,
            forwarded,
            attempt: 0,
        }
    }

    /// The conversation's message, and what routing needs to rebuild this if the message
    /// comes back undelivered.
    pub(super) fn into_message(self) -> (ConversationMsg, RoutedMeta) {
        let meta = RoutedMeta {
            forwarded: self.forwarded,
            attempt: self.attempt,
        };
        let msg = ConversationMsg::Command {
            command: self.command,
            reply: Responder::new(self.reply),
        };
        (msg, meta)
    }

    fn answer(self, reply: Reply) {
        if let Some(port) = self.reply {
            let _ = port.send(reply);
        }
    }

    pub(super) fn reject(self, error: TurnError) {
        self.answer(error.into());
    }
}

/// [`Routed`] without its command.
pub(super) struct RoutedMeta {
    forwarded: bool,
    attempt: u32,
}

impl RoutedMeta {
    /// The routed command again, from a conversation message that was not delivered.
    pub(super) fn with(self, msg: ConversationMsg) -> Option<Routed> {
        let ConversationMsg::Command { command, reply } = msg else {
            return None;
        };
        Some(Routed {
            command,
            reply: reply.into_port(),
            forwarded: self.forwarded,
            attempt: self.attempt,
        })
    }
}

/// Sends `routed` to the conversation's owner `node` and answers it, or routes it again.
pub(super) fn forward(
    tenant: &TenantState,
    myself: &ActorRef<TenantMsg>,
    node: Arc<str>,
    conversation_id: String,
    routed: Routed,
) {
    if routed.forwarded {
        routed.reject(TurnError::Moved);
        return;
    }
    let sent = tenant.services.cluster.ownership().forward(
        node.clone(),
        tenant.tenant_id.clone(),
        conversation_id.clone(),
        routed.command.clone(),
    );
    let myself = myself.clone();
    tokio::spawn(async move {
        let result = sent.await;
        let pause = match result {
            Ok(Reply::Failed {
                error: TurnError::Moved,
            }) => Duration::ZERO,
            Err(ClusterError::NoListener(_) | ClusterError::Timeout(_)) => {
                metrics::counter!("switchboard_cluster_owner_gone_total").increment(1);
                RETRY_PAUSE
            }
            Ok(reply) => return routed.answer(reply),
            Err(_) => return routed.reject(TurnError::ClusterUnavailable),
        };
        if routed.attempt + 1 >= MAX_ATTEMPTS {
            return routed.reject(TurnError::Unavailable);
        }
        debug!(conversation_id = %conversation_id, owner = %node, ?result, "forward failed; routing again");
        tokio::time::sleep(pause).await;
        let _ = myself.cast(TenantMsg::Retry {
            conversation_id,
            stale_owner: node,
            routed: Routed {
                attempt: routed.attempt + 1,
                ..routed
            },
        });
    });
}

/// What this node does with a command another node forwarded: run it here, never
/// forward it again.
impl InboxHandler for Runtime {
    fn command(
        &self,
        tenant: String,
        conversation: String,
        command: Command,
    ) -> BoxFuture<'static, Reply> {
        let runtime = self.clone();
        Box::pin(async move {
            match runtime.tenant(&tenant).await {
                Ok(Some(handle)) => handle.command(&conversation, command, true).await,
                Ok(None) => TurnError::NotFound.into(),
                Err(_) => TurnError::Unavailable.into(),
            }
        })
    }

    fn outbox_ready(&self, tenant: String, account: String, conversation: String) {
        self.services()
            .outbox
            .ready_here(&tenant, &account, &conversation);
    }
}
