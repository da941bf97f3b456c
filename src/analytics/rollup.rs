//! The rollup job: keeps the analytics sums up to date from the event store.
//!
//! Every `analytics.sweep_interval_secs`, on every node, for each tenant it summarises
//! (1) the conversations written since the tenant's watermark, oldest first, in batches
//! of `analytics.batch_conversations`, moving the watermark after each batch; and (2) the
//! open conversations whose silence has just reached `analytics.abandon_after_secs`.
//! A write is summarised once it is `analytics.settle_ms` old, so a transaction still
//! committing behind the watermark is not passed over.
//!
//! Summarising is idempotent (the same events give the same summary, and the sums get
//! only the difference) and guarded by the summary's revision, so nodes sweeping the
//! same tenant at once repeat work but never count twice. Previews (`flow_version < 0`)
//! are skipped. A conversation whose events were partly deleted by retention, or that
//! was erased, keeps the contribution it had (counts only).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::summary::{ConversationFacts, summarise};
use crate::config::AnalyticsConfig;
use crate::dialog::Status;
use crate::flow_cache::FlowCache;
use crate::store::{Store, StoreError, now_ms};
use crate::turn::PersistedState;

/// The pause between two batches.
const BATCH_PAUSE: Duration = Duration::from_millis(20);
/// Conversations summarised at once (each is a few reads and one short transaction).
/// Kept small: the job shares the connection pool (and SQLite's one writer) with the
/// conversations' own writes, which must not wait for it.
const CONCURRENT: usize = 2;

/// Starts the job; it ends when `stop` is cancelled.
pub fn start(store: Store, flows: FlowCache, config: AnalyticsConfig, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(config.sweep_interval_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: skip it, so a starting node does not sweep at once.
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                result = sweep(&store, &flows, &config, now_ms()) => match result {
                    Ok(n) => debug!(conversations = n, "analytics rollup swept"),
                    Err(error) => warn!(%error, "analytics rollup failed; it runs again next interval"),
                },
            }
        }
    });
}

/// One pass over every tenant as of `now`. Returns the conversations summarised.
pub async fn sweep(
    store: &Store,
    flows: &FlowCache,
    config: &AnalyticsConfig,
    now: i64,
) -> Result<u64, StoreError> {
    let batch = i64::from(config.batch_conversations);
    let until = now.saturating_sub(i64::try_from(config.settle_ms).unwrap_or(i64::MAX));
    let mut total = 0;
    for tenant_id in store.analytics_tenants().await? {
        loop {
            let (after_ms, after_id) = store.analytics_watermark(&tenant_id).await?;
            let changed = store
                .analytics_changed(&tenant_id, (after_ms, &after_id), until, batch)
                .await?;
            let Some(last) = changed.last().map(|c| (c.updated_at, c.id.clone())) else {
                break;
            };
            let ids = changed
                .iter()
                .filter(|c| c.flow_version >= 0)
                .map(|c| c.id.as_str());
            total += refresh_all(store, flows, config, &tenant_id, ids, now).await?;
            store
                .analytics_advance_watermark(&tenant_id, last.0, &last.1)
                .await?;
            if (changed.len() as i64) < batch {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
        loop {
            let due = store.analytics_due_rechecks(&tenant_id, now, batch).await?;
            total += refresh_all(
                store,
                flows,
                config,
                &tenant_id,
                due.iter().map(String::as_str),
                now,
            )
            .await?;
            if (due.len() as i64) < batch {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
    metrics::counter!("switchboard_analytics_summarised_total").increment(total);
    Ok(total)
}

/// Summarises conversations, a few at once. Returns how many were stored; the first
/// error stops the batch (its watermark is not moved, so it is done again).
async fn refresh_all<'a>(
    store: &Store,
    flows: &FlowCache,
    config: &AnalyticsConfig,
    tenant_id: &str,
    ids: impl Iterator<Item = &'a str>,
    now: i64,
) -> Result<u64, StoreError> {
    let ids: Vec<String> = ids.map(str::to_owned).collect();
    let mut results = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CONCURRENT) {
        let runs = chunk.iter().map(|id| {
            let (store, flows, config) = (store.clone(), flows.clone(), config.clone());
            let (tenant_id, id) = (tenant_id.to_owned(), id.clone());
            async move { refresh(&store, &flows, &config, &tenant_id, &id, now).await }
        });
        results.extend(futures_util::future::join_all(runs).await);
    }
    let mut stored = 0;
    for result in results {
        stored += u64::from(result?);
    }
    Ok(stored)
}

/// Summarises one conversation as of `now` and stores it. False when nothing changed,
/// the conversation is gone, or another node stored its summary first.
pub async fn refresh(
    store: &Store,
    flows: &FlowCache,
    config: &AnalyticsConfig,
    tenant_id: &str,
    conversation_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let previous = store.analytics_summary(tenant_id, conversation_id).await?;
    let Some(conversation) = store
        .analytics_conversation(tenant_id, conversation_id)
        .await?
    else {
        // Erased: its summary keeps what it counted, and is not rechecked.
        store.analytics_freeze(tenant_id, conversation_id).await?;
        return Ok(false);
    };
    if conversation.flow_version < 0 {
        return Ok(false);
    }
    let events = store.analytics_events(tenant_id, conversation_id).await?;
    if previous.is_some() && events.first().is_some_and(|e| e.seq > 1) {
        // Retention deleted its first messages: a summary now would undercount.
        store.analytics_freeze(tenant_id, conversation_id).await?;
        return Ok(false);
    }
    let calls = store.analytics_calls(tenant_id, conversation_id).await?;
    let persisted: PersistedState =
        serde_json::from_str(&conversation.dialog_state).unwrap_or_default();
    let awaiting_input = match &persisted.dialog.status {
        Status::AwaitingInput { state } => Some(state.as_str()),
        _ => None,
    };
    let tenant: std::sync::Arc<str> = tenant_id.into();
    let flow = match flows
        .get(&tenant, &conversation.flow_id, conversation.flow_version)
        .await
    {
        Ok(flow) => Some(flow),
        Err(error) => {
            debug!(tenant_id, conversation_id, %error, "flow not loaded: no fallbacks counted");
            None
        }
    };
    let check = |state: &str, answer: &str| {
        flow.as_ref()
            .and_then(|flow| flow.collect_answer_check(state, answer))
    };
    let summary = summarise(&ConversationFacts {
        started_at: conversation.created_at,
        awaiting_input,
        events: &events,
        calls: &calls,
        now,
        abandon_after_ms: i64::try_from(config.abandon_after_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000),
        collect_check: &check,
    });
    if let Some(previous) = &previous
        && previous.contribution == summary.contribution
        && summary.recheck_at.is_none()
    {
        // Nothing new to add; only make sure it is not rechecked for nothing.
        store.analytics_freeze(tenant_id, conversation_id).await?;
        return Ok(false);
    }
    store
        .analytics_save(
            tenant_id,
            conversation_id,
            &conversation,
            previous.as_ref(),
            &summary,
        )
        .await
}
