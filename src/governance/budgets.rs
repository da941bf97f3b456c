//! Budgets and credits, enforced for the gateway by the [`super::Governor`].
//!
//! Before a call goes out, its reservation is added to the live spend of every budget
//! that applies (the tenant's and the flow's), all or none: in process on a single node,
//! in one Redis Lua script in cluster mode (atomic across nodes), so no durable commit
//! sits in front of the first token. Should Redis be unreachable, the reservation falls
//! back to one conditional `UPDATE` per budget in the database (`store/budgets.rs`,
//! atomic across nodes too, but a commit slower). When the call ends the reservation is
//! swapped for the actual cost, which is also added to the durable record in the
//! database (a credits budget gets a ledger debit), and each threshold crossed raises
//! `budget.threshold` once per period. A refusal raises `budget.exhausted` once per
//! period.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::json;
use time::OffsetDateTime;
use tracing::warn;

use super::alerts::Alerts;
use crate::cluster::Cluster;
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
    cluster: Cluster,
    cache: DashMap<String, (Instant, Arc<Vec<BudgetRow>>)>,
    /// Single node: the live (spent, reserved) of each (tenant, flow, period), loaded
    /// from the database on first use.
    local: DashMap<PeriodId, LiveSpend>,
    /// Cluster: the durable spent of each period, read at most once a minute, to start
    /// Redis's count from when it has none.
    seeds: DashMap<PeriodId, (Instant, i64)>,
}

/// (tenant, flow or '', period key).
type PeriodId = (String, String, String);
/// (spent, reserved), `None` until loaded from the database.
type LiveSpend = Arc<Mutex<Option<(i64, i64)>>>;

/// Where a reservation was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Local,
    Redis,
    Database,
}

/// What a reservation holds, for its settlement.
struct Reserved {
    keys: Vec<SpendKey>,
    budgets: Vec<BudgetRow>,
    via: Via,
}

impl Budgets {
    pub fn new(store: Store, alerts: Alerts, cluster: Cluster) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                alerts,
                cluster,
                cache: DashMap::new(),
                local: DashMap::new(),
                seeds: DashMap::new(),
            }),
        }
    }

    /// The live (spent, reserved) of a budget period, where it is counted live.
    pub async fn live(
        &self,
        tenant_id: &str,
        flow_id: &str,
        period_key: &str,
    ) -> Option<(i64, i64)> {
        match self.inner.cluster.node() {
            Some(node) => node.live_spend(tenant_id, flow_id, period_key).await,
            None => {
                let key = (
                    tenant_id.to_owned(),
                    flow_id.to_owned(),
                    period_key.to_owned(),
                );
                let cell = self.inner.local.get(&key)?.clone();
                *cell.lock().ok()?
            }
        }
    }

    /// Reserves `micros` in every key: `Ok(Ok(via))`, or `Ok(Err(i))` when key `i` has
    /// no room.
    async fn reserve_live(
        &self,
        tenant_id: &str,
        keys: &[SpendKey],
        budgets: &[BudgetRow],
        micros: i64,
    ) -> Result<Result<Via, usize>, crate::store::StoreError> {
        let allowance = |i: usize| {
            let budget = &budgets[i];
            budget.enforced().then(|| budget.allowance()).flatten()
        };
        let store = &self.inner.store;
        if let Some(node) = self.inner.cluster.node() {
            let mut entries = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let seed = self.seed(tenant_id, key).await?;
                entries.push((
                    key.flow_id.clone(),
                    key.period_key.clone(),
                    allowance(i),
                    seed,
                ));
            }
            if let Some(reserved) = node.reserve_spend(tenant_id, &entries, micros).await {
                return Ok(reserved.map(|()| Via::Redis));
            }
            warn!(
                tenant_id,
                "Redis unreachable: reserving model spend in the database"
            );
            let reserved = store.reserve_spend(tenant_id, keys, micros).await?;
            return Ok(reserved
                .map(|()| Via::Database)
                .map_err(|full| keys.iter().position(|k| *k == full).unwrap_or(0)));
        }
        let mut cells = Vec::with_capacity(keys.len());
        for key in keys {
            let id = (
                tenant_id.to_owned(),
                key.flow_id.clone(),
                key.period_key.clone(),
            );
            let cell = self.inner.local.entry(id).or_default().clone();
            let loaded = cell.lock().map(|live| live.is_some()).unwrap_or(false);
            if !loaded {
                let spent = store
                    .spend(tenant_id, &key.flow_id, &key.period_key)
                    .await?
                    .spent_micros;
                if let Ok(mut live) = cell.lock() {
                    live.get_or_insert((spent, 0));
                }
            }
            cells.push(cell);
        }
        let mut guards: Vec<_> = cells
            .iter()
            .map(|cell| cell.lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        for (i, guard) in guards.iter().enumerate() {
            let (spent, reserved) = guard.unwrap_or_default();
            if let Some(allowance) = allowance(i)
                && spent + reserved + micros > allowance
            {
                return Ok(Err(i));
            }
        }
        for guard in &mut guards {
            if let Some((_, reserved)) = guard.as_mut() {
                *reserved += micros;
            }
        }
        Ok(Ok(Via::Local))
    }

    /// The durable spent of a period, re-read at most once a minute.
    async fn seed(&self, tenant_id: &str, key: &SpendKey) -> Result<i64, crate::store::StoreError> {
        let id = (
            tenant_id.to_owned(),
            key.flow_id.clone(),
            key.period_key.clone(),
        );
        if let Some(seed) = self.inner.seeds.get(&id)
            && seed.0.elapsed() < Duration::from_secs(60)
        {
            return Ok(seed.1);
        }
        let spent = self
            .inner
            .store
            .spend(tenant_id, &key.flow_id, &key.period_key)
            .await?
            .spent_micros;
        self.inner.seeds.insert(id, (Instant::now(), spent));
        Ok(spent)
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
        match self
            .reserve_live(&origin.tenant_id, &keys, &budgets, micros)
            .await
        {
            Ok(Ok(via)) => Ok(Some(Reservation {
                micros,
                detail: Box::new(Reserved { keys, budgets, via }),
            })),
            Ok(Err(index)) => {
                let full = keys[index].clone();
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
        match reserved.via {
            Via::Local => {
                for key in &reserved.keys {
                    let id = (
                        tenant_id.clone(),
                        key.flow_id.clone(),
                        key.period_key.clone(),
                    );
                    if let Some(cell) = self.inner.local.get(&id).map(|c| c.clone())
                        && let Ok(mut live) = cell.lock()
                        && let Some((spent, held)) = live.as_mut()
                    {
                        *held = (*held - reservation).max(0);
                        *spent += actual;
                    }
                }
            }
            Via::Redis => {
                if let Some(node) = self.inner.cluster.node() {
                    let entries: Vec<(String, String)> = reserved
                        .keys
                        .iter()
                        .map(|k| (k.flow_id.clone(), k.period_key.clone()))
                        .collect();
                    node.settle_spend(&tenant_id, &entries, reservation, actual)
                        .await;
                }
            }
            Via::Database => {}
        }
        // The database holds reservations only when it made them.
        let held_in_database = if reserved.via == Via::Database {
            reservation
        } else {
            0
        };
        let after = match store
            .settle_spend(
                &tenant_id,
                &reserved.keys,
                held_in_database,
                actual,
                &call_id,
            )
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
