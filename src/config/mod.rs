//! Typed, layered configuration.
//!
//! Sources, later ones winning: the compiled-in defaults of these structs, then
//! `config/default.toml` (when present), then a file given with `--config`, then
//! environment variables `SWITCHBOARD__SECTION__KEY`. Every struct denies unknown fields,
//! so a typo fails at start with the key's name instead of being silently ignored, and
//! [`Config::validate`] names the key of every out-of-range value. Load errors are told
//! by `problems.rs`: one line, the key as it is written, a did-you-mean for a typo.

mod problems;
mod sections;
mod telemetry;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use problems::{ConfigProblem, ConfigProblems};
pub use sections::*;
pub use telemetry::{OtlpConfig, TelemetryConfig};

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
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    pub agents: AgentsConfig,
    pub analytics: AnalyticsConfig,
    pub telemetry: TelemetryConfig,
}

/// A configuration that could not be loaded; the message names the offending key, on one
/// line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(ConfigProblems),
    #[error("invalid configuration: `{key}`: {reason}")]
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
            .merge(Env::prefixed(problems::ENV_PREFIX).split("__"))
            .extract()
            .map_err(|e| ConfigError::Load(e.into()))?;
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
            (
                "conversation.timer_sweep_ms",
                self.conversation.timer_sweep_ms,
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
        for origin in &self.admin.cors_origins {
            if canonical_origin(origin).as_ref() != Some(origin) {
                return invalid(
                    "admin.cors_origins",
                    "each must be an origin as browsers send it: http(s)://host[:port], lowercase, no path, no default port",
                );
            }
        }
        if !(50..=60_000).contains(&self.agents.sweep_ms) {
            return invalid("agents.sweep_ms", "must be between 50 and 60000");
        }
        if self.retention.sweep_interval_secs == 0 {
            return invalid("retention.sweep_interval_secs", "must be greater than 0");
        }
        if !(1..=100_000).contains(&self.retention.batch_rows) {
            return invalid("retention.batch_rows", "must be between 1 and 100000");
        }
        if self.analytics.abandon_after_secs == 0 || self.analytics.sweep_interval_secs == 0 {
            return invalid(
                "analytics.abandon_after_secs",
                "it and analytics.sweep_interval_secs must be greater than 0",
            );
        }
        if !(1..=100_000).contains(&self.analytics.batch_conversations) {
            return invalid(
                "analytics.batch_conversations",
                "must be between 1 and 100000",
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
        let otlp = &self.telemetry.otlp;
        if !(otlp.endpoint.is_empty()
            || otlp.endpoint.starts_with("http://")
            || otlp.endpoint.starts_with("https://"))
        {
            return invalid(
                "telemetry.otlp.endpoint",
                "must be empty (no export) or an http(s) URL",
            );
        }
        if !(0.0..=1.0).contains(&otlp.sampling_ratio) {
            return invalid("telemetry.otlp.sampling_ratio", "must be between 0 and 1");
        }
        if otlp.service_name.trim().is_empty() {
            return invalid("telemetry.otlp.service_name", "must not be empty");
        }
        if otlp.timeout_ms == 0 {
            return invalid("telemetry.otlp.timeout_ms", "must be greater than 0");
        }
        if self.demo.enabled && self.demo.tenant.trim().is_empty() {
            return invalid("demo.tenant", "must not be empty when demo.enabled");
        }
        Ok(())
    }
}

/// The origin a browser would send in `Origin` for `value` (an http(s) URL): scheme,
/// host and port only when not the default, lowercase. A configured origin must equal
/// it, or it could never match.
pub fn canonical_origin(value: &str) -> Option<String> {
    url::Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization())
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
    fn cors_origins_must_be_what_browsers_send() {
        let mut config = Config::default();
        config.admin.cors_origins = vec!["https://console.example.com".into()];
        assert!(config.validate().is_ok());
        for wrong in [
            "https://console.example.com/",
            "https://Console.example.com",
            "https://console.example.com:443",
            "console.example.com",
            "ftp://console.example.com",
        ] {
            config.admin.cors_origins = vec![wrong.into()];
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("admin.cors_origins"), "{wrong}: {err}");
        }
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

    #[test]
    fn unknown_keys_are_named_as_written_with_a_suggestion_on_one_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[llm]\ntemprature = 0.5\n")?;
            let err = Config::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                "invalid configuration: `llm.temprature`: unknown key (in bad.toml); \
                 did you mean `llm.temperature`?"
            );

            jail.create_file("section.toml", "[lm]\nmodel = \"x\"\n")?;
            let err = Config::load(Some(Path::new("section.toml")))
                .unwrap_err()
                .to_string();
            assert!(err.contains("`lm`: unknown key"), "{err}");
            assert!(err.contains("did you mean `llm`?"), "{err}");

            jail.set_env("SWITCHBOARD__LLM__TEMPRATURE", "1");
            let err = Config::load(None).unwrap_err().to_string();
            assert_eq!(
                err,
                "invalid configuration: `llm.temprature`: unknown key (in environment \
                 variable SWITCHBOARD__LLM__TEMPRATURE); did you mean `llm.temperature` \
                 (SWITCHBOARD__LLM__TEMPERATURE)?"
            );
            assert!(!err.contains('\n') && !err.contains("default."), "{err}");
            Ok(())
        });
    }

    #[test]
    fn otlp_export_is_off_by_default_and_its_values_are_checked() {
        assert!(Config::default().telemetry.otlp.endpoint.is_empty());
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD__TELEMETRY__OTLP__ENDPOINT", "http://c:4318");
            jail.set_env(
                "SWITCHBOARD__TELEMETRY__OTLP__HEADERS__AUTHORIZATION",
                "k-123",
            );
            let config = Config::load(None).expect("loads");
            assert_eq!(config.telemetry.otlp.endpoint, "http://c:4318");
            assert!(!format!("{config:?}").contains("k-123"));

            jail.set_env("SWITCHBOARD__TELEMETRY__OTLP__SAMPLING_RATIO", "1.5");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("telemetry.otlp.sampling_ratio"), "{err}");
            jail.set_env("SWITCHBOARD__TELEMETRY__OTLP__SAMPLING_RATIO", "0.5");
            jail.set_env("SWITCHBOARD__TELEMETRY__OTLP__ENDPOINT", "c:4318");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("telemetry.otlp.endpoint"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_value_of_the_wrong_type_names_key_and_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[log]\nformat = \"jsn\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("invalid configuration: `log.format`: "),
                "{err}"
            );
            assert!(err.contains("(in bad.toml)"), "{err}");
            assert!(err.ends_with("did you mean `json`?"), "{err}");
            Ok(())
        });
    }
}
