//! The retention job: deletes what end users said once it is older than the tenant's
//! retention period (its own, else `retention.default_event_days`), and purges tenants
//! deleted more than `retention.deleted_tenant_days` ago (every row of them).
//!
//! It runs every `retention.sweep_interval_secs` on every node. Deletes are idempotent,
//! so nodes of a cluster sweeping at once only repeat each other's work; each statement
//! deletes at most `retention.batch_rows` rows and the job yields between batches, so the
//! store (and SQLite's single writer) is never held for long. A conversation whose old
//! messages are gone keeps its newer ones; watchers read the store after their last seq,
//! so a deleted range is simply skipped.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::RetentionConfig;
use crate::store::{DAY_MS, Store, StoreError, now_ms};

/// The pause between two batches.
const BATCH_PAUSE: Duration = Duration::from_millis(50);

/// Starts the job; it ends when `stop` is cancelled.
pub fn start(store: Store, config: RetentionConfig, stop: CancellationToken) {
    tokio::spawn(async move {
        let interval = Duration::from_secs(config.sweep_interval_secs);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                result = sweep(&store, &config) => {
                    if let Err(error) = result {
                        warn!(%error, "retention sweep failed; it runs again next interval");
                    }
                }
            }
        }
    });
}

/// One pass over every tenant with a retention period. Returns the events deleted.
pub async fn sweep(store: &Store, config: &RetentionConfig) -> Result<u64, StoreError> {
    let batch = i64::from(config.batch_rows);
    let mut total = 0;
    for (tenant_id, days) in store
        .retention_periods(i64::from(config.default_event_days))
        .await?
    {
        let cutoff = now_ms() - days * DAY_MS;
        let mut deleted = 0;
        loop {
            let n = store
                .delete_events_before(&tenant_id, cutoff, batch)
                .await?;
            deleted += n;
            if n < batch as u64 {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        if deleted > 0 {
            info!(tenant_id, days, deleted, "retention: old messages deleted");
            metrics::counter!("switchboard_retention_deleted_events_total").increment(deleted);
        }
        total += deleted;
    }
    let cutoff = now_ms() - i64::from(config.deleted_tenant_days) * DAY_MS;
    for tenant_id in store.deleted_tenants_before(cutoff).await? {
        let mut purged = 0;
        loop {
            let n = store.purge_tenant(&tenant_id, batch).await?;
            if n == 0 {
                break;
            }
            purged += n;
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        info!(tenant_id, rows = purged, "retention: deleted tenant purged");
    }
    Ok(total)
}
