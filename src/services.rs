//! The shared services every actor and edge needs, bundled in one cheap-clone value.
//!
//! Built once at start by [`crate::app`] and handed to the actor tree, so an actor's
//! arguments say "services" instead of a long list of handles.

use std::sync::Arc;

use crate::adaptors::{AdaptorClient, AdaptorError, NetworkPolicy};
use crate::bus::Bus;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::flow_cache::FlowCache;
use crate::governance::{Alerts, Budgets, ModelLimits, TenantProviders};
use crate::llm::LlmGateway;
use crate::metering::UsageRecorder;
use crate::secret_box::SecretBox;
use crate::store::Store;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub bus: Bus,
    pub flows: FlowCache,
    pub llm: LlmGateway,
    /// Tenants' knowledge bases: documents, chunks, embeddings and search.
    pub knowledge: crate::knowledge::Knowledge,
    /// Stores the gateway's metered calls (the same recorder the gateway reports to).
    pub usage: UsageRecorder,
    /// The budgets the gateway admits calls against.
    pub budgets: Budgets,
    /// The rate limits of tenants' model calls.
    pub limits: ModelLimits,
    /// Tenants' own model providers and routes.
    pub tenant_models: TenantProviders,
    /// Signed events to tenants' webhooks.
    pub alerts: Alerts,
    pub adaptors: AdaptorClients,
    /// Decrypts adaptor secrets at call time.
    pub secrets: Arc<SecretBox>,
    /// Told when replies of a provider conversation wait in the outbox.
    pub outbox: OutboxRelay,
    /// This node's place in the cluster (or a single node): ownership, presence.
    pub cluster: Cluster,
}

/// Receives "replies are waiting in the outbox" signals. Implemented by the channel
/// delivery layer; the core only knows this trait, so it never depends on a provider.
pub trait OutboxListener: Send + Sync {
    fn outbox_ready(&self, tenant_id: &str, account_id: &str, conversation_id: &str);
    /// The same signal, sent to this node by another one: handle it here, never pass it on.
    fn outbox_ready_here(&self, tenant_id: &str, account_id: &str, conversation_id: &str);
}

/// Late-bound [`OutboxListener`]: the delivery layer is started after the actor tree it
/// depends on, then plugged in. Until then signals are dropped (the pending rows stay in
/// the outbox and are delivered when the layer starts).
#[derive(Clone, Default)]
pub struct OutboxRelay {
    listener: Arc<std::sync::OnceLock<Arc<dyn OutboxListener>>>,
}

impl OutboxRelay {
    pub fn set(&self, listener: Arc<dyn OutboxListener>) {
        let _ = self.listener.set(listener);
    }

    pub fn ready(&self, tenant_id: &str, account_id: &str, conversation_id: &str) {
        if let Some(listener) = self.listener.get() {
            listener.outbox_ready(tenant_id, account_id, conversation_id);
        }
    }

    pub fn ready_here(&self, tenant_id: &str, account_id: &str, conversation_id: &str) {
        if let Some(listener) = self.listener.get() {
            listener.outbox_ready_here(tenant_id, account_id, conversation_id);
        }
    }
}

/// The two adaptor clients: the default one refuses private and loopback addresses at
/// connect time; the other is for tenants the operator allowed private adaptors.
#[derive(Clone, Debug)]
pub struct AdaptorClients {
    public_only: AdaptorClient,
    private_allowed: AdaptorClient,
}

impl AdaptorClients {
    pub fn new() -> Result<Self, AdaptorError> {
        Ok(Self {
            public_only: AdaptorClient::new(NetworkPolicy {
                allow_private: false,
            })?,
            private_allowed: AdaptorClient::new(NetworkPolicy {
                allow_private: true,
            })?,
        })
    }

    pub fn for_tenant(&self, allow_private: bool) -> &AdaptorClient {
        if allow_private {
            &self.private_allowed
        } else {
            &self.public_only
        }
    }
}
