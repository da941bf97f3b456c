//! The sections of the configuration, one struct each, with their compiled-in defaults
//! and a `Debug` that never shows a secret. `Config` (in `mod.rs`) gathers them; each
//! field's comment says what it is for, and `config/default.toml` shows every default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::llm::ModelPrice;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
    /// How long shutdown waits for in-flight requests and turns.
    pub shutdown_timeout_secs: u64,
    /// On SIGTERM, how long the node keeps serving everything while `/readyz` answers
    /// 503, so load balancers take it out of rotation before it stops accepting.
    pub predrain_secs: u64,
    /// How long a request's body may take to arrive, from the request's arrival
    /// (headers are bounded by actix-http's own request timeout). Beyond it: 408.
    pub body_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 10,
            predrain_secs: 5,
            body_timeout_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/file.db` (created when missing) or `postgres://user@host/db`.
    pub url: String,
    /// Pool size (PostgreSQL, and SQLite readers; SQLite always has one writer).
    pub max_connections: u32,
    /// How long a query waits for a pooled connection before failing.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/switchboard.db".into(),
            max_connections: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// Model gateway settings. An empty `base_url` selects the built-in offline model.
/// `Debug` redacts the API key.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Base URL of an OpenAI-compatible API including the version path,
    /// e.g. `https://api.openai.com/v1`. Empty → the built-in offline model.
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub connect_timeout_ms: u64,
    pub first_token_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// Pause before each token of the offline model, so streaming is visible in the demo.
    pub offline_token_delay_ms: u64,
    /// The currency of `prices` and of every cost Switchboard reports (a label only).
    pub currency: String,
    /// Price per model, in micro-units of `currency` per million tokens in and out:
    /// `[llm.prices."gpt-4o-mini"]` `input = 150000`, `output = 600000`. A model that is
    /// not listed costs 0.
    pub prices: BTreeMap<String, ModelPrice>,
    /// More providers by name, beside `default` (the one `base_url` describes).
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Routes by name: an ordered list of `provider:model` targets, tried in turn.
    pub routes: BTreeMap<String, Vec<String>>,
    /// The route of calls that name none; empty → `default:<model>`.
    pub route: String,
    /// A 429 whose `Retry-After` is at most this long is retried on the same target
    /// after the wait; a longer one (or none) moves on to the next target at once.
    pub retry_after_cap_ms: u64,
    pub breaker: BreakerConfig,
    /// The model knowledge bases embed with, on the default route's providers (the
    /// offline model embeds with its own, `offline-embedding`).
    pub embedding_model: String,
}

/// `GET /metrics` (Prometheus). `Debug` redacts the token.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub bearer_token: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token: String::new(),
        }
    }
}

/// Retention: how long what end users said is kept (see `crate::retention`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Events (messages) older than this many days are deleted, unless the tenant set its
    /// own period (`PUT /v1/admin/tenants/{t}/retention`). 0 keeps them forever.
    pub default_event_days: u32,
    /// A soft-deleted tenant is purged (every row of it) this many days after its
    /// deletion; until then the operator can restore it.
    pub deleted_tenant_days: u32,
    /// How often the retention job runs.
    pub sweep_interval_secs: u64,
    /// Rows deleted per statement; the job pauses between batches, so the store (and
    /// SQLite's single writer) is never held for long.
    pub batch_rows: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            default_event_days: 0,
            deleted_tenant_days: 30,
            sweep_interval_secs: 3600,
            batch_rows: 500,
        }
    }
}

/// Human agents (see `crate::agents`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// How often each node's assigner runs: it gives waiting conversations to online
    /// agents, requeues those of agents gone offline, and reports missed response
    /// targets.
    pub sweep_ms: u64,
    /// An agent offline this long (no inbox socket, no presence) loses its
    /// conversations back to their queues.
    pub offline_grace_secs: u64,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self {
            sweep_ms: 500,
            offline_grace_secs: 60,
        }
    }
}

/// Analytics rollups (see `crate::analytics`, docs/analytics.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// A conversation waiting for the user's input with no user message for this long is
    /// abandoned (until the user writes again).
    pub abandon_after_secs: u64,
    /// How often the rollup job runs.
    pub sweep_interval_secs: u64,
    /// Conversations summarised per batch; the job pauses between batches.
    pub batch_conversations: u32,
    /// Conversations are summarised once their last write is this old, so a write still
    /// committing when the watermark passes is not skipped.
    pub settle_ms: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            abandon_after_secs: 1800,
            sweep_interval_secs: 60,
            batch_conversations: 500,
            settle_ms: 5000,
        }
    }
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("bearer_token", &redacted(&self.bearer_token))
            .finish()
    }
}

/// One model provider. `Debug` redacts the API key.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// `openai` (any OpenAI-compatible API), `azure`, `anthropic` or `offline`.
    pub kind: String,
    /// `https://api.openai.com/v1`, `https://RESOURCE.openai.azure.com`,
    /// `https://api.anthropic.com/v1`.
    pub base_url: String,
    pub api_key: String,
    /// Azure OpenAI's `api-version` query parameter (required for `azure`).
    pub api_version: String,
}

/// The circuit breaker of each (provider, model): it opens after `failures` failures
/// within `window_secs`, rejects at once while open, and after `open_secs` lets
/// `half_open_probes` calls through; a probe that succeeds closes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    pub failures: u32,
    pub window_secs: u64,
    pub open_secs: u64,
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            window_secs: 30,
            open_secs: 30,
            half_open_probes: 1,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: String::new(),
            model: "gpt-4o-mini".into(),
            max_tokens: 512,
            temperature: 0.3,
            connect_timeout_ms: 5_000,
            first_token_timeout_ms: 15_000,
            idle_timeout_ms: 15_000,
            request_timeout_ms: 120_000,
            offline_token_delay_ms: 25,
            currency: "USD".into(),
            prices: BTreeMap::new(),
            providers: BTreeMap::new(),
            routes: BTreeMap::new(),
            route: String::new(),
            retry_after_cap_ms: 2_000,
            breaker: BreakerConfig::default(),
            embedding_model: "text-embedding-3-small".into(),
        }
    }
}

/// Limits of the web chat protocol (`GET /v1/ws`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebchatConfig {
    /// The `hello` frame must arrive within this time, or the socket is closed.
    pub hello_timeout_ms: u64,
    /// The server pings this often.
    pub heartbeat_interval_secs: u64,
    /// A client silent (no frame, no pong) for this long is disconnected.
    pub client_timeout_secs: u64,
    /// Largest WebSocket frame accepted; larger ones close the socket (1009).
    pub max_frame_bytes: usize,
    /// Longest user message text, in characters; longer ones get an error frame.
    pub max_text_chars: usize,
    /// Sustained user messages per second per connection.
    pub messages_per_second: u32,
    /// Burst of user messages allowed above the sustained rate.
    pub message_burst: u32,
    /// Frames queued towards one socket; a client that falls this far behind is
    /// disconnected and resumes from its last seq.
    pub outbound_queue: usize,
    /// Bad frames tolerated per connection before it is closed as abusive (1008).
    pub max_bad_frames: u32,
}

impl Default for WebchatConfig {
    fn default() -> Self {
        Self {
            hello_timeout_ms: 10_000,
            heartbeat_interval_secs: 20,
            client_timeout_secs: 60,
            max_frame_bytes: 64 * 1024,
            max_text_chars: 4_000,
            messages_per_second: 5,
            message_burst: 20,
            outbound_queue: 512,
            max_bad_frames: 50,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// A conversation actor with nothing to do (waiting for the user, an agent or a
    /// timer) stops after this long and is rebuilt from its row on its next event, so a
    /// waiting conversation costs no actor.
    pub idle_timeout_secs: u64,
    /// Restarts allowed within `restart_window_secs` before a conversation is given up.
    pub max_restarts: u32,
    pub restart_window_secs: u64,
    /// Recent transcript messages kept in memory for LLM history.
    pub history_capacity: usize,
    /// How often each node looks for due timers (a `collect`'s `timeout`); a timer fires
    /// at most this late.
    pub timer_sweep_ms: u64,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 1,
            max_restarts: 3,
            restart_window_secs: 10,
            history_capacity: 20,
            timer_sweep_ms: 1_000,
        }
    }
}

/// Cluster mode: several nodes on one PostgreSQL, coordinated through Redis.
/// `Debug` redacts the password in `redis_url`.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `redis://…` turns cluster mode on; empty = single node, everything in process.
    pub redis_url: String,
    /// This node's name in leases, presence and routing; empty = generated at start.
    pub node_id: String,
    /// Prefix of every Redis key and channel (several clusters can share one Redis).
    pub key_prefix: String,
    /// A conversation lease lives this long unless renewed (renewed every third of it).
    pub lease_ttl_ms: u64,
    /// Presence and node heartbeats; an entry not refreshed for two intervals is gone.
    pub heartbeat_interval_ms: u64,
    /// How long a node waits for the owner of a conversation to answer a forwarded message.
    pub forward_timeout_ms: u64,
    /// Largest number of user messages one visitor may send per second across all nodes.
    pub visitor_messages_per_second: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            redis_url: String::new(),
            node_id: String::new(),
            key_prefix: "sb".into(),
            lease_ttl_ms: 10_000,
            heartbeat_interval_ms: 2_000,
            forward_timeout_ms: 5_000,
            visitor_messages_per_second: 20,
        }
    }
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match self.redis_url.split_once('@') {
            Some((_, host)) => format!("redis://<redacted>@{host}"),
            None => self.redis_url.clone(),
        };
        f.debug_struct("ClusterConfig")
            .field("redis_url", &url)
            .field("node_id", &self.node_id)
            .field("key_prefix", &self.key_prefix)
            .field("lease_ttl_ms", &self.lease_ttl_ms)
            .field("heartbeat_interval_ms", &self.heartbeat_interval_ms)
            .field("forward_timeout_ms", &self.forward_timeout_ms)
            .field(
                "visitor_messages_per_second",
                &self.visitor_messages_per_second,
            )
            .finish()
    }
}

/// `Debug` redacts the secret.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Key that signs visitor tokens. Empty → a random key generated once and kept in the
    /// database, so tokens survive restarts and are shared by every node.
    pub visitor_token_secret: String,
    /// 64 hex digits: the AES-256 key that encrypts tenant secrets (adaptor credentials)
    /// at rest. Empty → generated once and kept in the database (demo only: set it in
    /// production, so a database dump alone reveals no secret).
    pub secrets_key: String,
}

/// Provider endpoints and delivery policy for WhatsApp, Slack and Teams. The base URLs
/// point at the real providers by default; tests point them at local fakes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    pub whatsapp_base_url: String,
    pub whatsapp_api_version: String,
    pub slack_base_url: String,
    pub teams_openid_metadata_url: String,
    pub teams_issuer: String,
    pub teams_token_url: String,
    /// Attempts per reply before it is marked failed (429 and 5xx are retried).
    pub send_max_attempts: u32,
    /// First retry delay; doubles per attempt up to `send_max_backoff_ms`.
    pub send_backoff_ms: u64,
    pub send_max_backoff_ms: u64,
    /// Slack and Teams: at most one progressive update of a streaming reply per interval.
    pub stream_update_interval_ms: u64,
    /// Longest a webhook waits for the message to be stored before answering 503.
    pub ack_timeout_ms: u64,
    /// Largest webhook body.
    pub max_body_bytes: usize,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            whatsapp_base_url: "https://graph.facebook.com".into(),
            whatsapp_api_version: "v21.0".into(),
            slack_base_url: "https://slack.com/api".into(),
            teams_openid_metadata_url:
                "https://login.botframework.com/v1/.well-known/openidconfiguration".into(),
            teams_issuer: "https://api.botframework.com".into(),
            teams_token_url: "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
                .into(),
            send_max_attempts: 6,
            send_backoff_ms: 250,
            send_max_backoff_ms: 8_000,
            stream_update_interval_ms: 1_000,
            ack_timeout_ms: 2_000,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// The admin API.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The operator's key: it may create tenants and acts as owner of every tenant.
    /// Empty → no operator key (create tenant keys with `switchboard keys create`).
    pub bootstrap_key: String,
    /// Largest admin request body.
    pub max_body_bytes: usize,
    /// Origins (`https://console.example.com`) whose pages may call the admin API from a
    /// browser (CORS). The built-in console is same-origin and needs none.
    pub cors_origins: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            bootstrap_key: String::new(),
            max_body_bytes: 256 * 1024,
            cors_origins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("bootstrap_key", &redacted(&self.bootstrap_key))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cors_origins", &self.cors_origins)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<empty>"
    } else {
        "<redacted>"
    }
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("first_token_timeout_ms", &self.first_token_timeout_ms)
            .field("idle_timeout_ms", &self.idle_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("offline_token_delay_ms", &self.offline_token_delay_ms)
            .field("currency", &self.currency)
            .field("prices", &self.prices)
            .field("providers", &self.providers)
            .field("routes", &self.routes)
            .field("route", &self.route)
            .field("retry_after_cap_ms", &self.retry_after_cap_ms)
            .field("breaker", &self.breaker)
            .finish()
    }
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("api_version", &self.api_version)
            .finish()
    }
}

impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityConfig")
            .field(
                "visitor_token_secret",
                &redacted(&self.visitor_token_secret),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Create the demo tenant and load the flows in `flows_dir` at start.
    pub enabled: bool,
    pub tenant: String,
    pub flows_dir: PathBuf,
    /// The flow new conversations of the demo tenant start.
    pub entry_flow: String,
    /// Origins allowed to open the widget socket; empty allows any.
    pub allowed_origins: Vec<String>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tenant: "demo".into(),
            flows_dir: PathBuf::from("flows"),
            entry_flow: "demo".into(),
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `switchboard=debug,actix_web=info`.
    /// `RUST_LOG` overrides it.
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}
