//! Node inboxes: how a node asks the owner of a conversation to handle a command.
//!
//! Every node subscribes to its own inbox channel. A request carries an id and the
//! sender's node; the owner runs the command through its actor tree and publishes the
//! result to the sender's inbox. `PUBLISH` answers how many subscribers received the
//! message, so a request to a dead node fails at once (`NoListener`) instead of waiting
//! for the timeout. A request is answered at most once; a lost one times out, and the
//! sender retries with the same dedup key, so the owner stores it once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::ClusterError;
use super::keys::Keys;
use super::messages::InboxMessage;
use crate::turn::{Command, Reply};

/// What a node does with the messages in its inbox: implemented by the actor tree.
pub trait InboxHandler: Send + Sync {
    /// Runs a forwarded command on this node's actor for the conversation.
    fn command(
        &self,
        tenant: String,
        conversation: String,
        command: Command,
    ) -> BoxFuture<'static, Reply>;
    /// A channel account's replies wait in the outbox (this node sends for the account).
    fn outbox_ready(&self, tenant: String, account: String, conversation: String);
}

pub(super) struct Inbox {
    node_id: Arc<str>,
    keys: Keys,
    redis: ConnectionManager,
    pending: DashMap<u64, oneshot::Sender<Reply>>,
    next_id: AtomicU64,
    timeout: Duration,
}

impl Inbox {
    pub fn new(node_id: Arc<str>, keys: Keys, redis: ConnectionManager, timeout: Duration) -> Self {
        Self {
            node_id,
            keys,
            redis,
            pending: DashMap::new(),
            next_id: AtomicU64::new(1),
            timeout,
        }
    }

    async fn send(&self, node: &str, message: &InboxMessage) -> Result<i64, ClusterError> {
        let payload =
            serde_json::to_string(message).map_err(|e| ClusterError::protocol(&e.to_string()))?;
        let mut redis = self.redis.clone();
        redis::cmd("PUBLISH")
            .arg(self.keys.node_inbox(node))
            .arg(payload)
            .query_async(&mut redis)
            .await
            .map_err(ClusterError::redis)
    }

    /// Asks `node` to run `command` and waits for its answer.
    pub async fn request(
        &self,
        node: &str,
        tenant: &str,
        conversation: &str,
        command: Command,
    ) -> Result<Reply, ClusterError> {
        metrics::counter!("switchboard_cluster_forwards_total").increment(1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id, tx);
        let message = InboxMessage::Request {
            id,
            from: self.node_id.to_string(),
            tenant: tenant.to_string(),
            conversation: conversation.to_string(),
            command,
        };
        let sent = self.send(node, &message).await;
        match sent {
            Ok(0) => {
                self.pending.remove(&id);
                return Err(ClusterError::NoListener(node.to_string()));
            }
            Ok(_) => {}
            Err(e) => {
                self.pending.remove(&id);
                return Err(e);
            }
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => Ok(result),
            _ => {
                self.pending.remove(&id);
                Err(ClusterError::Timeout(node.to_string()))
            }
        }
    }

    /// Sends a message that wants no answer.
    pub async fn notify(&self, node: &str, message: InboxMessage) -> Result<bool, ClusterError> {
        Ok(self.send(node, &message).await? > 0)
    }

    /// Handles one message that arrived in this node's inbox.
    pub fn deliver(self: &Arc<Self>, payload: &[u8], handler: Option<&Arc<dyn InboxHandler>>) {
        let message: InboxMessage = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(e) => {
                warn!(error = %e, "malformed inbox message ignored");
                return;
            }
        };
        match message {
            InboxMessage::Reply { id, reply } => {
                if let Some((_, tx)) = self.pending.remove(&id) {
                    let _ = tx.send(reply);
                }
            }
            InboxMessage::Request {
                id,
                from,
                tenant,
                conversation,
                command,
            } => {
                let Some(handler) = handler.cloned() else {
                    debug!("inbox request before the actor tree started; the sender retries");
                    return;
                };
                let inbox = self.clone();
                tokio::spawn(async move {
                    let reply = handler.command(tenant, conversation, command).await;
                    let reply = InboxMessage::Reply { id, reply };
                    if let Err(e) = inbox.send(&from, &reply).await {
                        warn!(node = %from, error = %e, "could not answer a forwarded command");
                    }
                });
            }
            InboxMessage::OutboxReady {
                tenant,
                account,
                conversation,
            } => {
                if let Some(handler) = handler {
                    handler.outbox_ready(tenant, account, conversation);
                }
            }
        }
    }
}
