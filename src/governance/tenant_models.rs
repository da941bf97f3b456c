//! Tenants' own model providers and routes, for the gateway (`llm/catalog.rs`): read
//! from the store, keys decrypted, providers built on an HTTP client under the tenant's
//! network policy (the same SSRF guard as adaptors: a tenant's base URL cannot reach
//! private addresses unless the operator allows it), cached per tenant for a few seconds
//! (changes on this node apply at once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tracing::warn;

use crate::adaptors::{NetworkPolicy, vetted_http_client};
use crate::config::{LlmConfig, ProviderConfig};
use crate::llm::{TenantCatalog, TenantModels};
use crate::secret_box::SecretBox;
use crate::store::Store;

const CACHE_FOR: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct TenantProviders {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secrets: Arc<SecretBox>,
    llm: LlmConfig,
    /// Public addresses only; and private allowed (the operator's per-tenant choice).
    public: Option<reqwest::Client>,
    private: Option<reqwest::Client>,
    cache: DashMap<String, (Instant, Option<Arc<TenantCatalog>>)>,
}

impl TenantProviders {
    pub fn new(store: Store, secrets: Arc<SecretBox>, llm: LlmConfig) -> Self {
        let connect = Duration::from_millis(llm.connect_timeout_ms);
        let client = |allow_private| {
            vetted_http_client(NetworkPolicy { allow_private }, connect)
                .map_err(|e| warn!(error = %e, "no HTTP client for tenants' model providers"))
                .ok()
        };
        Self {
            inner: Arc::new(Inner {
                public: client(false),
                private: client(true),
                store,
                secrets,
                llm,
                cache: DashMap::new(),
            }),
        }
    }

    pub fn forget(&self, tenant_id: &str) {
        self.inner.cache.remove(tenant_id);
    }

    async fn load(&self, tenant_id: &str) -> Option<Arc<TenantCatalog>> {
        let store = &self.inner.store;
        let (providers, routes, tenant, prices) = match tokio::try_join!(
            store.tenant_providers(tenant_id),
            store.tenant_routes(tenant_id),
            store.tenant(tenant_id),
            store.tenant_prices(tenant_id),
        ) {
            Ok(found) => found,
            Err(error) => {
                warn!(%error, tenant_id, "could not read the tenant's model providers; using the operator's");
                return None;
            }
        };
        let prices: std::collections::BTreeMap<String, crate::llm::ModelPrice> = prices
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default();
        if providers.is_empty() && routes.is_empty() && prices.is_empty() {
            return None;
        }
        let allow_private = tenant.is_some_and(|t| t.allows_private_adaptors());
        let http = if allow_private {
            self.inner.private.clone()
        } else {
            self.inner.public.clone()
        }?;
        let providers = providers
            .into_iter()
            .filter_map(|row| {
                let api_key = match row.api_key_encrypted.as_deref().map(|k| self.inner.secrets.open(k)) {
                    Some(Ok(key)) => key,
                    Some(Err(error)) => {
                        warn!(%error, tenant_id, provider = %row.name, "a tenant provider's key cannot be read; provider skipped");
                        return None;
                    }
                    None => String::new(),
                };
                Some((
                    row.name,
                    ProviderConfig {
                        kind: row.kind,
                        base_url: row.base_url,
                        api_key,
                        api_version: row.api_version,
                    },
                ))
            })
            .collect();
        let routes = routes
            .into_iter()
            .map(|row| {
                (
                    row.name,
                    serde_json::from_str(&row.targets).unwrap_or_default(),
                )
            })
            .collect();
        let (catalog, errors) =
            TenantCatalog::build(providers, routes, prices, http, &self.inner.llm);
        for error in errors {
            warn!(%error, tenant_id, "a tenant model provider was left out");
        }
        Some(Arc::new(catalog))
    }
}

impl TenantModels for TenantProviders {
    fn catalog<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Arc<TenantCatalog>>> + Send + 'a>>
    {
        Box::pin(async move {
            if let Some(entry) = self.inner.cache.get(tenant_id)
                && entry.0.elapsed() < CACHE_FOR
            {
                return entry.1.clone();
            }
            let catalog = self.load(tenant_id).await;
            self.inner
                .cache
                .insert(tenant_id.to_owned(), (Instant::now(), catalog.clone()));
            catalog
        })
    }
}
