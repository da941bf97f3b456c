//! [`LlmGateway`]: the one entry point the chat runtime uses to get a model reply.
//!
//! A call names a route (or a model, or nothing: the default route, see `routes.rs`).
//! The gateway tries the route's targets in order: a target whose circuit breaker is
//! open is skipped without a request; a connect error, a 5xx, a timeout before the first
//! token or a 429 moves on to the next target (a 429 whose `Retry-After` is short enough
//! is first retried once on the same target, after the wait). Once a fragment has been
//! handed to the caller the call is committed to its target: a later failure ends the
//! stream with the error, never with a fallback. Every backend's stream gets the same
//! deadlines, and every attempt is metered (tokens, latency, cost) to the [`UsageSink`].

mod embed;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::breaker::{Admission, BreakerKey, BreakerListener, BreakerStatus, Breakers};
use super::catalog::{TenantCatalog, TenantModels};
use super::metered::{Meter, metered};
use super::provider::{BoxFuture, Provider, Providers};
use super::routes::{Routes, Target};
use super::spend::SpendGuard;
use super::timeouts::{Timeouts, guarded};
use super::usage::{
    CallKind, CallOutcome, ModelCall, PriceTable, Usage, UsageSink, UsageSlot, UsageSource,
    estimate_prompt_tokens,
};
use super::{CompletionRequest, LlmError, TokenStream, offline};
use crate::config::{BreakerConfig, LlmConfig};

/// Handle to the configured models. Cheap to clone (a few `Arc`s), `Send + Sync`.
#[derive(Clone)]
pub struct LlmGateway {
    inner: Arc<Inner>,
    sink: Arc<dyn UsageSink>,
    prices: Arc<PriceTable>,
    guard: Option<Arc<dyn SpendGuard>>,
    tenants: Option<Arc<dyn TenantModels>>,
}

struct Inner {
    providers: Providers,
    routes: Routes,
    breakers: Breakers,
    timeouts: Timeouts,
    retry_after_cap: Duration,
    /// `llm.max_tokens`: what a call without its own may produce at most.
    max_tokens: u32,
    /// `llm.embedding_model`: what embeddings ask each target for.
    embedding_model: String,
}

/// Drops every record: the sink of a gateway nobody meters (until one is set).
struct Unmetered;

impl UsageSink for Unmetered {
    fn record(&self, _call: ModelCall) {}
}

/// One attempt of a call: where it goes, which attempt it is, what it is charged at.
struct Attempt {
    target: Target,
    provider: Arc<dyn Provider>,
    number: u32,
    prices: Arc<PriceTable>,
}

/// How one attempt on one target ended, when it did not hand back a stream.
struct Failed {
    error: LlmError,
    /// Worth trying the next target (or this one again, for a short `Retry-After`).
    fall_back: bool,
}

/// The providers, routes and breakers of a gateway, for the admin API.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GatewayStatus {
    /// Provider names and kinds (never their keys).
    pub providers: Vec<ProviderStatus>,
    /// The route of calls that name none, as `provider:model` targets.
    pub default_route: Vec<String>,
    pub routes: std::collections::BTreeMap<String, Vec<String>>,
    /// Every breaker that has seen a call on this node.
    pub breakers: Vec<BreakerStatus>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProviderStatus {
    pub name: String,
    /// `openai`, `azure`, `anthropic` or `offline`.
    pub kind: String,
}

impl LlmGateway {
    /// Builds the gateway described by `cfg`: the `default` provider from `base_url`
    /// (empty → the offline model), `[llm.providers]`, `[llm.routes]`, the breakers.
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
        let providers = Providers::from_config(cfg)?;
        let routes = Routes::from_config(cfg, &providers)?;
        let mut gateway = Self::build(
            providers,
            routes,
            timeouts,
            cfg.breaker.clone(),
            Duration::from_millis(cfg.retry_after_cap_ms),
            cfg.max_tokens,
        );
        if let Some(inner) = Arc::get_mut(&mut gateway.inner) {
            inner.embedding_model = cfg.embedding_model.clone();
        }
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

    /// Tells `listener` when a breaker of this node opens or closes.
    pub fn add_breaker_listener(&self, listener: Arc<dyn BreakerListener>) {
        self.inner.breakers.add_listener(listener);
    }

    /// Another node's breaker opened (`Some(for how long)`) or closed: follow it.
    pub fn follow_breaker(&self, key: &BreakerKey, open_for: Option<Duration>) {
        self.inner.breakers.force(key, open_for);
    }

    /// The offline model with the given per-fragment delay and default timeouts.
    pub fn offline(token_delay: Duration) -> Self {
        let defaults = LlmConfig::default();
        let timeouts = timeouts_from(&defaults).unwrap_or(Timeouts {
            first_token: Duration::from_secs(15),
            idle: Duration::from_secs(15),
            total: Duration::from_secs(120),
        });
        Self::build(
            Providers::offline(token_delay),
            Routes::single(&defaults.model),
            timeouts,
            BreakerConfig::default(),
            Duration::from_millis(defaults.retry_after_cap_ms),
            defaults.max_tokens,
        )
    }

    fn build(
        providers: Providers,
        routes: Routes,
        timeouts: Timeouts,
        breaker: BreakerConfig,
        retry_after_cap: Duration,
        max_tokens: u32,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                providers,
                routes,
                breakers: Breakers::new(breaker),
                timeouts,
                retry_after_cap,
                max_tokens,
                embedding_model: LlmConfig::default().embedding_model,
            }),
            sink: Arc::new(Unmetered),
            prices: Arc::new(PriceTable::default()),
            guard: None,
            tenants: None,
        }
    }

    /// The same gateway, admitting every call against `guard`'s budgets first.
    pub fn with_spend_guard(mut self, guard: Arc<dyn SpendGuard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Reserves what the attempt may cost at most (twice the prompt estimate, all of
    /// `max_tokens`) with the budgets, before anything is sent.
    async fn reserve(&self, meter: &mut Meter, req: &CompletionRequest) -> Result<(), LlmError> {
        let Some(guard) = &self.guard else {
            return Ok(());
        };
        let most = Usage {
            tokens_in: meter.estimated_in.saturating_mul(2),
            tokens_out: u64::from(req.max_tokens.unwrap_or(self.inner.max_tokens)),
        };
        let micros = meter
            .prices
            .cost_micros(&meter.record.model, most)
            .unwrap_or(0);
        if let Some(reservation) = guard
            .reserve(&req.origin, micros, meter.estimated_in)
            .await?
        {
            meter.spend = Some((guard.clone(), reservation));
        }
        Ok(())
    }

    fn first_target(&self) -> Option<(&Target, &Arc<dyn Provider>)> {
        let target = self.inner.routes.default_route().first()?;
        Some((target, self.inner.providers.get(&target.provider)?))
    }

    /// True when calls that name no route are answered by the built-in offline model.
    pub fn is_offline(&self) -> bool {
        self.first_target().is_some_and(|(_, p)| p.counts_own())
    }

    /// The model of the default route's first target, or [`offline::OFFLINE_MODEL`].
    pub fn model(&self) -> &str {
        match self.first_target() {
            Some((_, provider)) if provider.counts_own() => offline::OFFLINE_MODEL,
            Some((target, _)) => &target.model,
            None => offline::OFFLINE_MODEL,
        }
    }

    /// Providers, routes and breaker states.
    pub fn status(&self) -> GatewayStatus {
        let names = |targets: &[Target]| targets.iter().map(Target::to_string).collect();
        GatewayStatus {
            providers: self
                .inner
                .providers
                .iter()
                .map(|(name, p)| ProviderStatus {
                    name: name.clone(),
                    kind: p.kind().to_owned(),
                })
                .collect(),
            default_route: names(self.inner.routes.default_route()),
            routes: self
                .inner
                .routes
                .named()
                .iter()
                .map(|(name, targets)| (name.clone(), names(targets)))
                .collect(),
            breakers: self.inner.breakers.statuses(),
        }
    }

    /// Starts metering one attempt of a call of `kind` on `target`.
    fn meter(
        &self,
        kind: CallKind,
        req: &CompletionRequest,
        target: &Target,
        provider: &Arc<dyn Provider>,
        attempt: u32,
        prices: &Arc<PriceTable>,
    ) -> Meter {
        let offline = provider.counts_own();
        let estimated_in = if offline {
            offline::prompt_tokens(&req.messages)
        } else {
            estimate_prompt_tokens(&req.messages)
        };
        Meter {
            sink: self.sink.clone(),
            prices: prices.clone(),
            record: ModelCall {
                id: crate::transcript::new_id(),
                origin: req.origin.clone(),
                kind,
                provider: target.provider.clone(),
                model: if offline {
                    offline::OFFLINE_MODEL.to_owned()
                } else {
                    target.model.clone()
                },
                attempt,
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
            spend: None,
        }
    }

    /// Starts a completion. The returned stream yields text fragments in order and ends
    /// after the last one. Timeouts are enforced here for every backend: first token
    /// within first_token_timeout, each next fragment within idle_timeout, whole reply
    /// within request_timeout → an `Err(LlmError::Timeout{..})` item, then the stream ends.
    ///
    /// Falling back happens here, before this returns: the returned stream has already
    /// produced its first fragment (or ended empty). When every target failed, the last
    /// target's error is returned. Any error item is the last item. Dropping the stream
    /// closes the upstream connection. Every attempt is metered to `req.origin`, however
    /// it ends: finished, failed, or dropped half-read (then what streamed is counted).
    pub async fn stream(&self, req: CompletionRequest) -> Result<TokenStream, LlmError> {
        let req = &req;
        self.along_route(req, |a| {
            Box::pin(async move {
                self.try_stream(req, &a.target, &a.provider, a.number, &a.prices)
                    .await
            })
        })
        .await
    }

    /// Tries `req`'s route target by target until an attempt succeeds or fails in a way
    /// that must not fall back; a short `Retry-After` is first honoured once on the same
    /// target. When every target failed, the last error.
    async fn along_route<'s, T>(
        &'s self,
        req: &'s CompletionRequest,
        mut attempt: impl FnMut(Attempt) -> BoxFuture<'s, Result<T, Failed>>,
    ) -> Result<T, LlmError> {
        let catalog = self.catalog(req).await;
        let targets = self.targets(req, catalog.as_deref());
        let prices = self.prices_for(catalog.as_deref());
        let mut number = 0;
        let mut last = None;
        for (target, provider) in targets {
            let mut retried = false;
            loop {
                number += 1;
                let this = Attempt {
                    target: target.clone(),
                    provider: provider.clone(),
                    number,
                    prices: prices.clone(),
                };
                match attempt(this).await {
                    Ok(done) => return Ok(done),
                    Err(failed) => {
                        let wait = self.retry_wait(&failed.error, retried);
                        let fall_back = failed.fall_back;
                        last = Some(failed.error);
                        if !fall_back {
                            return Err(last.unwrap_or_else(no_target));
                        }
                        match wait {
                            Some(wait) => {
                                retried = true;
                                tokio::time::sleep(wait).await;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        Err(last.unwrap_or_else(no_target))
    }

    /// The calling tenant's own providers and routes, if it has any.
    async fn catalog(&self, req: &CompletionRequest) -> Option<Arc<TenantCatalog>> {
        match &self.tenants {
            Some(tenants) if !req.origin.tenant_id.is_empty() => {
                tenants.catalog(&req.origin.tenant_id).await
            }
            _ => None,
        }
    }

    /// The targets `req` goes to, in order, each with its provider.
    fn targets(
        &self,
        req: &CompletionRequest,
        catalog: Option<&TenantCatalog>,
    ) -> Vec<(Target, Arc<dyn Provider>)> {
        self.inner
            .routes
            .resolve(req.model.as_deref(), &self.inner.providers, catalog)
            .into_iter()
            .filter_map(|target| {
                let provider = match catalog {
                    Some(c) if target.tenant => c.provider(&target)?.clone(),
                    _ => self.inner.providers.get(&target.provider)?.clone(),
                };
                Some((target, provider))
            })
            .collect()
    }

    /// The prices a tenant's calls are charged at: its own, else the operator's.
    fn prices_for(&self, catalog: Option<&TenantCatalog>) -> Arc<PriceTable> {
        catalog
            .and_then(|c| c.prices.clone())
            .unwrap_or_else(|| self.prices.clone())
    }

    /// The same gateway, looking up each tenant's own providers and routes in `tenants`.
    pub fn with_tenant_models(mut self, tenants: Arc<dyn TenantModels>) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// How long to wait before trying the same target again after `error`: a 429 with a
    /// `Retry-After` within the cap, once.
    fn retry_wait(&self, error: &LlmError, retried: bool) -> Option<Duration> {
        match error {
            LlmError::RateLimited {
                retry_after_ms: Some(ms),
                ..
            } if !retried && Duration::from_millis(*ms) <= self.inner.retry_after_cap => {
                Some(Duration::from_millis(*ms))
            }
            _ => None,
        }
    }

    /// One attempt on one target: up to its first fragment.
    async fn try_stream(
        &self,
        req: &CompletionRequest,
        target: &Target,
        provider: &Arc<dyn Provider>,
        attempt: u32,
        prices: &Arc<PriceTable>,
    ) -> Result<TokenStream, Failed> {
        let key = breaker_key(target, req);
        let mut meter = self.meter(CallKind::Chat, req, target, provider, attempt, prices);
        if let Err(error) = self.reserve(&mut meter, req).await {
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: false,
            });
        }
        let admission = self.inner.breakers.admit(&key);
        if admission == Admission::Rejected {
            let error = LlmError::BreakerOpen {
                target: key.to_string(),
            };
            debug!(target = %key, "breaker open: skipping the target");
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: true,
            });
        }
        let slot = meter.reported.clone();
        let opened = guarded(
            self.inner.timeouts,
            provider.stream(req, &target.model, slot),
        )
        .await;
        let stream = match opened {
            Ok(stream) => stream,
            Err(error) => {
                meter.finish(CallOutcome::Error, Some(&error), 0, None);
                return Err(self.failed(&key, admission, error));
            }
        };
        let mut stream = metered(stream, meter);
        match stream.next().await {
            Some(Ok(first)) => {
                self.inner.breakers.success(&key, admission);
                let rest = futures_util::stream::iter([Ok(first)]).chain(stream);
                Ok(Box::pin(rest))
            }
            // The metered stream has recorded the attempt as failed.
            Some(Err(error)) => Err(self.failed(&key, admission, error)),
            None => {
                self.inner.breakers.success(&key, admission);
                Ok(Box::pin(futures_util::stream::empty()))
            }
        }
    }

    /// Counts a failure before any fragment against the target's breaker, and says
    /// whether the route may fall back.
    fn failed(&self, key: &BreakerKey, admission: Admission, error: LlmError) -> Failed {
        let unwell = upstream_unwell(&error);
        if unwell {
            self.inner.breakers.failure(key, admission);
        }
        let fall_back = unwell || matches!(error, LlmError::RateLimited { .. });
        if fall_back {
            warn!(target = %key, code = error.code(), error = %error, "model target failed; trying the next one");
        }
        Failed { error, fall_back }
    }
}

impl LlmGateway {
    /// Structured extraction: asks the model for a JSON object matching `schema` (a JSON
    /// Schema of `type: object`) from the conversation in `req`, within the request
    /// timeout, falling back along the route like [`LlmGateway::stream`]. The offline
    /// model extracts deterministically from the last user message. The values are not
    /// validated here; the dialog engine validates each one.
    pub async fn extract(
        &self,
        req: CompletionRequest,
        schema: &serde_json::Value,
    ) -> Result<serde_json::Map<String, serde_json::Value>, LlmError> {
        let req = &req;
        self.along_route(req, |a| {
            Box::pin(async move {
                self.try_extract(req, schema, &a.target, &a.provider, a.number, &a.prices)
                    .await
            })
        })
        .await
    }

    async fn try_extract(
        &self,
        req: &CompletionRequest,
        schema: &serde_json::Value,
        target: &Target,
        provider: &Arc<dyn Provider>,
        attempt: u32,
        prices: &Arc<PriceTable>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Failed> {
        let key = breaker_key(target, req);
        let mut meter = self.meter(CallKind::Extract, req, target, provider, attempt, prices);
        if let Err(error) = self.reserve(&mut meter, req).await {
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: false,
            });
        }
        let admission = self.inner.breakers.admit(&key);
        if admission == Admission::Rejected {
            let error = LlmError::BreakerOpen {
                target: key.to_string(),
            };
            meter.finish(CallOutcome::Error, Some(&error), 0, None);
            return Err(Failed {
                error,
                fall_back: true,
            });
        }
        let total = self.inner.timeouts.total;
        let result = tokio::time::timeout(
            total,
            provider.complete_json(req, &target.model, schema, &meter.reported),
        )
        .await
        .map_err(|_| LlmError::Timeout {
            phase: super::TimeoutPhase::Total,
            after_ms: u64::try_from(total.as_millis()).unwrap_or(u64::MAX),
        })
        .and_then(|r| r);
        let elapsed = Some(super::metered::millis(meter.started.elapsed()));
        match result {
            Ok(text) => {
                self.inner.breakers.success(&key, admission);
                // The offline model's reply tokens are the fragments of what it produced.
                let counted = if provider.counts_own() {
                    offline::fragments(&text).len() as u64
                } else {
                    0
                };
                let parsed = super::extract::parse_object(&text);
                match &parsed {
                    Ok(_) => meter.finish(CallOutcome::Ok, None, counted, elapsed),
                    Err(error) => meter.finish(CallOutcome::Error, Some(error), counted, elapsed),
                }
                parsed.map_err(|error| Failed {
                    error,
                    fall_back: false,
                })
            }
            Err(error) => {
                meter.finish(CallOutcome::Error, Some(&error), 0, None);
                Err(self.failed(&key, admission, error))
            }
        }
    }
}

fn no_target() -> LlmError {
    LlmError::Config("the route names no configured provider".into())
}

/// A target's breaker: a tenant's own provider has breakers of its own (its own key).
fn breaker_key(target: &Target, req: &CompletionRequest) -> BreakerKey {
    BreakerKey {
        provider: target.provider.clone(),
        model: target.model.clone(),
        credential: if target.tenant {
            format!("tenant:{}", req.origin.tenant_id)
        } else {
            "config".into()
        },
    }
}

/// Failures that say the upstream itself is unwell: it could not be reached, it failed
/// (5xx, or an error event with no status), or it did not answer in time.
fn upstream_unwell(error: &LlmError) -> bool {
    match error {
        LlmError::Transport(_) | LlmError::Timeout { .. } => true,
        LlmError::Upstream { status, .. } => status.is_none_or(|s| s >= 500),
        _ => false,
    }
}

impl fmt::Debug for LlmGateway {
    /// Shows the default target and timeouts only — never an API key.
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
