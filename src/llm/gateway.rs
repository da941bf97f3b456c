//! [`LlmGateway`]: the one entry point the chat runtime uses to get a streamed model
//! reply. It picks the backend from configuration (offline model or an
//! OpenAI-compatible API), wraps every backend's stream in the same deadlines so
//! callers get identical timeout semantics no matter where tokens come from, and meters
//! every call (tokens, latency, cost) to its [`UsageSink`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::metered::{Meter, metered, millis};
use super::openai::OpenAiBackend;
use super::timeouts::{Timeouts, guarded};
use super::usage::{
    CallKind, CallOutcome, ModelCall, PriceTable, Usage, UsageSink, UsageSlot, UsageSource,
    estimate_prompt_tokens,
};
use super::{CompletionRequest, LlmError, TokenStream, offline};
use crate::config::LlmConfig;

/// Handle to the configured model. Cheap to clone (a few `Arc`s), `Send + Sync`.
#[derive(Clone)]
pub struct LlmGateway {
    inner: Arc<Inner>,
    sink: Arc<dyn UsageSink>,
    prices: Arc<PriceTable>,
}

struct Inner {
    backend: Backend,
    timeouts: Timeouts,
}

/// Drops every record: the sink of a gateway nobody meters (until one is set).
struct Unmetered;

impl UsageSink for Unmetered {
    fn record(&self, _call: ModelCall) {}
}

enum Backend {
    Offline { token_delay: Duration },
    OpenAi(Box<OpenAiBackend>),
}

impl LlmGateway {
    /// Builds the gateway described by `cfg`: empty `base_url` → the offline model
    /// (with `offline_token_delay_ms`), otherwise an OpenAI-compatible client.
    /// Fails with [`LlmError::Config`] on invalid settings; does no network I/O.
    pub fn from_config(cfg: &LlmConfig) -> Result<Self, LlmError> {
        let timeouts = timeouts_from(cfg)?;
        if cfg.max_tokens == 0 {
            return Err(LlmError::Config("llm.max_tokens must be > 0".into()));
        }
        if !(0.0..=2.0).contains(&cfg.temperature) {
            return Err(LlmError::Config(format!(
                "llm.temperature must be within 0.0..=2.0 (got {})",
                cfg.temperature
            )));
        }
        let backend = if cfg.base_url.trim().is_empty() {
            Backend::Offline {
                token_delay: Duration::from_millis(cfg.offline_token_delay_ms),
            }
        } else {
            Backend::OpenAi(Box::new(OpenAiBackend::new(cfg)?))
        };
        let mut gateway = Self::with_backend(backend, timeouts);
        gateway.prices = Arc::new(PriceTable::new(cfg.prices.clone()));
        Ok(gateway)
    }

    /// The same gateway, recording every call to `sink`.
    pub fn with_usage_sink(mut self, sink: Arc<dyn UsageSink>) -> Self {
        self.sink = sink;
        self
    }

    /// The same gateway, pricing calls with `prices`.
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = Arc::new(prices);
        self
    }

    /// The offline model with the given per-fragment delay and default timeouts.
    pub fn offline(token_delay: Duration) -> Self {
        let timeouts = timeouts_from(&LlmConfig::default()).unwrap_or(Timeouts {
            first_token: Duration::from_secs(15),
            idle: Duration::from_secs(15),
            total: Duration::from_secs(120),
        });
        Self::with_backend(Backend::Offline { token_delay }, timeouts)
    }

    fn with_backend(backend: Backend, timeouts: Timeouts) -> Self {
        Self {
            inner: Arc::new(Inner { backend, timeouts }),
            sink: Arc::new(Unmetered),
            prices: Arc::new(PriceTable::default()),
        }
    }

    /// The provider name recorded with each call.
    pub fn provider(&self) -> &'static str {
        match self.inner.backend {
            Backend::Offline { .. } => "offline",
            Backend::OpenAi(_) => "openai",
        }
    }

    /// Starts metering a call of `kind` for `req`.
    fn meter(&self, kind: CallKind, req: &CompletionRequest) -> Meter {
        let offline = self.is_offline();
        let model = req.model.clone().filter(|_| !offline);
        let estimated_in = if offline {
            offline::prompt_tokens(&req.messages)
        } else {
            estimate_prompt_tokens(&req.messages)
        };
        Meter {
            sink: self.sink.clone(),
            prices: self.prices.clone(),
            record: ModelCall {
                origin: req.origin.clone(),
                kind,
                provider: self.provider(),
                model: model.unwrap_or_else(|| self.model().to_owned()),
                attempt: 1,
                outcome: CallOutcome::Ok,
                error_code: None,
                usage: Usage::default(),
                usage_source: UsageSource::Estimated,
                first_token_ms: None,
                latency_ms: 0,
                cost_micros: 0,
                started_at: crate::store::now_ms(),
            },
            started: Instant::now(),
            reported: UsageSlot::default(),
            estimated_in,
            counts_own: offline,
        }
    }

    /// True when replies come from the built-in offline model.
    pub fn is_offline(&self) -> bool {
        matches!(self.inner.backend, Backend::Offline { .. })
    }

    /// The model name sent upstream, or [`offline::OFFLINE_MODEL`].
    pub fn model(&self) -> &str {
        match &self.inner.backend {
            Backend::Offline { .. } => offline::OFFLINE_MODEL,
            Backend::OpenAi(b) => b.model(),
        }
    }

    /// Starts a completion. The returned stream yields text fragments in order and ends after the last one.
    /// Timeouts are enforced here for every backend: first token within first_token_timeout, each next
    /// fragment within idle_timeout, whole reply within request_timeout → Err(LlmError::Timeout{..}) item, then the stream ends.
    ///
    /// Connecting and waiting for response headers happen before this returns and count
    /// against the first-token deadline; failures there (HTTP error status, refused
    /// connection, deadline) are returned as `Err` directly. Any error item is the last
    /// item. Dropping the stream closes the upstream connection.
    ///
    /// The call is metered to `req.origin` however it ends: finished, failed, or dropped
    /// half-read (then what streamed so far is counted).
    pub async fn stream(&self, req: CompletionRequest) -> Result<TokenStream, LlmError> {
        let timeouts = self.inner.timeouts;
        let meter = self.meter(CallKind::Chat, &req);
        let opened = match &self.inner.backend {
            Backend::Offline { token_delay } => {
                let s = offline::stream(&req.messages, req.max_tokens, *token_delay);
                guarded(timeouts, async { Ok(s) }).await
            }
            Backend::OpenAi(backend) => {
                guarded(timeouts, backend.open(req, meter.reported.clone())).await
            }
        };
        match opened {
            Ok(stream) => Ok(metered(stream, meter)),
            Err(error) => {
                meter.finish(CallOutcome::Error, Some(&error), 0, None);
                Err(error)
            }
        }
    }
}

impl LlmGateway {
    /// Structured extraction: asks the model for a JSON object matching `schema` (a JSON
    /// Schema of `type: object`) from the conversation in `req`, within the request
    /// timeout. The offline model extracts deterministically from the last user message.
    /// The values are not validated here; the dialog engine validates each one.
    pub async fn extract(
        &self,
        req: CompletionRequest,
        schema: &serde_json::Value,
    ) -> Result<serde_json::Map<String, serde_json::Value>, LlmError> {
        let total = self.inner.timeouts.total;
        let meter = self.meter(CallKind::Extract, &req);
        let result = match &self.inner.backend {
            Backend::Offline { .. } => {
                let last_user = req
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == super::Role::User)
                    .map(|m| m.content.as_str())
                    .unwrap_or("");
                let values = super::extract::offline_extract(last_user, schema);
                let produced = serde_json::Value::Object(values.clone()).to_string();
                let tokens_out = offline::fragments(&produced).len() as u64;
                let first = Some(millis(meter.started.elapsed()));
                meter.finish(CallOutcome::Ok, None, tokens_out, first);
                return Ok(values);
            }
            Backend::OpenAi(backend) => {
                tokio::time::timeout(total, backend.complete_json(req, schema, &meter.reported))
                    .await
                    .map_err(|_| LlmError::Timeout {
                        phase: super::TimeoutPhase::Total,
                        after_ms: total.as_millis() as u64,
                    })
                    .and_then(|r| r)
                    .and_then(|text| super::extract::parse_object(&text))
            }
        };
        let first = Some(millis(meter.started.elapsed())).filter(|_| result.is_ok());
        match &result {
            Ok(_) => meter.finish(CallOutcome::Ok, None, 0, first),
            Err(error) => meter.finish(CallOutcome::Error, Some(error), 0, None),
        }
        result
    }
}

impl fmt::Debug for LlmGateway {
    /// Shows backend kind and model only — never the API key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmGateway")
            .field("offline", &self.is_offline())
            .field("model", &self.model())
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

fn timeouts_from(cfg: &LlmConfig) -> Result<Timeouts, LlmError> {
    let ms = |name: &str, value: u64| {
        if value == 0 {
            Err(LlmError::Config(format!("llm.{name} must be > 0")))
        } else {
            Ok(Duration::from_millis(value))
        }
    };
    ms("connect_timeout_ms", cfg.connect_timeout_ms)?;
    Ok(Timeouts {
        first_token: ms("first_token_timeout_ms", cfg.first_token_timeout_ms)?,
        idle: ms("idle_timeout_ms", cfg.idle_timeout_ms)?,
        total: ms("request_timeout_ms", cfg.request_timeout_ms)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn gateway_is_send_sync() {
        assert_send_sync::<LlmGateway>();
    }

    #[test]
    fn from_config_picks_backend_and_validates() {
        let offline = LlmGateway::from_config(&LlmConfig::default()).unwrap();
        assert!(offline.is_offline());
        assert_eq!(offline.model(), offline::OFFLINE_MODEL);

        let cfg = LlmConfig {
            base_url: "https://api.example.com/v1/".into(),
            api_key: "sk-secret-value".into(),
            ..LlmConfig::default()
        };
        let online = LlmGateway::from_config(&cfg).unwrap();
        assert!(!online.is_offline());
        assert_eq!(online.model(), "gpt-4o-mini");
        assert!(!format!("{online:?}").contains("sk-secret-value"));

        for bad in [
            LlmConfig {
                idle_timeout_ms: 0,
                ..cfg.clone()
            },
            LlmConfig {
                max_tokens: 0,
                ..cfg.clone()
            },
            LlmConfig {
                temperature: f32::NAN,
                ..cfg.clone()
            },
            LlmConfig {
                base_url: "api.openai.com".into(),
                ..cfg.clone()
            },
        ] {
            let err = LlmGateway::from_config(&bad).unwrap_err();
            assert_eq!(err.code(), "llm_config", "{bad:?}");
        }
    }
}
