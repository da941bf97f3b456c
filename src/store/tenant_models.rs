//! A tenant's own model providers and routes.

use super::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantProviderRow {
    pub tenant_id: String,
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub api_version: String,
    pub api_key_encrypted: Option<String>,
    pub updated_at: i64,
    pub updated_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantRouteRow {
    pub tenant_id: String,
    pub name: String,
    /// JSON array of `provider:model`.
    pub targets: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Store {
    /// The tenant's price overrides (JSON), if any.
    pub async fn tenant_prices(&self, tenant_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT prices FROM tenant_prices WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(prices,)| prices))
    }

    /// Replaces the tenant's price overrides (`None` removes them).
    pub async fn put_tenant_prices(
        &self,
        tenant_id: &str,
        prices: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        match prices {
            Some(prices) => {
                sqlx::query(
                    "INSERT INTO tenant_prices (tenant_id, prices, updated_at, updated_by) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
                     prices = excluded.prices, updated_at = excluded.updated_at, \
                     updated_by = excluded.updated_by",
                )
                .bind(tenant_id)
                .bind(prices)
                .bind(super::now_ms())
                .bind(actor)
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM tenant_prices WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn tenant_providers(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<TenantProviderRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantProviderRow>(
            "SELECT tenant_id, name, kind, base_url, api_version, api_key_encrypted, updated_at, \
             updated_by FROM tenant_providers WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Creates or replaces a provider; `api_key_encrypted: None` keeps the stored key.
    pub async fn put_tenant_provider(&self, row: &TenantProviderRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenant_providers (tenant_id, name, kind, base_url, api_version, \
             api_key_encrypted, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET kind = excluded.kind, \
             base_url = excluded.base_url, api_version = excluded.api_version, \
             api_key_encrypted = COALESCE(excluded.api_key_encrypted, tenant_providers.api_key_encrypted), \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(&row.tenant_id)
        .bind(&row.name)
        .bind(&row.kind)
        .bind(&row.base_url)
        .bind(&row.api_version)
        .bind(row.api_key_encrypted.as_deref())
        .bind(row.updated_at)
        .bind(&row.updated_by)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_tenant_provider(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tenant_providers WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn tenant_routes(&self, tenant_id: &str) -> Result<Vec<TenantRouteRow>, StoreError> {
        Ok(sqlx::query_as::<_, TenantRouteRow>(
            "SELECT tenant_id, name, targets, updated_at, updated_by FROM tenant_routes \
             WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }

    pub async fn put_tenant_route(&self, row: &TenantRouteRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tenant_routes (tenant_id, name, targets, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, name) DO UPDATE SET \
             targets = excluded.targets, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(&row.tenant_id)
        .bind(&row.name)
        .bind(&row.targets)
        .bind(row.updated_at)
        .bind(&row.updated_by)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_tenant_route(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tenant_routes WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
