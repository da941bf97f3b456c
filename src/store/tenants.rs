//! Tenants: the companies whose bots run here.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    /// The flow a new conversation starts.
    pub entry_flow: String,
    /// JSON array of origins allowed to open the widget socket; empty allows any.
    pub allowed_origins: String,
    pub created_at: i64,
}

impl TenantRow {
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

impl Store {
    /// Creates the tenant, or updates its name, entry flow and origins.
    pub async fn upsert_tenant(
        &self,
        id: &str,
        name: &str,
        entry_flow: &str,
        allowed_origins: &[String],
    ) -> Result<(), StoreError> {
        let origins = serde_json::to_string(allowed_origins).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO tenants (id, name, entry_flow, allowed_origins, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET name = $2, entry_flow = $3, allowed_origins = $4",
        )
        .bind(id)
        .bind(name)
        .bind(entry_flow)
        .bind(origins)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<TenantRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, entry_flow, allowed_origins, created_at FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?)
    }
}
