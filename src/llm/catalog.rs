//! A tenant's own model providers (its own keys) and routes, beside the operator's.
//!
//! The gateway asks its [`TenantModels`] for the calling tenant's [`TenantCatalog`] on
//! every call (an implementation caches it). A name a call gives is looked up in the
//! tenant's routes first, then the operator's; a `provider:model` in the tenant's
//! providers first, then the operator's. A tenant route named `default` is the tenant's
//! route for calls that name none. A tenant's provider has its own circuit breakers (its
//! key is its own), and its traffic is metered and budgeted like any other. The operator
//! may also charge a tenant its own prices, model by model, over `llm.prices`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::LlmError;
use super::provider::{BoxFuture, Provider, build_provider, check_name};
use super::routes::Target;
use super::usage::{ModelPrice, PriceTable};
use crate::config::{LlmConfig, ProviderConfig};

/// One tenant's providers and routes, ready to call.
#[derive(Default)]
pub struct TenantCatalog {
    pub(crate) providers: BTreeMap<String, Arc<dyn Provider>>,
    /// Targets as written (`provider:model`); resolved per call.
    pub(crate) routes: BTreeMap<String, Vec<String>>,
    /// The operator's prices with this tenant's overrides on top, when it has some.
    pub(crate) prices: Option<Arc<PriceTable>>,
}

impl TenantCatalog {
    /// Builds the tenant's providers on `http` (a client under the tenant's network
    /// policy). A provider that cannot be built is left out and its error returned
    /// beside the catalog, so one bad entry does not take the others down.
    /// `prices` overrides `llm.prices` for this tenant, model by model.
    pub fn build(
        providers: Vec<(String, ProviderConfig)>,
        routes: Vec<(String, Vec<String>)>,
        prices: BTreeMap<String, ModelPrice>,
        http: reqwest::Client,
        llm: &LlmConfig,
    ) -> (Self, Vec<LlmError>) {
        let mut errors = Vec::new();
        let mut built = BTreeMap::new();
        for (name, cfg) in providers {
            if cfg.kind == "offline" {
                continue; // the offline model is the operator's to offer
            }
            let key = format!("provider {name}");
            match check_name(&name)
                .map_err(LlmError::Config)
                .and_then(|()| build_provider(&cfg, &key, http.clone(), llm))
            {
                Ok(provider) => {
                    built.insert(name, provider);
                }
                Err(error) => errors.push(error),
            }
        }
        (
            Self {
                providers: built,
                routes: routes.into_iter().collect(),
                prices: (!prices.is_empty()).then(|| {
                    let mut merged = llm.prices.clone();
                    merged.extend(prices);
                    Arc::new(PriceTable::new(merged))
                }),
            },
            errors,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty() && self.routes.is_empty() && self.prices.is_none()
    }

    pub(crate) fn provider(&self, target: &Target) -> Option<&Arc<dyn Provider>> {
        target
            .tenant
            .then(|| self.providers.get(&target.provider))
            .flatten()
    }
}

/// Where the gateway gets a tenant's catalog.
pub trait TenantModels: Send + Sync {
    /// `None` when the tenant has no providers or routes of its own.
    fn catalog<'a>(&'a self, tenant_id: &'a str) -> BoxFuture<'a, Option<Arc<TenantCatalog>>>;
}
