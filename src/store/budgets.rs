//! Budgets, their spend per period, the alerts they raised, and the credit ledger.
//!
//! The live spend is counted in process or in Redis (`governance/budgets.rs`); the
//! database holds the durable record, and admits calls itself only while Redis is
//! unreachable. Then a model call is admitted by [`Store::reserve_spend`]: for every
//! budget that applies,
//! one conditional `UPDATE` adds the call's reservation to `reserved_micros` only if
//! `spent + reserved + reservation` stays within the allowance (read in the same
//! statement, so a top-up on another node counts at once). On PostgreSQL a concurrent
//! update of the row waits and re-checks the condition on the new row, so nodes racing
//! for the last credits cannot both get them. [`Store::settle_spend`] then swaps the
//! reservation for the call's actual cost.

use super::{Store, StoreError, now_ms};

/// A budget as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BudgetRow {
    pub tenant_id: String,
    /// '' for the whole tenant.
    pub flow_id: String,
    /// `day`, `month` or `credits`.
    pub period: String,
    pub limit_micros: Option<i64>,
    /// 1: the limit is enforced before each call; 0: only alerted on.
    pub hard: i64,
    pub credit_micros: i64,
    /// JSON array of percents.
    pub thresholds: String,
    pub message: Option<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

impl BudgetRow {
    /// What may be spent in a period: the limit, or the credits topped up.
    pub fn allowance(&self) -> Option<i64> {
        if self.period == "credits" {
            Some(self.credit_micros)
        } else {
            self.limit_micros
        }
    }

    /// Calls are refused once the allowance is used up (credits always are).
    pub fn enforced(&self) -> bool {
        self.period == "credits" || (self.hard != 0 && self.limit_micros.is_some())
    }
}

/// One budget's spend in one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct SpendRow {
    pub spent_micros: i64,
    pub reserved_micros: i64,
}

/// Which spend row a reservation went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendKey {
    pub flow_id: String,
    pub period_key: String,
    /// The period is prepaid credits: each settled call is also a ledger debit.
    pub credits: bool,
    /// A hard limit applies (else the reservation is only tracked).
    pub limited: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerRow {
    pub id: String,
    pub amount_micros: i64,
    pub kind: String,
    pub actor: String,
    pub note: Option<String>,
    pub reference: Option<String>,
    pub created_at: i64,
}

const BUDGET_COLUMNS: &str = "tenant_id, flow_id, period, limit_micros, hard, credit_micros, \
                              thresholds, message, updated_at, updated_by";

impl Store {
    /// The budgets that apply to a call of `flow_id` (the tenant's and the flow's).
    pub async fn budgets_for(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Vec<BudgetRow>, StoreError> {
        Ok(sqlx::query_as::<_, BudgetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {BUDGET_COLUMNS} FROM budgets \
             WHERE tenant_id = $1 AND (flow_id = '' OR flow_id = $2) ORDER BY flow_id"
        )))
        .bind(tenant_id)
        .bind(flow_id)
        .fetch_all(&self.reader)
        .await?)
    }

    pub async fn list_budgets(&self, tenant_id: &str) -> Result<Vec<BudgetRow>, StoreError> {
        Ok(sqlx::query_as::<_, BudgetRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {BUDGET_COLUMNS} FROM budgets WHERE tenant_id = $1 ORDER BY flow_id"
        )))
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Creates or replaces a budget; a credits budget keeps the credits it has.
    pub async fn put_budget(&self, budget: &BudgetRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO budgets (tenant_id, flow_id, period, limit_micros, hard, credit_micros, \
             thresholds, message, updated_at, updated_by) VALUES ($1, $2, $3, $4, $9, 0, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, flow_id) DO UPDATE SET period = excluded.period, \
             limit_micros = excluded.limit_micros, hard = excluded.hard, \
             thresholds = excluded.thresholds, \
             message = excluded.message, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(&budget.tenant_id)
        .bind(&budget.flow_id)
        .bind(&budget.period)
        .bind(budget.limit_micros)
        .bind(&budget.thresholds)
        .bind(budget.message.as_deref())
        .bind(budget.updated_at)
        .bind(&budget.updated_by)
        .bind(budget.hard)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Removes a budget; true when there was one.
    pub async fn delete_budget(&self, tenant_id: &str, flow_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM budgets WHERE tenant_id = $1 AND flow_id = $2")
            .bind(tenant_id)
            .bind(flow_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `amount` to the tenant's credits and writes the ledger row, in one
    /// transaction. `None` when the tenant has no credits budget.
    pub async fn top_up(
        &self,
        tenant_id: &str,
        amount_micros: i64,
        actor: &str,
        note: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let updated = sqlx::query(
            "UPDATE budgets SET credit_micros = credit_micros + $2 \
             WHERE tenant_id = $1 AND flow_id = '' AND period = 'credits'",
        )
        .bind(tenant_id)
        .bind(amount_micros)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO credit_ledger (id, tenant_id, amount_micros, kind, actor, note, \
             reference, created_at) VALUES ($1, $2, $3, 'topup', $4, $5, NULL, $6)",
        )
        .bind(crate::transcript::new_id())
        .bind(tenant_id)
        .bind(amount_micros)
        .bind(actor)
        .bind(note)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let (total,): (i64,) = sqlx::query_as(
            "SELECT credit_micros FROM budgets WHERE tenant_id = $1 AND flow_id = ''",
        )
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(total))
    }

    /// Reserves `micros` against every key, all or nothing. `Ok(Err(key))` names the
    /// first budget that has no room.
    pub async fn reserve_spend(
        &self,
        tenant_id: &str,
        keys: &[SpendKey],
        micros: i64,
    ) -> Result<Result<(), SpendKey>, StoreError> {
        let mut tx = self.writer.begin().await?;
        for key in keys {
            sqlx::query(
                "INSERT INTO budget_spend (tenant_id, flow_id, period_key, spent_micros, \
                 reserved_micros) VALUES ($1, $2, $3, 0, 0) \
                 ON CONFLICT (tenant_id, flow_id, period_key) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(&key.flow_id)
            .bind(&key.period_key)
            .execute(&mut *tx)
            .await?;
            let sql = if key.limited {
                "UPDATE budget_spend SET reserved_micros = reserved_micros + $4 \
                 WHERE tenant_id = $1 AND flow_id = $2 AND period_key = $3 \
                 AND spent_micros + reserved_micros + $4 <= (SELECT CASE WHEN b.period = 'credits' \
                 THEN b.credit_micros ELSE b.limit_micros END FROM budgets b \
                 WHERE b.tenant_id = $1 AND b.flow_id = $2)"
            } else {
                "UPDATE budget_spend SET reserved_micros = reserved_micros + $4 \
                 WHERE tenant_id = $1 AND flow_id = $2 AND period_key = $3"
            };
            let done = sqlx::query(sql)
                .bind(tenant_id)
                .bind(&key.flow_id)
                .bind(&key.period_key)
                .bind(micros)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Err(key.clone()));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Swaps a reservation for the actual cost; a credits budget gets a ledger debit
    /// naming `reference` (the call). Returns each key's spend afterwards.
    pub async fn settle_spend(
        &self,
        tenant_id: &str,
        keys: &[SpendKey],
        reserved: i64,
        actual: i64,
        reference: &str,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut after = Vec::with_capacity(keys.len());
        for key in keys {
            // The row exists when the database made the reservation; not when it was made
            // in process or in Redis.
            sqlx::query(
                "INSERT INTO budget_spend (tenant_id, flow_id, period_key, spent_micros, \
                 reserved_micros) VALUES ($1, $2, $3, 0, 0) \
                 ON CONFLICT (tenant_id, flow_id, period_key) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(&key.flow_id)
            .bind(&key.period_key)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE budget_spend SET reserved_micros = CASE WHEN reserved_micros >= $4 \
                 THEN reserved_micros - $4 ELSE 0 END, spent_micros = spent_micros + $5 \
                 WHERE tenant_id = $1 AND flow_id = $2 AND period_key = $3",
            )
            .bind(tenant_id)
            .bind(&key.flow_id)
            .bind(&key.period_key)
            .bind(reserved)
            .bind(actual)
            .execute(&mut *tx)
            .await?;
            if key.credits && actual != 0 {
                sqlx::query(
                    "INSERT INTO credit_ledger (id, tenant_id, amount_micros, kind, actor, note, \
                     reference, created_at) VALUES ($1, $2, $3, 'debit', 'model', NULL, $4, $5)",
                )
                .bind(crate::transcript::new_id())
                .bind(tenant_id)
                .bind(-actual)
                .bind(reference)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            let spend = sqlx::query_as::<_, SpendRow>(
                "SELECT spent_micros, reserved_micros FROM budget_spend \
                 WHERE tenant_id = $1 AND flow_id = $2 AND period_key = $3",
            )
            .bind(tenant_id)
            .bind(&key.flow_id)
            .bind(&key.period_key)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or_default();
            after.push(spend);
        }
        tx.commit().await?;
        Ok(after)
    }

    /// A budget's spend in a period (zero when nothing was spent).
    pub async fn spend(
        &self,
        tenant_id: &str,
        flow_id: &str,
        period_key: &str,
    ) -> Result<SpendRow, StoreError> {
        Ok(sqlx::query_as::<_, SpendRow>(
            "SELECT spent_micros, reserved_micros FROM budget_spend \
             WHERE tenant_id = $1 AND flow_id = $2 AND period_key = $3",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(period_key)
        .fetch_optional(&self.reader)
        .await?
        .unwrap_or_default())
    }

    /// Records that a budget's `threshold` alert (0: exhausted) was raised for a period;
    /// false when it already was (on any node).
    pub async fn mark_budget_alert(
        &self,
        tenant_id: &str,
        flow_id: &str,
        period_key: &str,
        threshold: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO budget_alerts_sent (tenant_id, flow_id, period_key, threshold, sent_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, flow_id, period_key, threshold) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(period_key)
        .bind(threshold)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The newest ledger rows first.
    pub async fn credit_ledger(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        Ok(sqlx::query_as::<_, LedgerRow>(
            "SELECT id, amount_micros, kind, actor, note, reference, created_at FROM credit_ledger \
             WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }
}
