//! Leases with fencing tokens, on Redis.
//!
//! A lease key holds `<node>|<fence>` with a TTL. Claiming a free lease takes the next
//! value of the key's fence counter, so every new owner gets a larger token than every
//! earlier one; the claimer passes the conversation's stored `owner_fence` as a floor, so
//! tokens keep growing even if Redis lost its data. The owning node renews its leases
//! every third of the TTL; a lease that turns out to belong to someone else is reported
//! as lost. The scripts run atomically in Redis: no home-made consensus, and a stale
//! owner is stopped by the fence check in the store, not by timing.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use redis::Script;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::ClusterError;
use super::keys::Keys;

/// Claims a lease: `{1, fence}` granted (new, or already ours), `{0, owner, pttl}` taken.
const CLAIM: &str = r#"
local current = redis.call('GET', KEYS[1])
if current then
  local node, fence = string.match(current, '^(.*)|(%d+)$')
  if node == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, fence}
  end
  return {0, node, tostring(redis.call('PTTL', KEYS[1]))}
end
local fence = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if fence <= floor then
  fence = floor + 1
  redis.call('SET', KEYS[2], fence)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. fence, 'PX', ARGV[2])
return {1, tostring(fence)}
"#;

/// Renews a lease we hold: 1 renewed, 2 re-taken after it expired unclaimed, 0 lost.
const RENEW: &str = r#"
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"#;

/// Releases a lease only if we still hold it.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// We own it, with this fencing token.
    Granted { fence: i64 },
    /// Another node owns it for about `ttl_ms` more (unless it renews).
    Elsewhere { node: String, ttl_ms: i64 },
}

/// What a lease is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LeaseKey {
    /// The owner of a live conversation.
    Conversation {
        tenant_id: String,
        conversation_id: String,
    },
    /// The one sender of a channel account's outbox.
    Sender {
        tenant_id: String,
        account_id: String,
    },
}

impl LeaseKey {
    pub fn conversation(tenant_id: &str, conversation_id: &str) -> Self {
        LeaseKey::Conversation {
            tenant_id: tenant_id.to_string(),
            conversation_id: conversation_id.to_string(),
        }
    }

    pub fn sender(tenant_id: &str, account_id: &str) -> Self {
        LeaseKey::Sender {
            tenant_id: tenant_id.to_string(),
            account_id: account_id.to_string(),
        }
    }

    /// The Redis key that holds it.
    pub fn redis_key(&self, keys: &Keys) -> String {
        match self {
            LeaseKey::Conversation {
                tenant_id,
                conversation_id,
            } => keys.conversation_lease(tenant_id, conversation_id),
            LeaseKey::Sender {
                tenant_id,
                account_id,
            } => keys.sender_lease(tenant_id, account_id),
        }
    }
}

/// A lease this node held and lost (another node has it now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostLease {
    pub lease: LeaseKey,
    pub fence: i64,
}

/// The leases of this node: claims, renewal and release.
#[derive(Clone)]
pub struct Leases {
    node_id: Arc<str>,
    keys: Keys,
    redis: ConnectionManager,
    ttl: Duration,
    held: Arc<DashMap<LeaseKey, i64>>,
    claim: Arc<Script>,
    release: Arc<Script>,
}

impl Leases {
    pub fn new(node_id: Arc<str>, keys: Keys, redis: ConnectionManager, ttl: Duration) -> Self {
        Self {
            node_id,
            keys,
            redis,
            ttl,
            held: Arc::new(DashMap::new()),
            claim: Arc::new(Script::new(CLAIM)),
            release: Arc::new(Script::new(RELEASE)),
        }
    }

    fn value(&self, fence: i64) -> String {
        format!("{}|{fence}", self.node_id)
    }

    /// Claims `lease` for this node; `floor` is the highest token already used.
    pub async fn claim(&self, lease: &LeaseKey, floor: i64) -> Result<Claim, ClusterError> {
        let key = lease.redis_key(&self.keys);
        let mut redis = self.redis.clone();
        let reply: Vec<String> = self
            .claim
            .key(&key)
            .key(Keys::fence_of(&key))
            .arg(&*self.node_id)
            .arg(self.ttl.as_millis() as u64)
            .arg(floor)
            .invoke_async(&mut redis)
            .await
            .map_err(ClusterError::redis)?;
        let claim = match reply.as_slice() {
            [granted, fence] if granted == "1" => Claim::Granted {
                fence: fence.parse().map_err(|_| ClusterError::protocol("fence"))?,
            },
            [_, node, ttl] => Claim::Elsewhere {
                node: node.clone(),
                ttl_ms: ttl.parse().unwrap_or(0),
            },
            _ => return Err(ClusterError::protocol("claim reply")),
        };
        let outcome = match claim {
            Claim::Granted { fence } => {
                self.held.insert(lease.clone(), fence);
                "granted"
            }
            Claim::Elsewhere { .. } => "elsewhere",
        };
        metrics::counter!("switchboard_lease_claims_total", "outcome" => outcome).increment(1);
        metrics::gauge!("switchboard_leases_held").set(self.held.len() as f64);
        Ok(claim)
    }

    /// Gives a lease back (passivation, shutdown). Best effort: if Redis is unreachable
    /// the lease simply expires.
    pub async fn release(&self, lease: &LeaseKey, fence: i64) {
        if self.held.remove_if(lease, |_, f| *f == fence).is_none() {
            return;
        }
        let key = lease.redis_key(&self.keys);
        let mut redis = self.redis.clone();
        let released: Result<i64, _> = self
            .release
            .key(&key)
            .arg(self.value(fence))
            .invoke_async(&mut redis)
            .await;
        if let Err(e) = released {
            debug!(key, error = %e, "lease not released; it will expire");
        }
    }

    /// Gives back every lease still held (shutdown), in one round trip.
    pub async fn release_all(&self) {
        let held: Vec<(LeaseKey, i64)> = self
            .held
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        self.held.clear();
        if held.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (lease, fence) in &held {
            pipe.cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(lease.redis_key(&self.keys))
                .arg(self.value(*fence))
                .ignore();
        }
        let mut redis = self.redis.clone();
        if let Err(e) = pipe.query_async::<()>(&mut redis).await {
            debug!(error = %e, "leases not released at shutdown; they will expire");
        }
    }

    /// The leases held now, with their tokens.
    pub fn held(&self) -> Vec<(LeaseKey, i64)> {
        self.held
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.held.len()
    }

    /// Renews every held lease in one pipeline; returns the ones found taken.
    pub async fn renew_all(&self) -> Result<Vec<LostLease>, ClusterError> {
        let held = self.held();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (lease, fence) in &held {
            // EVAL by source: a pipeline cannot carry an EVALSHA fallback, and Redis caches
            // the compiled script after the first call anyway.
            pipe.cmd("EVAL")
                .arg(RENEW)
                .arg(1)
                .arg(lease.redis_key(&self.keys))
                .arg(self.value(*fence))
                .arg(self.ttl.as_millis() as u64);
        }
        let mut redis = self.redis.clone();
        let results: Vec<i64> = pipe
            .query_async(&mut redis)
            .await
            .map_err(ClusterError::redis)?;
        let mut lost = Vec::new();
        for ((lease, fence), result) in held.into_iter().zip(results) {
            if result == 0 {
                self.held.remove_if(&lease, |_, f| *f == fence);
                lost.push(LostLease { lease, fence });
            }
        }
        metrics::counter!("switchboard_leases_lost_total").increment(lost.len() as u64);
        metrics::gauge!("switchboard_leases_held").set(self.held.len() as f64);
        Ok(lost)
    }

    /// Renews every third of the TTL until the receiver of lost leases goes away. While
    /// Redis is unreachable it keeps trying; the node goes on serving what it owns (the
    /// store's fence check is what stops it if someone else took over meanwhile).
    pub async fn keep(self, lost: mpsc::UnboundedSender<LostLease>) {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match self.renew_all().await {
                Ok(taken) => {
                    if failing {
                        warn!("Redis reachable again; leases renewed");
                        failing = false;
                    }
                    for lease in taken {
                        warn!(lease = ?lease.lease, fence = lease.fence, "lease lost to another node");
                        if lost.send(lease).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    if !failing {
                        warn!(error = %e, "cannot renew leases; serving owned conversations, refusing new claims");
                        failing = true;
                    }
                }
            }
            if lost.is_closed() {
                return;
            }
        }
    }
}
