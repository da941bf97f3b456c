//! The audit log: who changed what, when. Written after every successful admin write.

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub tenant_id: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// JSON object with the specifics (never secrets).
    pub details: String,
    pub created_at: i64,
}

impl Store {
    pub async fn audit(
        &self,
        tenant_id: &str,
        actor: &str,
        action: &str,
        target: &str,
        details: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, actor, action, target, details, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::transcript::new_id())
        .bind(tenant_id)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(details.to_string())
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The newest entries first.
    pub async fn list_audit(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT id, tenant_id, actor, action, target, details, created_at FROM audit_log \
             WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }
}
