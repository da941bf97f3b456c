//! Flows and their immutable published versions.
//!
//! A version is never updated once written; activation only moves the flow's
//! `active_version` pointer. Conversations name the exact version they run.

use sqlx::Acquire;

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowVersionRow {
    pub tenant_id: String,
    pub flow_id: String,
    pub version: i64,
    pub content_hash: String,
    /// Canonical JSON of the flow definition.
    pub definition: String,
    /// The YAML the version was published from.
    pub source: String,
    pub author: String,
    pub created_at: i64,
}

const VERSION_COLUMNS: &str =
    "tenant_id, flow_id, version, content_hash, definition, source, author, created_at";

impl Store {
    /// Publishes `source` as the next version of the flow unless the latest version has
    /// the same content hash, then makes that version active. Returns the active version
    /// and whether a new one was written.
    pub async fn publish_and_activate(
        &self,
        tenant_id: &str,
        flow_id: &str,
        content_hash: &str,
        definition_json: &str,
        source: &str,
        author: &str,
    ) -> Result<(i64, bool), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO flows (tenant_id, id, active_version, created_at, updated_at) \
             VALUES ($1, $2, NULL, $3, $3) ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let latest: Option<(i64, String)> = sqlx::query_as(
            "SELECT version, content_hash FROM flow_versions WHERE tenant_id = $1 AND flow_id = $2 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (version, created) = match latest {
            Some((version, hash)) if hash == content_hash => (version, false),
            latest => {
                let version = latest.map_or(1, |(v, _)| v + 1);
                sqlx::query(
                    "INSERT INTO flow_versions (tenant_id, flow_id, version, content_hash, \
                     definition, source, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(tenant_id)
                .bind(flow_id)
                .bind(version)
                .bind(content_hash)
                .bind(definition_json)
                .bind(source)
                .bind(author)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                (version, true)
            }
        };
        sqlx::query(
            "UPDATE flows SET active_version = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((version, created))
    }

    /// The active version of a flow, if it has one.
    pub async fn active_flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Option<FlowVersionRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions v WHERE tenant_id = $1 AND flow_id = $2 \
             AND version = (SELECT active_version FROM flows f WHERE f.tenant_id = $1 AND f.id = $2)"
        );
        Ok(
            sqlx::query_as::<_, FlowVersionRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(flow_id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    /// One exact version of a flow.
    pub async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: i64,
    ) -> Result<Option<FlowVersionRow>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions \
             WHERE tenant_id = $1 AND flow_id = $2 AND version = $3"
        );
        Ok(
            sqlx::query_as::<_, FlowVersionRow>(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(flow_id)
                .bind(version)
                .fetch_optional(&self.reader)
                .await?,
        )
    }
}
