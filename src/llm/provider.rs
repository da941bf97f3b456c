//! The one trait every model backend implements, and the configured set of them.
//!
//! A [`Provider`] knows one API's wire protocol: OpenAI-compatible (`openai.rs`, which
//! also speaks Azure OpenAI's deployments and `api-version`), Anthropic's Messages API
//! (`anthropic.rs`), or the built-in offline model (`offline.rs`). It opens a streamed
//! reply or a JSON completion for one model and reports the provider's own token usage
//! to a [`UsageSlot`]. Deadlines, routes, fallback, the breaker and metering are the
//! gateway's, the same for every provider.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::usage::UsageSlot;
use super::{CompletionRequest, LlmError, TokenStream};
use crate::config::{LlmConfig, ProviderConfig};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One model API.
pub(crate) trait Provider: Send + Sync {
    /// `openai`, `azure`, `anthropic` or `offline`: recorded with every call.
    fn kind(&self) -> &'static str;

    /// Sends `req` to `model` and waits for the response headers; the stream yields the
    /// reply's text fragments. The provider's usage report, if any, goes to `usage`.
    fn stream<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        usage: UsageSlot,
    ) -> BoxFuture<'a, Result<TokenStream, LlmError>>;

    /// A non-streamed completion whose content is a JSON object matching `schema`.
    fn complete_json<'a>(
        &'a self,
        req: &'a CompletionRequest,
        model: &'a str,
        schema: &'a Value,
        usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<String, LlmError>>;

    /// One embedding per input, in order, from `model`; the provider's usage report, if
    /// any, goes to `usage`. A provider without an embeddings API refuses (the gateway
    /// then tries the route's next target).
    fn embed<'a>(
        &'a self,
        inputs: &'a [String],
        model: &'a str,
        usage: &'a UsageSlot,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, LlmError>> {
        let _ = (inputs, model, usage);
        let kind = self.kind();
        Box::pin(async move {
            Err(LlmError::Unsupported(format!(
                "the {kind} provider has no embeddings API"
            )))
        })
    }

    /// True when the provider's tokens are exactly its fragments and the gateway's prompt
    /// count (the offline model); no usage report is needed then.
    fn counts_own(&self) -> bool {
        false
    }
}

/// The name of the provider that `llm.base_url`, `llm.api_key` and `llm.model` describe.
pub const DEFAULT_PROVIDER: &str = "default";

/// The configured providers by name: `default` (from `llm.base_url`, or the offline model
/// when it is empty) and every `[llm.providers.NAME]`.
pub(crate) struct Providers {
    by_name: BTreeMap<String, Arc<dyn Provider>>,
}

impl Providers {
    pub(crate) fn from_config(cfg: &LlmConfig) -> Result<Self, LlmError> {
        let mut by_name: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        let http = http_client(Duration::from_millis(cfg.connect_timeout_ms))?;
        let default = if cfg.base_url.trim().is_empty() {
            ProviderConfig {
                kind: "offline".into(),
                ..ProviderConfig::default()
            }
        } else {
            ProviderConfig {
                kind: "openai".into(),
                base_url: cfg.base_url.clone(),
                api_key: cfg.api_key.clone(),
                ..ProviderConfig::default()
            }
        };
        by_name.insert(
            DEFAULT_PROVIDER.into(),
            build_provider(&default, "llm", http.clone(), cfg)?,
        );
        for (name, provider) in &cfg.providers {
            check_name(name)
                .map_err(|why| LlmError::Config(format!("llm.providers.{name}: {why}")))?;
            let key = format!("llm.providers.{name}");
            by_name.insert(
                name.clone(),
                build_provider(provider, &key, http.clone(), cfg)?,
            );
        }
        Ok(Self { by_name })
    }

    /// Only the offline model, under the default name.
    pub(crate) fn offline(token_delay: Duration) -> Self {
        let offline: Arc<dyn Provider> =
            Arc::new(super::offline::OfflineProvider::new(token_delay));
        Self {
            by_name: BTreeMap::from([(DEFAULT_PROVIDER.to_string(), offline)]),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_name.get(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Arc<dyn Provider>)> {
        self.by_name.iter()
    }
}

/// A provider name: not empty, not `default`, no `:` (it separates provider and model).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == DEFAULT_PROVIDER || name.contains(':') || name.len() > 64 {
        Err("a provider name must be 1 to 64 characters, not `default`, without `:`".into())
    } else {
        Ok(())
    }
}

/// Builds one provider of `cfg.kind` (named `key` in messages) on `http`, with the
/// gateway's defaults from `llm`.
pub(crate) fn build_provider(
    cfg: &ProviderConfig,
    key: &str,
    http: reqwest::Client,
    llm: &LlmConfig,
) -> Result<Arc<dyn Provider>, LlmError> {
    Ok(match cfg.kind.as_str() {
        "openai" | "azure" => Arc::new(super::openai::OpenAiProvider::new(
            cfg,
            key,
            http,
            llm.max_tokens,
            llm.temperature,
        )?),
        "anthropic" => Arc::new(super::anthropic::AnthropicProvider::new(
            cfg,
            key,
            http,
            llm.max_tokens,
            llm.temperature,
        )?),
        "offline" => Arc::new(super::offline::OfflineProvider::new(Duration::from_millis(
            llm.offline_token_delay_ms,
        ))),
        other => {
            return Err(LlmError::Config(format!(
                "{key}.kind must be openai, azure, anthropic or offline (got {other:?})"
            )));
        }
    })
}

/// Checks a base URL's scheme, and an API key for what a header cannot carry.
pub(crate) fn check_endpoint(key: &str, base_url: &str, api_key: &str) -> Result<(), LlmError> {
    let base_url = base_url.trim();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(LlmError::Config(format!(
            "{key}.base_url must start with http:// or https:// (got {base_url:?})"
        )));
    }
    // Header values cannot hold control characters; reqwest and async-openai would
    // refuse (or panic) at request time, so refuse at start.
    if api_key.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(LlmError::Config(format!(
            "{key}.api_key contains non-printable or non-ASCII characters"
        )));
    }
    Ok(())
}

/// The HTTP client of one provider: a connect timeout, and Nagle off so that tokens are
/// not held back.
pub(crate) fn http_client(connect: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build HTTP client: {e}")))
}
