//! Compiled flow versions, shared by every conversation that runs them.
//!
//! A published version is immutable, so `(tenant, flow, version)` → compiled flow never
//! changes and can be cached forever. Compiling happens once per version per node, the
//! first time a conversation needs it; conversations then share one `Arc`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::dialog::{self, CompiledFlow};
use crate::experiments::assign::assign;
use crate::experiments::cache::ExperimentCache;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FlowLoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("flow `{flow_id}` version {version} of tenant `{tenant_id}` does not exist")]
    Missing {
        tenant_id: String,
        flow_id: String,
        version: i64,
    },
    #[error("flow `{flow_id}` has no active version")]
    NoActiveVersion { flow_id: String },
    #[error("stored flow `{flow_id}` version {version} no longer compiles: {reason}")]
    Invalid {
        flow_id: String,
        version: i64,
        reason: String,
    },
}

type Key = (Arc<str>, String, i64);

/// A cached active version is trusted this long even if no activation notice arrives
/// (the notice is what makes a new version visible at once; this bounds a lost one).
const ACTIVE_TTL: Duration = Duration::from_secs(30);

/// Cheap-clone cache of compiled flow versions and of which version is active.
#[derive(Clone)]
pub struct FlowCache {
    store: Store,
    /// DashMap: read by many conversation actors at once; never held across `.await`.
    compiled: Arc<DashMap<Key, Arc<CompiledFlow>>>,
    /// (tenant, flow) → (active version, when it was read).
    active: Arc<DashMap<(String, String), (i64, Instant)>>,
    /// Each flow's running experiment, dropped with its active version.
    experiments: ExperimentCache,
}

impl FlowCache {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            compiled: Arc::new(DashMap::new()),
            active: Arc::new(DashMap::new()),
            experiments: ExperimentCache::default(),
        }
    }

    /// Drops the cached active version of a flow (it was activated or deleted). Called on
    /// the node that changed it and, through the cluster's notice, on every other node.
    pub fn forget_active(&self, tenant_id: &str, flow_id: &str) {
        self.active
            .remove(&(tenant_id.to_string(), flow_id.to_string()));
        self.experiments.forget(tenant_id, flow_id);
    }

    /// The version a new conversation of `external_user` starts on: its arm of the
    /// flow's running experiment, else the active version. Loaded (compiled) before it
    /// is returned.
    pub async fn version_for_new(
        &self,
        tenant_id: &Arc<str>,
        flow_id: &str,
        external_user: &str,
    ) -> Result<i64, FlowLoadError> {
        let running = self
            .experiments
            .running(&self.store, tenant_id, flow_id)
            .await?;
        if let Some(version) = running.and_then(|experiment| {
            assign(
                tenant_id,
                flow_id,
                &experiment.id,
                external_user,
                &experiment.arms,
            )
        }) {
            self.get(tenant_id, flow_id, version).await?;
            return Ok(version);
        }
        Ok(self.active(tenant_id, flow_id).await?.0)
    }

    /// The compiled flow of one exact version.
    pub async fn get(
        &self,
        tenant_id: &Arc<str>,
        flow_id: &str,
        version: i64,
    ) -> Result<Arc<CompiledFlow>, FlowLoadError> {
        let key = (tenant_id.clone(), flow_id.to_string(), version);
        if let Some(flow) = self.compiled.get(&key) {
            return Ok(flow.clone());
        }
        let row = self
            .store
            .flow_version(tenant_id, flow_id, version)
            .await?
            .ok_or_else(|| FlowLoadError::Missing {
                tenant_id: tenant_id.to_string(),
                flow_id: flow_id.to_string(),
                version,
            })?;
        let file = format!("{flow_id}@v{version}");
        let flow =
            dialog::compile(&file, &row.source).map_err(|diagnostics| FlowLoadError::Invalid {
                flow_id: flow_id.to_string(),
                version,
                reason: diagnostics
                    .first()
                    .map(|d| d.message.clone())
                    .unwrap_or_default(),
            })?;
        let flow = Arc::new(flow);
        self.compiled.insert(key, flow.clone());
        Ok(flow)
    }

    /// The active version of a flow and its compiled form.
    pub async fn active(
        &self,
        tenant_id: &Arc<str>,
        flow_id: &str,
    ) -> Result<(i64, Arc<CompiledFlow>), FlowLoadError> {
        let key = (tenant_id.to_string(), flow_id.to_string());
        let cached = self
            .active
            .get(&key)
            .filter(|entry| entry.1.elapsed() < ACTIVE_TTL)
            .map(|entry| entry.0);
        let version = match cached {
            Some(version) => version,
            None => {
                let row = self
                    .store
                    .active_flow_version(tenant_id, flow_id)
                    .await?
                    .ok_or_else(|| FlowLoadError::NoActiveVersion {
                        flow_id: flow_id.to_string(),
                    })?;
                self.active.insert(key, (row.version, Instant::now()));
                row.version
            }
        };
        let flow = self.get(tenant_id, flow_id, version).await?;
        Ok((version, flow))
    }
}
