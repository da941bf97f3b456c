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
    /// 1 when this tenant's adaptors may call private and loopback addresses.
    pub allow_private_adaptors: i64,
    pub created_at: i64,
    /// The tenant's model, overriding `llm.model`.
    pub llm_model: Option<String>,
}

impl TenantRow {
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }

    pub fn allows_private_adaptors(&self) -> bool {
        self.allow_private_adaptors != 0
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
            "SELECT id, name, entry_flow, allowed_origins, allow_private_adaptors, created_at, \
             llm_model FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?)
    }
}

/// The settings of a tenant being created.
#[derive(Debug, Clone)]
pub struct NewTenant<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub entry_flow: &'a str,
    pub allowed_origins: &'a [String],
    pub allow_private_adaptors: bool,
    pub llm_model: Option<&'a str>,
}

impl Store {
    /// Creates a tenant; false when the id is taken.
    pub async fn create_tenant(&self, new: &NewTenant<'_>) -> Result<bool, StoreError> {
        let origins = serde_json::to_string(new.allowed_origins).unwrap_or_else(|_| "[]".into());
        let created = sqlx::query(
            "INSERT INTO tenants (id, name, entry_flow, allowed_origins, allow_private_adaptors, \
             created_at, llm_model) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.name)
        .bind(new.entry_flow)
        .bind(origins)
        .bind(i64::from(new.allow_private_adaptors))
        .bind(now_ms())
        .bind(new.llm_model)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(created == 1)
    }

    /// Every tenant, for the operator (bootstrap key) only.
    pub async fn list_tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, entry_flow, allowed_origins, allow_private_adaptors, created_at, \
             llm_model FROM tenants ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    /// Lets (or stops) a tenant's adaptors call private addresses. Operator only.
    pub async fn set_allow_private_adaptors(
        &self,
        id: &str,
        allow: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET allow_private_adaptors = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::from(allow))
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
