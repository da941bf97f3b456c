//! Presence: who is online for a tenant (web chat connections and the visitors behind
//! them, human agents) and on which node.
//!
//! [`Presence`] has two implementations. [`LocalPresence`] keeps entries in process (a
//! single node). [`RedisPresence`] also writes them to Redis: a sorted set of entry ids
//! scored by expiry time plus a hash of the entries, under the tenant's hash tag. The node
//! refreshes its entries every heartbeat; an entry expires two heartbeats after its last
//! refresh, so a node that dies vanishes from presence within two intervals. A clean
//! disconnect removes its entry at once. Every change is published on the tenant's
//! presence channel as `{"event":"online"|"offline","entry":{…}}`.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::ClusterError;
use super::keys::Keys;
use crate::store::now_ms;

/// How long a tenant's presence keys outlive their last write.
const KEYS_LINGER_MS: u64 = 600_000;

/// What an entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceKind {
    /// A joined web chat socket of a visitor.
    Connection,
    /// A human agent who announced themselves (admin API).
    Agent,
}

/// One online thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresenceEntry {
    /// Unique within the tenant: `conn:<id>` or `agent:<id>`.
    pub id: String,
    pub kind: PresenceKind,
    /// The visitor id (connections) or agent id (agents).
    pub subject: String,
    /// The conversation a connection watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The node it is connected to.
    pub node: String,
    /// When it came online (ms since the epoch).
    pub since: i64,
    /// Agents: `online` or `away` (online, taking no new conversations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The presence service: in process, or shared through Redis.
pub trait Presence: Send + Sync {
    /// Marks an entry online. `refresh`: kept alive by this node's heartbeat until
    /// `offline` (connections); otherwise it lapses after two heartbeats unless announced
    /// again (agents).
    fn online(&self, tenant_id: &str, entry: PresenceEntry, refresh: bool);
    fn offline(&self, tenant_id: &str, entry_id: &str);
    /// Everything online for the tenant, across the cluster.
    fn list(&self, tenant_id: &str)
    -> BoxFuture<'static, Result<Vec<PresenceEntry>, ClusterError>>;
    /// Entries held by this node.
    fn local_count(&self) -> usize;
}

struct LocalEntry {
    entry: PresenceEntry,
    /// `None` while refreshed by the node; otherwise when it lapses.
    lapses_at: Option<i64>,
}

/// Single-node presence.
#[derive(Clone)]
pub struct LocalPresence {
    entries: Arc<DashMap<(String, String), LocalEntry>>,
    ttl: Duration,
}

impl LocalPresence {
    pub fn new(heartbeat: Duration) -> Self {
        Self {
            entries: Arc::new(DashMap::new()),
            ttl: heartbeat * 2,
        }
    }

    fn prune(&self) {
        let now = now_ms();
        self.entries
            .retain(|_, e| e.lapses_at.is_none_or(|t| t > now));
    }

    fn snapshot(&self, tenant_id: &str) -> Vec<PresenceEntry> {
        self.prune();
        let mut entries: Vec<PresenceEntry> = self
            .entries
            .iter()
            .filter(|e| e.key().0 == tenant_id)
            .map(|e| e.value().entry.clone())
            .collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries
    }
}

impl Presence for LocalPresence {
    fn online(&self, tenant_id: &str, entry: PresenceEntry, refresh: bool) {
        let lapses_at = (!refresh).then(|| now_ms() + self.ttl.as_millis() as i64);
        self.entries.insert(
            (tenant_id.to_string(), entry.id.clone()),
            LocalEntry { entry, lapses_at },
        );
    }

    fn offline(&self, tenant_id: &str, entry_id: &str) {
        self.entries
            .remove(&(tenant_id.to_string(), entry_id.to_string()));
    }

    fn list(
        &self,
        tenant_id: &str,
    ) -> BoxFuture<'static, Result<Vec<PresenceEntry>, ClusterError>> {
        let entries = self.snapshot(tenant_id);
        Box::pin(async move { Ok(entries) })
    }

    fn local_count(&self) -> usize {
        self.entries.len()
    }
}

/// Cluster-wide presence in Redis.
#[derive(Clone)]
pub struct RedisPresence {
    local: LocalPresence,
    redis: ConnectionManager,
    keys: Keys,
}

#[derive(Serialize)]
struct Change<'a> {
    event: &'static str,
    entry: &'a PresenceEntry,
}

impl RedisPresence {
    pub fn new(redis: ConnectionManager, keys: Keys, heartbeat: Duration) -> Self {
        Self {
            local: LocalPresence::new(heartbeat),
            redis,
            keys,
        }
    }

    fn ttl_ms(&self) -> i64 {
        self.local.ttl.as_millis() as i64
    }

    /// Writes one entry (and announces it when it is new).
    async fn write(
        &self,
        tenant_id: &str,
        entry: &PresenceEntry,
        expires_at: i64,
    ) -> Result<(), ClusterError> {
        let json =
            serde_json::to_string(entry).map_err(|e| ClusterError::protocol(&e.to_string()))?;
        let change = serde_json::to_string(&Change {
            event: "online",
            entry,
        })
        .map_err(|e| ClusterError::protocol(&e.to_string()))?;
        let mut redis = self.redis.clone();
        let (added,): (i64,) = redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(self.keys.presence(tenant_id))
            .arg(expires_at)
            .arg(&entry.id)
            .cmd("HSET")
            .arg(self.keys.presence_entries(tenant_id))
            .arg(&entry.id)
            .arg(json)
            .ignore()
            // A tenant nobody has been online for in a while leaves no keys behind.
            .cmd("PEXPIRE")
            .arg(self.keys.presence(tenant_id))
            .arg(KEYS_LINGER_MS)
            .ignore()
            .cmd("PEXPIRE")
            .arg(self.keys.presence_entries(tenant_id))
            .arg(KEYS_LINGER_MS)
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(ClusterError::redis)?;
        if added == 1 {
            let _: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(self.keys.presence_channel(tenant_id))
                .arg(change)
                .query_async(&mut redis)
                .await;
        }
        Ok(())
    }

    /// Removes entries and announces each removal.
    async fn remove(&self, tenant_id: &str, entries: &[PresenceEntry]) -> Result<(), ClusterError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for entry in entries {
            pipe.cmd("ZREM")
                .arg(self.keys.presence(tenant_id))
                .arg(&entry.id)
                .ignore();
            pipe.cmd("HDEL")
                .arg(self.keys.presence_entries(tenant_id))
                .arg(&entry.id)
                .ignore();
            if let Ok(change) = serde_json::to_string(&Change {
                event: "offline",
                entry,
            }) {
                pipe.cmd("PUBLISH")
                    .arg(self.keys.presence_channel(tenant_id))
                    .arg(change)
                    .ignore();
            }
        }
        let mut redis = self.redis.clone();
        pipe.query_async::<()>(&mut redis)
            .await
            .map_err(ClusterError::redis)
    }

    /// The node's heartbeat: pushes every refreshed local entry's expiry forward (and
    /// re-creates entries Redis lost), and drops local entries that lapsed.
    pub async fn refresh(&self) -> Result<(), ClusterError> {
        self.local.prune();
        let expires_at = now_ms() + self.ttl_ms();
        let refreshed: Vec<(String, PresenceEntry)> = self
            .local
            .entries
            .iter()
            .filter(|e| e.value().lapses_at.is_none())
            .map(|e| (e.key().0.clone(), e.value().entry.clone()))
            .collect();
        for (tenant_id, entry) in refreshed {
            self.write(&tenant_id, &entry, expires_at).await?;
        }
        Ok(())
    }
}

impl Presence for RedisPresence {
    fn online(&self, tenant_id: &str, entry: PresenceEntry, refresh: bool) {
        self.local.online(tenant_id, entry.clone(), refresh);
        let this = self.clone();
        let tenant_id = tenant_id.to_string();
        tokio::spawn(async move {
            let expires_at = now_ms() + this.ttl_ms();
            if let Err(e) = this.write(&tenant_id, &entry, expires_at).await {
                debug!(error = %e, "presence not written; the next heartbeat writes it");
            }
        });
    }

    fn offline(&self, tenant_id: &str, entry_id: &str) {
        let removed = self
            .local
            .entries
            .remove(&(tenant_id.to_string(), entry_id.to_string()));
        let entry = match removed {
            Some((_, local)) => local.entry,
            None => return,
        };
        let this = self.clone();
        let tenant_id = tenant_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = this.remove(&tenant_id, &[entry]).await {
                debug!(error = %e, "presence not removed; it expires on its own");
            }
        });
    }

    fn list(
        &self,
        tenant_id: &str,
    ) -> BoxFuture<'static, Result<Vec<PresenceEntry>, ClusterError>> {
        let this = self.clone();
        let tenant_id = tenant_id.to_string();
        Box::pin(async move {
            let now = now_ms();
            let mut redis = this.redis.clone();
            let (live, expired): (Vec<String>, Vec<String>) = redis::pipe()
                .cmd("ZRANGEBYSCORE")
                .arg(this.keys.presence(&tenant_id))
                .arg(format!("({now}"))
                .arg("+inf")
                .cmd("ZRANGEBYSCORE")
                .arg(this.keys.presence(&tenant_id))
                .arg("-inf")
                .arg(now)
                .query_async(&mut redis)
                .await
                .map_err(ClusterError::redis)?;
            let fetch = |ids: Vec<String>| {
                let mut redis = this.redis.clone();
                let key = this.keys.presence_entries(&tenant_id);
                async move {
                    if ids.is_empty() {
                        return Ok::<_, ClusterError>(Vec::new());
                    }
                    let values: Vec<Option<String>> = redis::cmd("HMGET")
                        .arg(key)
                        .arg(&ids)
                        .query_async(&mut redis)
                        .await
                        .map_err(ClusterError::redis)?;
                    Ok(values
                        .into_iter()
                        .flatten()
                        .filter_map(|json| serde_json::from_str::<PresenceEntry>(&json).ok())
                        .collect())
                }
            };
            let gone = fetch(expired).await?;
            // Whoever lists first announces entries whose node stopped refreshing them.
            this.remove(&tenant_id, &gone).await?;
            let mut entries = fetch(live).await?;
            entries.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(entries)
        })
    }

    fn local_count(&self) -> usize {
        self.local.local_count()
    }
}
