//! A tenant's rate limits on model calls.

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelLimitsRow {
    pub tenant_id: String,
    pub requests_per_minute: Option<i64>,
    pub tokens_per_minute: Option<i64>,
    /// `wait` or `message`.
    pub on_limit: String,
    pub max_wait_ms: i64,
    pub message: Option<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Store {
    pub async fn model_limits(
        &self,
        tenant_id: &str,
    ) -> Result<Option<ModelLimitsRow>, StoreError> {
        Ok(sqlx::query_as::<_, ModelLimitsRow>(
            "SELECT tenant_id, requests_per_minute, tokens_per_minute, on_limit, max_wait_ms, \
             message, updated_at, updated_by FROM model_limits WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.reader)
        .await?)
    }

    pub async fn put_model_limits(&self, row: &ModelLimitsRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO model_limits (tenant_id, requests_per_minute, tokens_per_minute, on_limit, \
             max_wait_ms, message, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id) DO UPDATE SET requests_per_minute = excluded.requests_per_minute, \
             tokens_per_minute = excluded.tokens_per_minute, on_limit = excluded.on_limit, \
             max_wait_ms = excluded.max_wait_ms, message = excluded.message, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(&row.tenant_id)
        .bind(row.requests_per_minute)
        .bind(row.tokens_per_minute)
        .bind(&row.on_limit)
        .bind(row.max_wait_ms)
        .bind(row.message.as_deref())
        .bind(row.updated_at)
        .bind(&row.updated_by)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_model_limits(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM model_limits WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
