//! The assigner: a job on every node, every `agents.sweep_ms`.
//!
//! 1. An agent who holds conversations and has been offline (no presence entry) for
//!    `agents.offline_grace_secs` loses them back to their queues.
//! 2. Conversations waiting in a queue go to the online (not away) agent of that queue
//!    with the fewest conversations and room under its capacity; a tie goes to the one
//!    served least recently. The store's assignment is the arbiter (capacity counted
//!    under the agent's row lock, the conversation taken only while unassigned), so
//!    nodes running the job at once never overfill an agent or assign twice.
//! 3. Missed response targets are claimed once cluster-wide and reported: a metric, an
//!    audit entry and the tenant's `handoff.sla_breached` alert.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::actions;
use crate::actors::Runtime;
use crate::cluster::presence::{PresenceEntry, PresenceKind};
use crate::config::AgentsConfig;
use crate::store::{AgentRow, StoreError, now_ms};
use crate::transcript::ConversationEvent;

/// Waiting conversations looked at per sweep.
const BATCH: i64 = 500;
/// Breaches reported per sweep.
const BREACHES: i64 = 200;

/// Starts the job on the current runtime until `stop`.
pub fn start(runtime: Runtime, config: AgentsConfig, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(config.sweep_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = sweep(&runtime, &config).await {
                warn!(error = %error, "agent assignment sweep failed; retrying next tick");
            }
        }
    });
}

/// Agent presence as the assigner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Online and taking conversations.
    Online,
    /// Online, taking none now.
    Away,
    Offline,
}

/// The status an agent announced; `away` or anything else (online).
pub fn availability(entry: Option<&PresenceEntry>) -> Availability {
    match entry {
        None => Availability::Offline,
        Some(entry) if entry.status.as_deref() == Some("away") => Availability::Away,
        Some(_) => Availability::Online,
    }
}

/// The tenant's agents' presence entries, by agent id (`None`: presence unavailable).
async fn present(runtime: &Runtime, tenant_id: &str) -> Option<HashMap<String, PresenceEntry>> {
    let entries = runtime
        .services()
        .cluster
        .presence()
        .list(tenant_id)
        .await
        .map_err(|error| warn!(tenant_id, error = %error, "presence unavailable"))
        .ok()?;
    Some(
        entries
            .into_iter()
            .filter(|e| e.kind == PresenceKind::Agent)
            .map(|e| (e.subject.clone(), e))
            .collect(),
    )
}

/// One pass of the three duties.
pub async fn sweep(runtime: &Runtime, config: &AgentsConfig) -> Result<(), StoreError> {
    let store = &runtime.services().store;
    let now = now_ms();
    let mut presence: HashMap<String, Option<HashMap<String, PresenceEntry>>> = HashMap::new();

    // 1. Offline agents lose their conversations after the grace period.
    for (tenant_id, agent_id) in store.agents_holding_handoffs().await? {
        if !presence.contains_key(&tenant_id) {
            let seen = present(runtime, &tenant_id).await;
            presence.insert(tenant_id.clone(), seen);
        }
        let Some(Some(seen)) = presence.get(&tenant_id) else {
            continue; // presence unknown: never requeue on a guess
        };
        if seen.contains_key(&agent_id) {
            store
                .mark_agent_offline(&tenant_id, &agent_id, None)
                .await?;
            continue;
        }
        let since = store
            .mark_agent_offline(&tenant_id, &agent_id, Some(now))
            .await?
            .unwrap_or(now);
        if now - since >= (config.offline_grace_secs as i64) * 1000 {
            let moved = store.unassign_agent(&tenant_id, &agent_id).await?;
            info!(
                tenant_id,
                agent_id,
                conversations = moved.len(),
                "agent offline past the grace period; conversations back in their queues"
            );
            for (conversation_id, queue) in moved {
                mark(runtime, &tenant_id, &conversation_id, &queue).await;
                actions::transferred(
                    runtime,
                    &tenant_id,
                    &conversation_id,
                    &queue,
                    "agent_offline",
                )
                .await;
            }
            store
                .mark_agent_offline(&tenant_id, &agent_id, None)
                .await?;
        }
    }

    // 2. Waiting conversations go to the least-loaded online agent with room.
    let waiting = store.waiting_handoffs(BATCH).await?;
    let mut agents: HashMap<String, Vec<AgentRow>> = HashMap::new();
    for conversation in waiting {
        let tenant_id = conversation.tenant_id.clone();
        if !presence.contains_key(&tenant_id) {
            let seen = present(runtime, &tenant_id).await;
            presence.insert(tenant_id.clone(), seen);
        }
        let Some(Some(seen)) = presence.get(&tenant_id) else {
            continue;
        };
        if !agents.contains_key(&tenant_id) {
            agents.insert(tenant_id.clone(), store.agents(&tenant_id).await?);
        }
        let Some(roster) = agents.get_mut(&tenant_id) else {
            continue;
        };
        loop {
            let pick = roster
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    a.serves(&conversation.queue)
                        && a.load < a.capacity
                        && availability(seen.get(&a.id)) == Availability::Online
                })
                .min_by_key(|(_, a)| (a.load, a.last_assigned_at, a.id.clone()))
                .map(|(i, _)| i);
            let Some(i) = pick else {
                break;
            };
            let agent = roster[i].clone();
            match actions::assign(runtime, &agent, &conversation.conversation_id, None, true).await
            {
                Ok(true) => {
                    debug!(tenant_id, agent_id = %agent.id,
                        conversation_id = %conversation.conversation_id, "handoff assigned");
                    roster[i].load += 1;
                    roster[i].last_assigned_at = now_ms();
                    break;
                }
                Ok(false) => {
                    // Another node won it, or the agent filled up meanwhile: look again.
                    if let Some(fresh) = store.agent(&tenant_id, &agent.id).await? {
                        if fresh.load < fresh.capacity {
                            break; // the conversation is gone, not the room
                        }
                        roster[i] = fresh;
                    } else {
                        roster.remove(i);
                    }
                }
                Err(error) => {
                    warn!(tenant_id, error = %error, "assignment failed");
                    break;
                }
            }
        }
    }

    // 3. Missed response targets, once each.
    for breach in store.claim_sla_breaches(now_ms(), BREACHES).await? {
        let kind = if breach.first { "first" } else { "next" };
        metrics::counter!("switchboard_sla_breaches_total", "kind" => kind).increment(1);
        warn!(tenant_id = %breach.tenant_id, conversation_id = %breach.conversation_id,
            queue = %breach.queue, kind, target_secs = breach.target_secs, "response target missed");
        let details = json!({
            "conversation_id": breach.conversation_id,
            "queue": breach.queue,
            "agent_id": breach.agent_id,
            "kind": kind,
            "target_secs": breach.target_secs,
            "waiting_since": breach.waiting_since,
        });
        if let Err(error) = store
            .audit(
                &breach.tenant_id,
                "system",
                "handoff.sla_breached",
                &breach.conversation_id,
                &details,
            )
            .await
        {
            warn!(error = %error, "could not audit a response-target breach");
        }
        runtime
            .services()
            .alerts
            .raise(&breach.tenant_id, "handoff.sla_breached", details)
            .await;
    }
    Ok(())
}

async fn mark(runtime: &Runtime, tenant_id: &str, conversation_id: &str, queue: &str) {
    let Ok(Some(tenant)) = runtime.tenant(tenant_id).await else {
        return;
    };
    let command = crate::turn::Command::Mark {
        event: ConversationEvent::Transferred,
        detail: queue.to_owned(),
    };
    let _ = tenant.command(conversation_id, command, false).await;
}
