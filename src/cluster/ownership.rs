//! [`Ownership`]: who runs a conversation (or a channel account's sender), and how to
//! reach the node that does.
//!
//! Actor code asks this trait and never asks "are we clustered?". On a single node
//! ([`SingleNode`]) every claim is granted at once with fence 0 and nothing ever needs
//! forwarding. In cluster mode ([`LeaseOwnership`]) a claim is a Redis lease with a
//! fencing token (see [`super::lease`]); commands for a conversation owned elsewhere go
//! to the owner's inbox. Every method returns a future or spawns its own task, so a
//! caller that is an actor never awaits Redis in its mailbox.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::lease::{Claim, LeaseKey};
use super::{ClusterError, ClusterNode};
use crate::store::Store;
use crate::turn::{Command, Reply};

/// Ownership of conversations and channel senders.
pub trait Ownership: Send + Sync {
    /// Claims `lease` for this node. For a conversation, a granted claim has already
    /// been recorded in the store, so a previous owner's writes fail from now on.
    fn claim(&self, lease: LeaseKey) -> BoxFuture<'static, Result<Claim, ClusterError>>;
    /// Gives a lease back. Never blocks the caller: the work runs in a task.
    fn release(&self, lease: LeaseKey, fence: i64);
    /// Runs `command` on the conversation's owner `node` and returns its reply.
    fn forward(
        &self,
        node: Arc<str>,
        tenant_id: Arc<str>,
        conversation_id: String,
        command: Command,
    ) -> BoxFuture<'static, Result<Reply, ClusterError>>;
    /// Tells the node that sends for a channel account that replies wait in its outbox;
    /// `Ok(false)` when that node is gone.
    fn notify_outbox(
        &self,
        node: String,
        tenant_id: String,
        account_id: String,
        conversation_id: String,
    ) -> BoxFuture<'static, Result<bool, ClusterError>>;
    /// How often to look for leases a dead node left behind (`None`: nothing to take over).
    fn takeover_interval(&self) -> Option<Duration>;
}

/// One node: it owns everything.
pub struct SingleNode;

impl Ownership for SingleNode {
    fn claim(&self, _lease: LeaseKey) -> BoxFuture<'static, Result<Claim, ClusterError>> {
        std::future::ready(Ok(Claim::Granted { fence: 0 })).boxed()
    }

    fn release(&self, _lease: LeaseKey, _fence: i64) {}

    fn forward(
        &self,
        node: Arc<str>,
        _tenant_id: Arc<str>,
        _conversation_id: String,
        _command: Command,
    ) -> BoxFuture<'static, Result<Reply, ClusterError>> {
        std::future::ready(Err(ClusterError::NoListener(node.to_string()))).boxed()
    }

    fn notify_outbox(
        &self,
        _node: String,
        _tenant_id: String,
        _account_id: String,
        _conversation_id: String,
    ) -> BoxFuture<'static, Result<bool, ClusterError>> {
        std::future::ready(Ok(false)).boxed()
    }

    fn takeover_interval(&self) -> Option<Duration> {
        None
    }
}

/// Cluster mode: Redis leases with fencing tokens, checked by every store write.
pub struct LeaseOwnership {
    node: Arc<ClusterNode>,
    store: Store,
}

impl LeaseOwnership {
    pub fn new(node: Arc<ClusterNode>, store: Store) -> Self {
        Self { node, store }
    }
}

impl Ownership for LeaseOwnership {
    fn claim(&self, lease: LeaseKey) -> BoxFuture<'static, Result<Claim, ClusterError>> {
        let node = self.node.clone();
        let store = self.store.clone();
        async move {
            match &lease {
                LeaseKey::Conversation {
                    tenant_id,
                    conversation_id,
                } => {
                    node.claim_conversation(&store, tenant_id, conversation_id)
                        .await
                }
                LeaseKey::Sender { .. } => node.claim(&lease, 0).await,
            }
        }
        .boxed()
    }

    fn release(&self, lease: LeaseKey, fence: i64) {
        let node = self.node.clone();
        tokio::spawn(async move { node.leases.release(&lease, fence).await });
    }

    fn forward(
        &self,
        node: Arc<str>,
        tenant_id: Arc<str>,
        conversation_id: String,
        command: Command,
    ) -> BoxFuture<'static, Result<Reply, ClusterError>> {
        let this = self.node.clone();
        async move {
            this.forward(&node, &tenant_id, &conversation_id, command)
                .await
        }
        .boxed()
    }

    fn notify_outbox(
        &self,
        node: String,
        tenant_id: String,
        account_id: String,
        conversation_id: String,
    ) -> BoxFuture<'static, Result<bool, ClusterError>> {
        let this = self.node.clone();
        async move {
            this.notify_outbox(&node, &tenant_id, &account_id, &conversation_id)
                .await
        }
        .boxed()
    }

    fn takeover_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(self.node.lease_ttl_ms()))
    }
}
