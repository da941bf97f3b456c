//! Tenant adaptors: the HTTP call spec (JSON) and its encrypted secret.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdaptorRow {
    pub tenant_id: String,
    pub name: String,
    /// JSON of the adaptor spec.
    pub spec: String,
    /// Encrypted secret; never returned by the API.
    pub secret_encrypted: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What to do with the stored secret on an update.
#[derive(Debug, Clone)]
pub enum SecretUpdate {
    Keep,
    Clear,
    Set(String),
}

const COLUMNS: &str = "tenant_id, name, spec, secret_encrypted, created_at, updated_at";

impl Store {
    /// Creates or replaces an adaptor; true when it was created.
    pub async fn put_adaptor(
        &self,
        tenant_id: &str,
        name: &str,
        spec_json: &str,
        secret: &SecretUpdate,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let existing = self.adaptor(tenant_id, name).await?;
        let secret_value = match (secret, &existing) {
            (SecretUpdate::Keep, Some(row)) => row.secret_encrypted.clone(),
            (SecretUpdate::Keep | SecretUpdate::Clear, _) => None,
            (SecretUpdate::Set(encrypted), _) => Some(encrypted.clone()),
        };
        sqlx::query(
            "INSERT INTO adaptors (tenant_id, name, spec, secret_encrypted, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, name) DO UPDATE \
             SET spec = $3, secret_encrypted = $4, updated_at = $5",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(spec_json)
        .bind(secret_value)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(existing.is_none())
    }

    pub async fn adaptor(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<Option<AdaptorRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM adaptors WHERE tenant_id = $1 AND name = $2");
        Ok(sqlx::query_as::<_, AdaptorRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&self.writer)
            .await?)
    }

    pub async fn list_adaptors(&self, tenant_id: &str) -> Result<Vec<AdaptorRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM adaptors WHERE tenant_id = $1 ORDER BY name");
        Ok(sqlx::query_as::<_, AdaptorRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(&self.reader)
            .await?)
    }

    pub async fn delete_adaptor(&self, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM adaptors WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }
}
