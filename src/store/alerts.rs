//! Alert webhooks and their delivery outbox.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertHookRow {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    /// JSON array of event types; empty: all.
    pub events: String,
    pub secret_encrypted: String,
    pub created_at: i64,
    pub created_by: String,
}

impl AlertHookRow {
    /// Whether the hook wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        let events: Vec<String> = serde_json::from_str(&self.events).unwrap_or_default();
        events.is_empty() || events.iter().any(|e| e == event)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertDeliveryRow {
    pub id: String,
    pub tenant_id: String,
    pub hook_id: String,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const HOOK_COLUMNS: &str = "id, tenant_id, url, events, secret_encrypted, created_at, created_by";
const DELIVERY_COLUMNS: &str = "id, tenant_id, hook_id, event, payload, status, attempts, \
    next_attempt_at, last_status, last_error, created_at, delivered_at";

impl Store {
    pub async fn create_alert_hook(&self, hook: &AlertHookRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_hooks (id, tenant_id, url, events, secret_encrypted, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&hook.id)
        .bind(&hook.tenant_id)
        .bind(&hook.url)
        .bind(&hook.events)
        .bind(&hook.secret_encrypted)
        .bind(hook.created_at)
        .bind(&hook.created_by)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn alert_hooks(&self, tenant_id: &str) -> Result<Vec<AlertHookRow>, StoreError> {
        Ok(sqlx::query_as::<_, AlertHookRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {HOOK_COLUMNS} FROM alert_hooks WHERE tenant_id = $1 ORDER BY created_at, id"
        )))
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Every tenant's hooks (for events that are not one tenant's, like a breaker).
    pub async fn all_alert_hooks(&self) -> Result<Vec<AlertHookRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AlertHookRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {HOOK_COLUMNS} FROM alert_hooks ORDER BY tenant_id, created_at, id"
            )))
            .fetch_all(&self.reader)
            .await?,
        )
    }

    pub async fn alert_hook(&self, id: &str) -> Result<Option<AlertHookRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AlertHookRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {HOOK_COLUMNS} FROM alert_hooks WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?,
        )
    }

    /// True when the tenant had that hook.
    pub async fn delete_alert_hook(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM alert_hooks WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Queues one delivery per hook, in one transaction.
    pub async fn queue_alert(
        &self,
        tenant_id: &str,
        hook_ids: &[String],
        event: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        for hook_id in hook_ids {
            sqlx::query(
                "INSERT INTO alert_deliveries (id, tenant_id, hook_id, event, payload, status, \
                 attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
            )
            .bind(crate::transcript::new_id())
            .bind(tenant_id)
            .bind(hook_id)
            .bind(event)
            .bind(payload)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Pending deliveries due by `now`, oldest first.
    pub async fn due_alerts(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<AlertDeliveryRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AlertDeliveryRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
            )))
            .bind(now)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?,
        )
    }

    /// The earliest time a pending delivery is due, if any.
    pub async fn next_alert_due(&self) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(next_attempt_at) FROM alert_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(row.0)
    }

    /// Claims a due delivery for `lease_ms`: true when this caller got it.
    pub async fn claim_alert(
        &self,
        id: &str,
        seen_next_attempt_at: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_deliveries SET next_attempt_at = $3 \
             WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2",
        )
        .bind(id)
        .bind(seen_next_attempt_at)
        .bind(until)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records an attempt: delivered, retried at `next_attempt_at`, or given up (`failed`).
    pub async fn record_alert_attempt(
        &self,
        id: &str,
        status: &str,
        next_attempt_at: i64,
        last_status: Option<i64>,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        let delivered_at = (status == "delivered").then(now_ms);
        sqlx::query(
            "UPDATE alert_deliveries SET status = $2, attempts = attempts + 1, \
             next_attempt_at = $3, last_status = $4, last_error = $5, delivered_at = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(next_attempt_at)
        .bind(last_status)
        .bind(last_error)
        .bind(delivered_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tenant's newest deliveries first.
    pub async fn alert_deliveries(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<AlertDeliveryRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, AlertDeliveryRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE tenant_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
            )))
            .bind(tenant_id)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?,
        )
    }
}
