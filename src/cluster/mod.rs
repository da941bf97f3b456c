//! Cluster mode: several nodes on one PostgreSQL, coordinated through Redis.
//!
//! With `cluster.redis_url` empty, [`Cluster::single`] is used and everything stays in
//! process: one node owns every conversation, presence is local, the bus has no
//! backplane. With Redis, a [`ClusterNode`] provides:
//! - conversation ownership: a lease with a fencing token per live conversation
//!   ([`lease`]); the token is checked by every store write;
//! - routing: commands for a conversation owned elsewhere go to the owner's inbox
//!   ([`inbox`]), and conversation events reach watchers on every node ([`backplane`]);
//! - presence ([`presence`]) and the node registry behind `cluster status` ([`status`]);
//! - cluster-wide webhook dedup marks, visitor rate counters and flow-activation notices.
//!
//! Redis is coordination, never the source of truth: PostgreSQL is. When Redis is
//! unreachable a node keeps serving the conversations it owns, refuses to claim new ones
//! (so two nodes can never both run one), and converges when Redis is back.

pub mod backplane;
pub mod inbox;
pub mod keys;
pub mod lease;
pub mod messages;
pub mod ownership;
pub mod presence;
mod pushes;
pub mod rate_limit;
pub mod status;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::bus::Bus;
use crate::config::{ClusterConfig, WebchatConfig};
use crate::flow_cache::FlowCache;
use crate::store::{Store, now_ms};
use crate::turn::{Command, Reply};
use backplane::RedisBackplane;
use inbox::{Inbox, InboxHandler};
use keys::Keys;
use lease::{Claim, LeaseKey, Leases, LostLease};
use messages::InboxMessage;
use ownership::{LeaseOwnership, Ownership, SingleNode};
use presence::{LocalPresence, Presence, RedisPresence};
use rate_limit::{LocalLimiter, MessageLimiter, RedisLimiter};

/// Why a cluster operation failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error("Redis is unreachable: {0}")]
    Unavailable(String),
    #[error("unexpected reply from Redis: {0}")]
    Protocol(String),
    #[error("node {0} did not answer in time")]
    Timeout(String),
    #[error("node {0} is not listening (down?)")]
    NoListener(String),
    #[error("the conversation does not exist")]
    NotFound,
    #[error("store: {0}")]
    Store(String),
}

impl ClusterError {
    pub(crate) fn redis(e: redis::RedisError) -> Self {
        ClusterError::Unavailable(e.to_string())
    }

    pub(crate) fn protocol(what: &str) -> Self {
        ClusterError::Protocol(what.to_string())
    }
}

/// Cheap-clone handle to this node's place in the cluster (or a single node).
#[derive(Clone)]
pub struct Cluster {
    /// `None` on a single node.
    node: Option<Arc<ClusterNode>>,
    ownership: Arc<dyn Ownership>,
    presence: Arc<dyn Presence>,
    node_id: Arc<str>,
}

impl Cluster {
    /// One node, no Redis.
    pub fn single(config: &ClusterConfig) -> Self {
        Self {
            node: None,
            ownership: Arc::new(SingleNode),
            presence: Arc::new(LocalPresence::new(Duration::from_millis(
                config.heartbeat_interval_ms,
            ))),
            node_id: node_id(config),
        }
    }

    /// Connects to Redis (failing at start if it is unreachable). Conversation claims
    /// record their fencing token in `store`.
    pub async fn connect(config: &ClusterConfig, store: Store) -> Result<Self, ClusterError> {
        let node = ClusterNode::connect(config).await?;
        Ok(Self {
            ownership: Arc::new(LeaseOwnership::new(node.clone(), store)),
            presence: Arc::new(node.presence.clone()),
            node_id: node.node_id.clone(),
            node: Some(node),
        })
    }

    /// The Redis side of the cluster, for what only exists there (status, wiring).
    pub fn node(&self) -> Option<&Arc<ClusterNode>> {
        self.node.as_ref()
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn ownership(&self) -> &Arc<dyn Ownership> {
        &self.ownership
    }

    pub fn presence(&self) -> &Arc<dyn Presence> {
        &self.presence
    }

    pub fn is_clustered(&self) -> bool {
        self.node.is_some()
    }

    /// The message rate limit of one web chat connection (see [`rate_limit`]).
    pub fn message_limiter(
        &self,
        tenant_id: &Arc<str>,
        visitor_id: &str,
        webchat: &WebchatConfig,
    ) -> Arc<dyn MessageLimiter> {
        match &self.node {
            Some(node) => Arc::new(RedisLimiter::new(
                node.clone(),
                tenant_id.clone(),
                visitor_id.to_string(),
            )),
            None => Arc::new(LocalLimiter::new(
                webchat.messages_per_second,
                webchat.message_burst,
            )),
        }
    }

    /// Whether any node already stored this provider event (a fast path in front of the
    /// store's dedup table; always false on a single node, where the table answers).
    pub async fn inbound_seen(&self, tenant_id: &str, source: &str, key: &str) -> bool {
        match &self.node {
            Some(node) => node.inbound_seen(tenant_id, source, key).await,
            None => false,
        }
    }

    /// Records that a provider event is stored (cluster mode).
    pub async fn mark_inbound_seen(&self, tenant_id: &str, source: &str, key: &str) {
        if let Some(node) = &self.node {
            node.mark_inbound_seen(tenant_id, source, key).await;
        }
    }

    /// Tells every other node that a flow's active version changed (cluster mode).
    pub async fn announce_activation(&self, tenant_id: &str, flow_id: &str) {
        if let Some(node) = &self.node {
            node.announce_activation(tenant_id, flow_id).await;
        }
    }
}

fn node_id(config: &ClusterConfig) -> Arc<str> {
    if config.node_id.is_empty() {
        let id = uuid::Uuid::now_v7().simple().to_string();
        Arc::from(format!("node-{}", &id[id.len() - 8..]))
    } else {
        Arc::from(config.node_id.as_str())
    }
}

/// What a node publishes about itself with every heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeInfo {
    pub node_id: String,
    /// The HTTP address it serves on.
    pub addr: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// Conversations it owns (leases held).
    pub conversations: usize,
    /// Presence entries it holds (joined sockets, agents).
    pub connections: usize,
    /// Its leases: `(lease key, fencing token)`; at most [`status::MAX_LISTED_LEASES`].
    pub leases: Vec<status::LeaseView>,
}

/// A circuit breaker of the model gateway that opened or closed on one node, told to the
/// others so they stop calling a failing target without failing five times each.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreakerNotice {
    /// The node it happened on (set when announced).
    #[serde(default)]
    pub node: String,
    pub provider: String,
    pub model: String,
    pub credential: String,
    /// Opened for this long; `None`: closed.
    pub open_ms: Option<u64>,
}

/// This node's membership of the cluster.
pub struct ClusterNode {
    pub node_id: Arc<str>,
    pub keys: Keys,
    config: ClusterConfig,
    redis: ConnectionManager,
    pub leases: Leases,
    inbox: Arc<Inbox>,
    backplane: Arc<RedisBackplane>,
    presence: RedisPresence,
    started_at: i64,
    addr: OnceLock<String>,
    bus: OnceLock<Bus>,
    flows: OnceLock<FlowCache>,
    /// Breaker notices from other nodes go here (the model gateway's breakers).
    breakers: OnceLock<Arc<dyn Fn(BreakerNotice) + Send + Sync>>,
    handler: OnceLock<Arc<dyn InboxHandler>>,
    /// False while Redis does not answer; claims are refused meanwhile.
    reachable: AtomicBool,
}

impl ClusterNode {
    async fn connect(config: &ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let node_id = node_id(config);
        let keys = Keys::new(&config.key_prefix);
        let info = config
            .redis_url
            .as_str()
            .into_connection_info()
            .map_err(ClusterError::redis)?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client =
            redis::Client::open(info.set_redis_settings(settings)).map_err(ClusterError::redis)?;
        let manager_config = || {
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_max_delay(Duration::from_secs(2))
        };
        let redis = client
            .get_connection_manager_with_config(manager_config())
            .await
            .map_err(ClusterError::redis)?;
        let publisher = client
            .get_connection_manager_with_config(manager_config())
            .await
            .map_err(ClusterError::redis)?;
        let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
        let subscriber = client
            .get_connection_manager_with_config(
                manager_config()
                    .set_push_sender(push_tx)
                    .set_automatic_resubscription(),
            )
            .await
            .map_err(ClusterError::redis)?;
        let ttl = Duration::from_millis(config.lease_ttl_ms);
        let heartbeat = Duration::from_millis(config.heartbeat_interval_ms);
        let fixed = vec![
            keys.node_inbox(&node_id),
            keys.flows_channel(),
            keys.breakers_channel(),
        ];
        let node = Arc::new_cyclic(|weak: &std::sync::Weak<ClusterNode>| {
            let weak = weak.clone();
            let on_reconnected: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                if let Some(node) = weak.upgrade()
                    && let Some(bus) = node.bus.get()
                {
                    bus.resync_all();
                }
            });
            ClusterNode {
                leases: Leases::new(node_id.clone(), keys.clone(), redis.clone(), ttl),
                inbox: Arc::new(Inbox::new(
                    node_id.clone(),
                    keys.clone(),
                    redis.clone(),
                    Duration::from_millis(config.forward_timeout_ms),
                )),
                backplane: Arc::new(RedisBackplane::start(
                    node_id.clone(),
                    keys.clone(),
                    publisher,
                    subscriber,
                    fixed,
                    on_reconnected,
                )),
                presence: RedisPresence::new(redis.clone(), keys.clone(), heartbeat),
                node_id: node_id.clone(),
                keys: keys.clone(),
                config: config.clone(),
                redis,
                started_at: now_ms(),
                addr: OnceLock::new(),
                bus: OnceLock::new(),
                flows: OnceLock::new(),
                breakers: OnceLock::new(),
                handler: OnceLock::new(),
                reachable: AtomicBool::new(true),
            }
        });
        // Subscribing the fixed channels goes through the same path as after a reconnect.
        node.backplane.reconnected();
        tokio::spawn(pushes::dispatch(Arc::downgrade(&node), push_rx));
        info!(node_id = %node.node_id, "cluster mode: joined through Redis");
        Ok(node)
    }

    pub fn lease_ttl_ms(&self) -> u64 {
        self.config.lease_ttl_ms
    }

    /// The bus backplane, for [`Bus::with_backplane`].
    pub fn backplane(&self) -> Arc<dyn crate::bus::Backplane> {
        self.backplane.clone()
    }

    /// Late wiring, once the pieces that depend on the cluster exist.
    pub fn attach(&self, bus: Bus, flows: FlowCache) {
        let _ = self.bus.set(bus);
        let _ = self.flows.set(flows);
    }

    /// Where breaker notices from other nodes go.
    pub fn on_breaker_notice(&self, sink: Arc<dyn Fn(BreakerNotice) + Send + Sync>) {
        let _ = self.breakers.set(sink);
    }

    /// Tells the other nodes that a circuit breaker opened (for `open_ms`) or closed here.
    pub async fn announce_breaker(&self, mut notice: BreakerNotice) {
        notice.node = self.node_id.to_string();
        let Ok(payload) = serde_json::to_string(&notice) else {
            return;
        };
        let mut redis = self.redis.clone();
        if let Err(e) = redis::cmd("PUBLISH")
            .arg(self.keys.breakers_channel())
            .arg(payload)
            .query_async::<i64>(&mut redis)
            .await
        {
            warn!(error = %e, "breaker change not announced; other nodes find out on their own");
        }
    }

    pub fn set_handler(&self, handler: Arc<dyn InboxHandler>) {
        let _ = self.handler.set(handler);
    }

    pub fn set_addr(&self, addr: String) {
        let _ = self.addr.set(addr);
    }

    fn mark(&self, reachable: bool) {
        if self.reachable.swap(reachable, Ordering::Relaxed) != reachable {
            if reachable {
                info!("Redis reachable again");
            } else {
                warn!("Redis unreachable: serving owned conversations, refusing new claims");
            }
        }
    }

    /// Starts the lease keeper and the heartbeat; lost leases are sent to `lost`.
    pub fn start_background(self: &Arc<Self>, lost: mpsc::UnboundedSender<LostLease>) {
        tokio::spawn(self.leases.clone().keep(lost));
        let weak = Arc::downgrade(self);
        let interval = Duration::from_millis(self.config.heartbeat_interval_ms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(node) = weak.upgrade() else { return };
                let beat = async {
                    node.presence.refresh().await?;
                    node.heartbeat().await
                };
                match beat.await {
                    Ok(()) => node.mark(true),
                    Err(_) => node.mark(false),
                }
            }
        });
    }

    async fn heartbeat(&self) -> Result<(), ClusterError> {
        let now = now_ms();
        let expiry = now + 2 * self.config.heartbeat_interval_ms as i64;
        let info = NodeInfo {
            node_id: self.node_id.to_string(),
            addr: self.addr.get().cloned().unwrap_or_default(),
            started_at: self.started_at,
            heartbeat_at: now,
            conversations: self.leases.count(),
            connections: self.presence.local_count(),
            leases: status::lease_views(&self.leases.held()),
        };
        let json =
            serde_json::to_string(&info).map_err(|e| ClusterError::protocol(&e.to_string()))?;
        let mut redis = self.redis.clone();
        redis::pipe()
            .cmd("SET")
            .arg(self.keys.node_info(&self.node_id))
            .arg(json)
            .arg("PX")
            .arg(2 * self.config.heartbeat_interval_ms)
            .ignore()
            .cmd("ZADD")
            .arg(self.keys.nodes())
            .arg(expiry)
            .arg(&*self.node_id)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(self.keys.nodes())
            .arg("-inf")
            .arg(now)
            .ignore()
            .query_async::<()>(&mut redis)
            .await
            .map_err(ClusterError::redis)
    }

    /// Leaves the cluster on shutdown: gives back the leases still held and drops the
    /// node's registry entry at once.
    pub async fn leave(&self) {
        self.leases.release_all().await;
        let mut redis = self.redis.clone();
        let _: Result<(), _> = redis::pipe()
            .cmd("DEL")
            .arg(self.keys.node_info(&self.node_id))
            .ignore()
            .cmd("ZREM")
            .arg(self.keys.nodes())
            .arg(&*self.node_id)
            .ignore()
            .query_async(&mut redis)
            .await;
    }

    /// Claims a lease, noting whether Redis answered.
    async fn claim(&self, lease: &LeaseKey, floor: i64) -> Result<Claim, ClusterError> {
        let claim = self.leases.claim(lease, floor).await;
        self.mark(!matches!(claim, Err(ClusterError::Unavailable(_))));
        claim
    }

    /// Claims the conversation for this node. On success the store has been told the
    /// new token, so a previous owner's writes already fail.
    async fn claim_conversation(
        &self,
        store: &Store,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Claim, ClusterError> {
        let floor = store
            .owner_fence(tenant_id, conversation_id)
            .await
            .map_err(|e| ClusterError::Store(e.to_string()))?
            .ok_or(ClusterError::NotFound)?;
        let lease = LeaseKey::conversation(tenant_id, conversation_id);
        let claim = self.claim(&lease, floor).await?;
        if let Claim::Granted { fence } = claim {
            // Refused when the store has seen a newer token than Redis handed out (Redis
            // lost its data): give this lease back; the next claim starts above the floor.
            if let Err(e) = store
                .claim_conversation(tenant_id, conversation_id, fence)
                .await
            {
                self.leases.release(&lease, fence).await;
                return Err(ClusterError::Store(e.to_string()));
            }
        }
        Ok(claim)
    }

    /// Runs `command` on the conversation's owner and returns its answer.
    pub async fn forward(
        &self,
        node: &str,
        tenant_id: &str,
        conversation_id: &str,
        command: Command,
    ) -> Result<Reply, ClusterError> {
        self.inbox
            .request(node, tenant_id, conversation_id, command)
            .await
    }

    /// Tells the node that sends for `account` that replies wait; false if it is gone.
    pub async fn notify_outbox(
        &self,
        node: &str,
        tenant_id: &str,
        account_id: &str,
        conversation_id: &str,
    ) -> Result<bool, ClusterError> {
        self.inbox
            .notify(
                node,
                InboxMessage::OutboxReady {
                    tenant: tenant_id.to_string(),
                    account: account_id.to_string(),
                    conversation: conversation_id.to_string(),
                },
            )
            .await
    }

    /// Whether a provider event was already stored by any node (a fast path; the
    /// store's dedup table is the guarantee). Unknown (false) when Redis is down.
    pub async fn inbound_seen(&self, tenant_id: &str, source: &str, key: &str) -> bool {
        let mut redis = self.redis.clone();
        redis::cmd("EXISTS")
            .arg(self.keys.inbound_seen(tenant_id, source, key))
            .query_async::<i64>(&mut redis)
            .await
            .map(|n| n > 0)
            .unwrap_or(false)
    }

    /// Records that a provider event is stored, for a day.
    pub async fn mark_inbound_seen(&self, tenant_id: &str, source: &str, key: &str) {
        let mut redis = self.redis.clone();
        let _: Result<(), _> = redis::cmd("SET")
            .arg(self.keys.inbound_seen(tenant_id, source, key))
            .arg(1)
            .arg("PX")
            .arg(86_400_000)
            .query_async(&mut redis)
            .await;
    }

    /// Counts a visitor's message in this second across all nodes; false when over the
    /// limit. Allows when Redis is unreachable (each socket keeps its own limit).
    pub async fn allow_visitor_message(&self, tenant_id: &str, visitor_id: &str) -> bool {
        let second = now_ms() / 1000;
        let key = self.keys.visitor_rate(tenant_id, visitor_id, second);
        let mut redis = self.redis.clone();
        let counted: Result<(i64,), _> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(2_000)
            .ignore()
            .query_async(&mut redis)
            .await;
        match counted {
            Ok((count,)) => count <= i64::from(self.config.visitor_messages_per_second),
            Err(_) => true,
        }
    }

    /// Adds each `(kind, amount)` to the tenant's model counters (`requests`, `tokens`)
    /// of one minute, across all nodes, in one round trip (the keys share the tenant's
    /// hash slot); the new totals in order, or `None` when Redis is unreachable.
    pub async fn add_model_rates(
        &self,
        tenant_id: &str,
        minute: i64,
        amounts: &[(&str, i64)],
    ) -> Option<Vec<i64>> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (kind, amount) in amounts {
            let key = self.keys.model_rate(tenant_id, kind, minute);
            pipe.cmd("INCRBY").arg(&key).arg(*amount);
            pipe.cmd("PEXPIRE").arg(&key).arg(120_000).ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async(&mut redis).await.ok()
    }

    /// Reserves `micros` in every budget period of `entries` (flow, period key,
    /// allowance or none, spent to start from when Redis has no count yet), all or none,
    /// in one Lua script. `Some(Ok)`: reserved; `Some(Err(i))`: entry `i` has no room;
    /// `None`: Redis is unreachable.
    pub async fn reserve_spend(
        &self,
        tenant_id: &str,
        entries: &[(String, String, Option<i64>, i64)],
        micros: i64,
    ) -> Option<Result<(), usize>> {
        let script = redis::Script::new(
            r#"
            for i, key in ipairs(KEYS) do
              redis.call('HSETNX', key, 'spent', ARGV[2 * i + 1])
              local allowance = tonumber(ARGV[2 * i])
              if allowance >= 0 then
                local spent = tonumber(redis.call('HGET', key, 'spent') or '0')
                local reserved = tonumber(redis.call('HGET', key, 'reserved') or '0')
                if spent + reserved + tonumber(ARGV[1]) > allowance then
                  return i
                end
              end
            end
            for _, key in ipairs(KEYS) do
              redis.call('HINCRBY', key, 'reserved', ARGV[1])
              redis.call('PEXPIRE', key, 3456000000)
            end
            return 0
            "#,
        );
        let mut invocation = script.prepare_invoke();
        invocation.arg(micros);
        for (flow_id, period_key, allowance, spent) in entries {
            invocation
                .key(self.keys.spend(tenant_id, flow_id, period_key))
                .arg(allowance.unwrap_or(-1))
                .arg(*spent);
        }
        let mut redis = self.redis.clone();
        let full: i64 = invocation.invoke_async(&mut redis).await.ok()?;
        Some(if full == 0 {
            Ok(())
        } else {
            Err(usize::try_from(full - 1).unwrap_or(0))
        })
    }

    /// Swaps a reservation for the actual cost in every entry (flow, period key).
    pub async fn settle_spend(
        &self,
        tenant_id: &str,
        entries: &[(String, String)],
        reserved: i64,
        actual: i64,
    ) {
        let mut pipe = redis::pipe();
        for (flow_id, period_key) in entries {
            let key = self.keys.spend(tenant_id, flow_id, period_key);
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg("reserved")
                .arg(-reserved)
                .ignore();
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg("spent")
                .arg(actual)
                .ignore();
        }
        let mut redis = self.redis.clone();
        if let Err(e) = pipe.query_async::<()>(&mut redis).await {
            warn!(error = %e, tenant_id, "could not settle a reservation in Redis");
        }
    }

    /// The live spend of one budget period: (spent, reserved), if Redis counts it.
    pub async fn live_spend(
        &self,
        tenant_id: &str,
        flow_id: &str,
        period_key: &str,
    ) -> Option<(i64, i64)> {
        let mut redis = self.redis.clone();
        let (spent, reserved): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.keys.spend(tenant_id, flow_id, period_key))
            .arg("spent")
            .arg("reserved")
            .query_async(&mut redis)
            .await
            .ok()?;
        Some((spent?, reserved.unwrap_or(0)))
    }

    /// Tells every node that a flow's active version changed.
    pub async fn announce_activation(&self, tenant_id: &str, flow_id: &str) {
        let payload = serde_json::json!({ "tenant": tenant_id, "flow": flow_id }).to_string();
        let mut redis = self.redis.clone();
        if let Err(e) = redis::cmd("PUBLISH")
            .arg(self.keys.flows_channel())
            .arg(payload)
            .query_async::<i64>(&mut redis)
            .await
        {
            warn!(error = %e, "flow activation not announced; other nodes see it when their cache entry expires");
        }
    }

    /// Every node's self-description.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        status::nodes(&self.redis, &self.keys).await
    }
}
