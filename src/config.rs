//! Typed, layered configuration.
//!
//! Sources, later ones winning: the compiled-in defaults of these structs, then
//! `config/default.toml` (when present), then a file given with `--config`, then
//! environment variables `SWITCHBOARD__SECTION__KEY`. Every struct denies unknown fields,
//! so a typo fails at start with the key's name instead of being silently ignored, and
//! [`Config::validate`] names the key of every out-of-range value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration of one Switchboard node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub llm: LlmConfig,
    pub webchat: WebchatConfig,
    pub conversation: ConversationConfig,
    pub security: SecurityConfig,
    pub admin: AdminConfig,
    pub channels: ChannelsConfig,
    pub demo: DemoConfig,
    pub log: LogConfig,
    pub cluster: ClusterConfig,
}

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
    /// An idle conversation actor stops after this long and is rebuilt on its next event.
    pub idle_timeout_secs: u64,
    /// Restarts allowed within `restart_window_secs` before a conversation is given up.
    pub max_restarts: u32,
    pub restart_window_secs: u64,
    /// Recent transcript messages kept in memory for LLM history.
    pub history_capacity: usize,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 300,
            max_restarts: 3,
            restart_window_secs: 10,
            history_capacity: 20,
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
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            bootstrap_key: String::new(),
            max_body_bytes: 256 * 1024,
        }
    }
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("bootstrap_key", &redacted(&self.bootstrap_key))
            .field("max_body_bytes", &self.max_body_bytes)
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

/// A configuration that could not be loaded; the message names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(Box<figment::Error>),
    #[error("invalid config value `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Loads the layered configuration. `file` is the `--config` argument.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file("config/default.toml"));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("SWITCHBOARD__").split("__"))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values serde cannot: ranges and formats. Names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, reason: &str) -> Result<(), ConfigError> {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return invalid("database.url", "must start with sqlite: or postgres://");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        let llm_url = &self.llm.base_url;
        if !(llm_url.is_empty()
            || llm_url.starts_with("http://")
            || llm_url.starts_with("https://"))
        {
            return invalid(
                "llm.base_url",
                "must be empty (offline model) or an http(s) URL",
            );
        }
        if !(0.0..=2.0).contains(&self.llm.temperature) {
            return invalid("llm.temperature", "must be between 0 and 2");
        }
        for (key, value) in [
            (
                "llm.first_token_timeout_ms",
                self.llm.first_token_timeout_ms,
            ),
            ("llm.idle_timeout_ms", self.llm.idle_timeout_ms),
            ("llm.request_timeout_ms", self.llm.request_timeout_ms),
            ("webchat.hello_timeout_ms", self.webchat.hello_timeout_ms),
            (
                "webchat.heartbeat_interval_secs",
                self.webchat.heartbeat_interval_secs,
            ),
            (
                "conversation.idle_timeout_secs",
                self.conversation.idle_timeout_secs,
            ),
        ] {
            if value == 0 {
                return invalid(key, "must be greater than 0");
            }
        }
        if self.webchat.client_timeout_secs <= self.webchat.heartbeat_interval_secs {
            return invalid(
                "webchat.client_timeout_secs",
                "must be longer than webchat.heartbeat_interval_secs",
            );
        }
        if self.webchat.max_frame_bytes < 1024 {
            return invalid("webchat.max_frame_bytes", "must be at least 1024");
        }
        if self.webchat.max_text_chars == 0 {
            return invalid("webchat.max_text_chars", "must be at least 1");
        }
        if self.webchat.messages_per_second == 0 || self.webchat.message_burst == 0 {
            return invalid(
                "webchat.messages_per_second",
                "rate and burst must be at least 1",
            );
        }
        if self.webchat.outbound_queue < 16 {
            return invalid("webchat.outbound_queue", "must be at least 16");
        }
        let secret = &self.security.visitor_token_secret;
        if !secret.is_empty() && secret.len() < 32 {
            return invalid(
                "security.visitor_token_secret",
                "must be empty (generated) or at least 32 characters",
            );
        }
        let key = &self.security.secrets_key;
        if !key.is_empty() && (key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit())) {
            return invalid(
                "security.secrets_key",
                "must be empty (generated) or 64 hex digits",
            );
        }
        let bootstrap = &self.admin.bootstrap_key;
        if !bootstrap.is_empty() && bootstrap.len() < 24 {
            return invalid(
                "admin.bootstrap_key",
                "must be empty or at least 24 characters",
            );
        }
        let cluster = &self.cluster;
        if !(cluster.redis_url.is_empty()
            || cluster.redis_url.starts_with("redis://")
            || cluster.redis_url.starts_with("rediss://"))
        {
            return invalid(
                "cluster.redis_url",
                "must be empty (single node) or a redis:// URL",
            );
        }
        if cluster.key_prefix.is_empty()
            || !cluster
                .key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return invalid(
                "cluster.key_prefix",
                "must be letters, digits, `_` or `-`, not empty",
            );
        }
        if cluster
            .node_id
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'))
        {
            return invalid(
                "cluster.node_id",
                "must be letters, digits, `_`, `-` or `.`",
            );
        }
        if cluster.lease_ttl_ms < 500 {
            return invalid("cluster.lease_ttl_ms", "must be at least 500");
        }
        if cluster.heartbeat_interval_ms < 100 {
            return invalid("cluster.heartbeat_interval_ms", "must be at least 100");
        }
        if cluster.forward_timeout_ms == 0 {
            return invalid("cluster.forward_timeout_ms", "must be greater than 0");
        }
        if cluster.visitor_messages_per_second == 0 {
            return invalid("cluster.visitor_messages_per_second", "must be at least 1");
        }
        if self.channels.send_max_attempts == 0 {
            return invalid("channels.send_max_attempts", "must be at least 1");
        }
        if self.channels.ack_timeout_ms == 0 || self.channels.ack_timeout_ms > 2_500 {
            return invalid(
                "channels.ack_timeout_ms",
                "must be 1 to 2500 (Slack wants an answer within 3 s)",
            );
        }
        if self.admin.max_body_bytes < 1024 {
            return invalid("admin.max_body_bytes", "must be at least 1024");
        }
        if self.demo.enabled && self.demo.tenant.trim().is_empty() {
            return invalid("demo.tenant", "must not be empty when demo.enabled");
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut config = Config::default();
        config.llm.api_key = "sk-very-secret".into();
        config.security.visitor_token_secret = "s".repeat(40);
        config.admin.bootstrap_key = "b".repeat(40);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("sk-very-secret") && !shown.contains(&"s".repeat(40)),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("defaults validate");
    }

    #[test]
    fn shipped_default_toml_matches_the_built_in_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml");
        let from_file: Config = Figment::from(Toml::file_exact(path))
            .extract()
            .expect("parses");
        assert_eq!(from_file, Config::default());
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD__WEBCHAT__MAX_TEXT_CHARS", "123");
            let config = Config::load(None).expect("loads");
            assert_eq!(config.webchat.max_text_chars, 123);

            jail.set_env("SWITCHBOARD__SERVER__BIND", "not an address");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.to_lowercase().contains("server.bind"), "{err}");

            jail.set_env("SWITCHBOARD__SERVER__BIND", "127.0.0.1:9");
            jail.set_env("SWITCHBOARD__LLM__TEMPERATURE", "7");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("llm.temperature"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn file_layer_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("custom.toml", "[database]\nurl = \"postgres://x@y/z\"\n")?;
            let config = Config::load(Some(Path::new("custom.toml"))).expect("loads");
            assert_eq!(config.database.url, "postgres://x@y/z");

            jail.create_file("typo.toml", "[webchat]\nmax_txt_chars = 5\n")?;
            let err = Config::load(Some(Path::new("typo.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("max_txt_chars"), "{err}");
            Ok(())
        });
    }
}
