//! Each flow's running experiment, cached like its active version (and dropped with it:
//! `FlowCache::forget_active` clears both, on every node through the activation notice),
//! so opening a conversation reads no table while an experiment runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::{Arm, RunningExperiment};
use crate::store::{Store, StoreError};

/// A cached answer is trusted this long even if no notice arrives.
const TTL: Duration = Duration::from_secs(30);

type Entry = (Option<Arc<RunningExperiment>>, Instant);

/// Cheap-clone cache of running experiments by (tenant, flow).
#[derive(Clone, Default)]
pub struct ExperimentCache {
    /// DashMap: read by every conversation opening; never held across `.await`.
    running: Arc<DashMap<(String, String), Entry>>,
}

impl ExperimentCache {
    pub fn forget(&self, tenant_id: &str, flow_id: &str) {
        self.running
            .remove(&(tenant_id.to_owned(), flow_id.to_owned()));
    }

    /// The experiment running on the flow, if any.
    pub async fn running(
        &self,
        store: &Store,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Option<Arc<RunningExperiment>>, StoreError> {
        let key = (tenant_id.to_owned(), flow_id.to_owned());
        if let Some(entry) = self.running.get(&key).filter(|e| e.1.elapsed() < TTL) {
            return Ok(entry.0.clone());
        }
        let running = store
            .running_experiment(tenant_id, flow_id)
            .await?
            .and_then(|row| {
                let arms: Vec<Arm> = serde_json::from_str(&row.arms).ok()?;
                Some(Arc::new(RunningExperiment {
                    id: row.id,
                    flow_id: row.flow_id,
                    arms,
                }))
            });
        self.running.insert(key, (running.clone(), Instant::now()));
        Ok(running)
    }
}
