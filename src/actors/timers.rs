//! The timer sweep: every node looks for durable timers that are due, claims them in the
//! store (one node per claim window) and delivers each to its conversation through the
//! tenant, which routes it to the conversation's owner anywhere in the cluster. The
//! conversation acts on a timer only while it is still its timer, and its turn clears
//! it, so a timer fires once even when a claim is delivered twice or its node dies.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Runtime;
use crate::store::{DueTimer, now_ms};

/// Timers claimed per sweep.
const BATCH: i64 = 200;
/// Timers delivered at once.
const CONCURRENT: usize = 16;
/// How long a claim keeps other nodes off a timer being delivered.
const CLAIM_MS: i64 = 30_000;

/// Starts the sweep on the current runtime, every `every`, until `stop`.
pub fn start(runtime: Runtime, every: Duration, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            loop {
                let claimed = match runtime
                    .services()
                    .store
                    .claim_due_timers(now_ms(), CLAIM_MS, BATCH)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        warn!(%error, "cannot look for due timers; trying again next sweep");
                        break;
                    }
                };
                let full = claimed.len() as i64 == BATCH;
                futures_util::stream::iter(claimed)
                    .for_each_concurrent(CONCURRENT, |timer| deliver(&runtime, timer))
                    .await;
                if !full {
                    break;
                }
            }
        }
    });
}

async fn deliver(runtime: &Runtime, timer: DueTimer) {
    let tenant = match runtime.tenant(&timer.tenant_id).await {
        Ok(Some(tenant)) => tenant,
        // A deleted tenant's timers lapse; nothing answers them.
        Ok(None) => return,
        Err(error) => {
            debug!(%error, "tenant unavailable; the timer is claimed again later");
            return;
        }
    };
    if let Err(error) = tenant.timer(&timer.conversation_id, timer.due_at).await {
        debug!(conversation_id = %timer.conversation_id, ?error,
            "timer not delivered; it is claimed again once this claim lapses");
    }
}
