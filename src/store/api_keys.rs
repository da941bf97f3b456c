//! Admin API keys. Only the SHA-256 of a key is stored; the key is shown once at creation.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, name, role, prefix, created_at, created_by, revoked_at";

#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub created_by: &'a str,
}

impl Store {
    pub async fn insert_api_key(&self, key: &NewApiKey<'_>) -> Result<i64, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at, \
             created_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(key.name)
        .bind(key.role)
        .bind(key.key_hash)
        .bind(key.prefix)
        .bind(now)
        .bind(key.created_by)
        .execute(&self.writer)
        .await?;
        Ok(now)
    }

    /// The live key with this hash: not revoked, of a tenant not deleted.
    pub async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL \
             AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = api_keys.tenant_id \
             AND t.deleted_at IS NULL)"
        );
        Ok(sqlx::query_as::<_, ApiKeyRow>(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.reader)
            .await?)
    }

    pub async fn list_api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        Ok(sqlx::query_as::<_, ApiKeyRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(&self.reader)
            .await?)
    }

    /// Revokes a key; false when the tenant has no such live key.
    pub async fn revoke_api_key(&self, tenant_id: &str, id: &str) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(revoked == 1)
    }
}
