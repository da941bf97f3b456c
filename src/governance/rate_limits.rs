//! Rate limits on a tenant's model calls: requests and tokens per minute, counted in one
//! Redis counter per tenant and minute in cluster mode (so N per minute means N across
//! all nodes, not N per node), in process on a single node.
//!
//! A call counts one request and its prompt's estimated tokens when it is admitted; when
//! it ends, the difference to its actual tokens is added. Over a limit the call either
//! waits for the next minute (`on_limit = "wait"`, when that is within `max_wait_ms`) or
//! is refused with [`LlmError::TenantRateLimited`], and the user gets the tenant's
//! message. When Redis is unreachable calls are allowed: a limit is not worth an outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::cluster::Cluster;
use crate::llm::LlmError;
use crate::store::{ModelLimitsRow, Store, now_ms};

/// How long a node trusts its copy of a tenant's limits.
const CACHE_FOR: Duration = Duration::from_secs(2);
const MINUTE_MS: i64 = 60_000;

#[derive(Clone)]
pub struct ModelLimits {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    cluster: Cluster,
    /// Single node: (tenant, kind, minute) → count.
    local: DashMap<(String, &'static str, i64), i64>,
    cache: DashMap<String, (Instant, Option<Arc<ModelLimitsRow>>)>,
}

/// What an admitted call counted, to be corrected when it ends.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub minute: i64,
    pub tokens: i64,
}

impl ModelLimits {
    pub fn new(store: Store, cluster: Cluster) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                cluster,
                local: DashMap::new(),
                cache: DashMap::new(),
            }),
        }
    }

    pub fn forget(&self, tenant_id: &str) {
        self.inner.cache.remove(tenant_id);
    }

    async fn limits(&self, tenant_id: &str) -> Result<Option<Arc<ModelLimitsRow>>, LlmError> {
        if let Some(entry) = self.inner.cache.get(tenant_id)
            && entry.0.elapsed() < CACHE_FOR
        {
            return Ok(entry.1.clone());
        }
        let row = self
            .inner
            .store
            .model_limits(tenant_id)
            .await
            .map_err(|e| LlmError::Budget(e.to_string()))?
            .map(Arc::new);
        self.inner
            .cache
            .insert(tenant_id.to_owned(), (Instant::now(), row.clone()));
        Ok(row)
    }

    /// Adds to a counter of this minute; the new total (`None`: Redis unreachable).
    /// Adds each `(kind, amount)` to the tenant's counters of `minute` (one Redis round
    /// trip in cluster mode); the new totals in order, or `None` when they cannot be
    /// counted (Redis unreachable: calls are then admitted).
    async fn add_all(
        &self,
        tenant_id: &str,
        minute: i64,
        amounts: &[(&'static str, i64)],
    ) -> Option<Vec<i64>> {
        match self.inner.cluster.node() {
            Some(node) => node.add_model_rates(tenant_id, minute, amounts).await,
            None => {
                let totals = amounts
                    .iter()
                    .map(|(kind, amount)| {
                        let key = (tenant_id.to_owned(), *kind, minute);
                        let mut entry = self.inner.local.entry(key).or_insert(0);
                        *entry += amount;
                        *entry
                    })
                    .collect();
                // Keep only the current and the previous minute.
                self.inner.local.retain(|(_, _, m), _| *m >= minute - 1);
                Some(totals)
            }
        }
    }

    async fn add(
        &self,
        tenant_id: &str,
        kind: &'static str,
        minute: i64,
        amount: i64,
    ) -> Option<i64> {
        self.add_all(tenant_id, minute, &[(kind, amount)])
            .await
            .and_then(|totals| totals.first().copied())
    }

    /// Admits a call of `tokens` estimated prompt tokens, waiting for the next minute
    /// when the tenant chose to; `None` when the tenant has no limits.
    pub async fn admit(&self, tenant_id: &str, tokens: u64) -> Result<Option<Counted>, LlmError> {
        let Some(limits) = self.limits(tenant_id).await? else {
            return Ok(None);
        };
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        let mut waited = false;
        loop {
            let now = now_ms();
            let minute = now.div_euclid(MINUTE_MS);
            let totals = self
                .add_all(tenant_id, minute, &[("requests", 1), ("tokens", tokens)])
                .await;
            let (requests, used) = match totals.as_deref() {
                Some([requests, used]) => (Some(*requests), Some(*used)),
                _ => (None, None),
            };
            let over_requests =
                matches!((requests, limits.requests_per_minute), (Some(n), Some(max)) if n > max);
            let over_tokens =
                matches!((used, limits.tokens_per_minute), (Some(n), Some(max)) if n > max);
            if !over_requests && !over_tokens {
                return Ok(Some(Counted { minute, tokens }));
            }
            // A refused call does not keep its tokens (its request still counts).
            self.add(tenant_id, "tokens", minute, -tokens).await;
            let until_next = (minute + 1) * MINUTE_MS - now;
            if limits.on_limit == "wait" && !waited && until_next <= limits.max_wait_ms {
                waited = true;
                tokio::time::sleep(Duration::from_millis(
                    u64::try_from(until_next).unwrap_or(0) + 5,
                ))
                .await;
                continue;
            }
            return Err(LlmError::TenantRateLimited {
                message: limits.message.clone(),
            });
        }
    }

    /// Corrects the tokens an admitted call counted to what it used.
    pub async fn settle(&self, tenant_id: &str, counted: Counted, actual_tokens: u64) {
        let actual = i64::try_from(actual_tokens).unwrap_or(i64::MAX);
        if actual != counted.tokens {
            self.add(tenant_id, "tokens", counted.minute, actual - counted.tokens)
                .await;
        }
    }
}
