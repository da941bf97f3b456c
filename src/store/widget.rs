//! The web widget's per-tenant settings: today the identity secret, the HS256 key a
//! tenant's backend signs `Switchboard.identify(token)` JWTs with.
//!
//! The store only ever sees the secret sealed by [`crate::secret_box::SecretBox`]; a row
//! exists exactly while a secret is set, so "is one set, and since when" is one lookup.

use super::{Store, StoreError, now_ms};

/// A tenant's widget settings row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WidgetSettingsRow {
    pub tenant_id: String,
    /// AES-256-GCM of the identity secret; never returned by the API.
    pub identity_secret_encrypted: String,
    pub created_at: i64,
    /// When the secret was last set.
    pub updated_at: i64,
}

impl Store {
    /// Sets (or replaces) the tenant's sealed identity secret; true when none was set.
    pub async fn put_widget_identity_secret(
        &self,
        tenant_id: &str,
        sealed: &str,
    ) -> Result<bool, StoreError> {
        let existed = self.widget_settings(tenant_id).await?.is_some();
        sqlx::query(
            "INSERT INTO widget_settings (tenant_id, identity_secret_encrypted, created_at, \
             updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (tenant_id) DO UPDATE \
             SET identity_secret_encrypted = $2, updated_at = $3",
        )
        .bind(tenant_id)
        .bind(sealed)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(!existed)
    }

    /// The tenant's widget settings, when an identity secret is set.
    pub async fn widget_settings(
        &self,
        tenant_id: &str,
    ) -> Result<Option<WidgetSettingsRow>, StoreError> {
        // The writer pool: a hello right after a PUT must see the new secret.
        Ok(sqlx::query_as::<_, WidgetSettingsRow>(
            "SELECT tenant_id, identity_secret_encrypted, created_at, updated_at \
             FROM widget_settings WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.writer)
        .await?)
    }

    /// Removes the tenant's identity secret; false when none was set.
    pub async fn delete_widget_identity_secret(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM widget_settings WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }
}
