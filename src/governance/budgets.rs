//! Budgets and credits, enforced for the gateway by the [`super::Governor`].
//!
//! Before a call goes out, its reservation is added to the spend of every budget that
//! applies (the tenant's and the flow's) in one transaction, or refused as a whole
//! (`store/budgets.rs` says why that is atomic across nodes). When the call ends the
//! reservation is swapped for the actual cost, a credits budget gets a ledger debit, and
//! each threshold crossed raises `budget.threshold` once per period. A refusal raises
//! `budget.exhausted` once per period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::json;
use time::OffsetDateTime;
use tracing::warn;

use super::alerts::Alerts;
use crate::llm::{CallOrigin, LlmError, Reservation};
use crate::store::{BudgetRow, SpendKey, Store};

/// How long a node trusts its copy of a tenant's budgets (changes made on this node
/// apply at once; on another node within this time).
const CACHE_FOR: Duration = Duration::from_secs(2);

/// The budgets of every tenant, enforced.
#[derive(Clone)]
pub struct Budgets {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    alerts: Alerts,
    cache: DashMap<String, (Instant, Arc<Vec<BudgetRow>>)>,
}

/// What a reservation holds, for its settlement.
struct Reserved {
    keys: Vec<SpendKey>,
    budgets: Vec<BudgetRow>,
}

impl Budgets {
    pub fn new(store: Store, alerts: Alerts) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                alerts,
                cache: DashMap::new(),
            }),
        }
    }

    /// Forgets this node's copy of a tenant's budgets (after a change).
    pub fn forget(&self, tenant_id: &str) {
        self.inner.cache.remove(tenant_id);
    }

    async fn budgets(&self, tenant_id: &str) -> Result<Arc<Vec<BudgetRow>>, LlmError> {
        if let Some(entry) = self.inner.cache.get(tenant_id)
            && entry.0.elapsed() < CACHE_FOR
        {
            return Ok(entry.1.clone());
        }
        let rows = self
            .inner
            .store
            .list_budgets(tenant_id)
            .await
            .map_err(|e| LlmError::Budget(e.to_string()))?;
        let rows = Arc::new(rows);
        self.inner
            .cache
            .insert(tenant_id.to_owned(), (Instant::now(), rows.clone()));
        Ok(rows)
    }

    /// Reserves `micros` against every budget that applies to `origin`; `None` when
    /// none does.
    pub async fn admit(
        &self,
        origin: &CallOrigin,
        micros: i64,
    ) -> Result<Option<Reservation>, LlmError> {
        let all = self.budgets(&origin.tenant_id).await?;
        let flow = origin.flow_id.as_deref().unwrap_or("");
        let budgets: Vec<BudgetRow> = all
            .iter()
            .filter(|b| b.flow_id.is_empty() || (!flow.is_empty() && b.flow_id == flow))
            .cloned()
            .collect();
        if budgets.is_empty() {
            return Ok(None);
        }
        let now = OffsetDateTime::now_utc();
        let keys: Vec<SpendKey> = budgets
            .iter()
            .map(|b| SpendKey {
                flow_id: b.flow_id.clone(),
                period_key: period_key(&b.period, now),
                credits: b.period == "credits",
                limited: b.enforced(),
            })
            .collect();
        let store = &self.inner.store;
        match store.reserve_spend(&origin.tenant_id, &keys, micros).await {
            Ok(Ok(())) => Ok(Some(Reservation {
                micros,
                detail: Box::new(Reserved { keys, budgets }),
            })),
            Ok(Err(full)) => {
                let budget = budgets.iter().find(|b| b.flow_id == full.flow_id).cloned();
                let scope = scope_of(&full.flow_id);
                if store
                    .mark_budget_alert(&origin.tenant_id, &full.flow_id, &full.period_key, 0)
                    .await
                    .unwrap_or(false)
                {
                    let spend = store
                        .spend(&origin.tenant_id, &full.flow_id, &full.period_key)
                        .await
                        .unwrap_or_default();
                    let data = json!({
                        "scope": scope,
                        "period": full.period_key,
                        "spent_micros": spend.spent_micros,
                        "allowance_micros": budget.as_ref().and_then(BudgetRow::allowance),
                    });
                    self.inner
                        .alerts
                        .raise(&origin.tenant_id, "budget.exhausted", data)
                        .await;
                }
                Err(LlmError::BudgetExhausted {
                    scope,
                    message: budget.and_then(|b| b.message),
                })
            }
            Err(error) => Err(LlmError::Budget(error.to_string())),
        }
    }

    /// Swaps a reservation made by [`Budgets::admit`] for the call's cost (in a task).
    pub fn settle(&self, tenant_id: &str, reservation: Reservation, actual: i64, call_id: &str) {
        let Ok(reserved) = reservation.detail.downcast::<Reserved>() else {
            return;
        };
        let budgets = self.clone();
        let tenant_id = tenant_id.to_owned();
        let call_id = call_id.to_owned();
        tokio::spawn(async move {
            budgets
                .settle_now(tenant_id, *reserved, reservation.micros, actual, call_id)
                .await;
        });
    }

    async fn settle_now(
        &self,
        tenant_id: String,
        reserved: Reserved,
        reservation: i64,
        actual: i64,
        call_id: String,
    ) {
        let store = &self.inner.store;
        let after = match store
            .settle_spend(&tenant_id, &reserved.keys, reservation, actual, &call_id)
            .await
        {
            Ok(after) => after,
            Err(error) => {
                warn!(%error, tenant_id, call_id, actual, "could not settle a model call's spend");
                return;
            }
        };
        for ((key, budget), spend) in reserved.keys.iter().zip(&reserved.budgets).zip(after) {
            let Some(allowance) = budget.allowance().filter(|a| *a > 0) else {
                continue;
            };
            let thresholds: Vec<i64> = serde_json::from_str(&budget.thresholds).unwrap_or_default();
            for threshold in thresholds {
                let crossed = i128::from(spend.spent_micros) * 100
                    >= i128::from(threshold) * i128::from(allowance);
                if !crossed || threshold <= 0 {
                    continue;
                }
                let first = store
                    .mark_budget_alert(&tenant_id, &key.flow_id, &key.period_key, threshold)
                    .await
                    .unwrap_or(false);
                if first {
                    let data = json!({
                        "scope": scope_of(&key.flow_id),
                        "period": key.period_key,
                        "threshold_percent": threshold,
                        "spent_micros": spend.spent_micros,
                        "allowance_micros": allowance,
                    });
                    self.inner
                        .alerts
                        .raise(&tenant_id, "budget.threshold", data)
                        .await;
                }
            }
        }
    }
}

/// `tenant` or `flow:<id>`.
pub fn scope_of(flow_id: &str) -> String {
    if flow_id.is_empty() {
        "tenant".into()
    } else {
        format!("flow:{flow_id}")
    }
}

/// The spend row of a period: `2026-11-30`, `2026-11` or `credits` (UTC).
pub fn period_key(period: &str, now: OffsetDateTime) -> String {
    let date = now.date();
    match period {
        "day" => format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        ),
        "month" => format!("{:04}-{:02}", date.year(), u8::from(date.month())),
        _ => "credits".into(),
    }
}
