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

    /// One exact version of a flow; a negative version is a preview
    /// ([`Store::create_flow_preview`]).
    pub async fn flow_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: i64,
    ) -> Result<Option<FlowVersionRow>, StoreError> {
        let table = if version < 0 {
            "flow_previews"
        } else {
            "flow_versions"
        };
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM {table} \
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

/// A flow's header: its draft and which version is live.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub tenant_id: String,
    pub id: String,
    pub active_version: Option<i64>,
    pub draft_source: Option<String>,
    pub draft_etag: Option<String>,
    pub draft_author: Option<String>,
    pub latest_version: Option<i64>,
    /// 1 when the draft's source is exactly the latest published version's: nothing is
    /// left to publish.
    pub draft_published: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FlowRow {
    /// A draft with changes that are not published yet.
    pub fn has_unpublished_draft(&self) -> bool {
        self.draft_source.is_some() && self.draft_published == 0
    }
}

const FLOW_COLUMNS: &str = "f.tenant_id, f.id, f.active_version, f.draft_source, f.draft_etag, \
    f.draft_author, (SELECT MAX(v.version) FROM flow_versions v WHERE v.tenant_id = f.tenant_id \
    AND v.flow_id = f.id) AS latest_version, \
    CASE WHEN EXISTS (SELECT 1 FROM flow_versions p WHERE p.tenant_id = f.tenant_id \
    AND p.flow_id = f.id AND p.source = f.draft_source AND p.version = (SELECT MAX(l.version) \
    FROM flow_versions l WHERE l.tenant_id = f.tenant_id AND l.flow_id = f.id)) \
    THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS draft_published, \
    f.created_at, f.updated_at";

/// What saving a draft did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftOutcome {
    Saved {
        created: bool,
    },
    /// `If-Match` named another version of the draft; nothing was written.
    EtagMismatch {
        current: Option<String>,
    },
}

impl Store {
    /// Live (not deleted) flows of a tenant.
    pub async fn list_flows(&self, tenant_id: &str) -> Result<Vec<FlowRow>, StoreError> {
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM flows f WHERE f.tenant_id = $1 AND f.deleted_at IS NULL \
             ORDER BY f.id"
        );
        Ok(sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch_all(&self.reader)
            .await?)
    }

    pub async fn flow(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Option<FlowRow>, StoreError> {
        let sql = format!(
            "SELECT {FLOW_COLUMNS} FROM flows f WHERE f.tenant_id = $1 AND f.id = $2 \
             AND f.deleted_at IS NULL"
        );
        Ok(sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_optional(&self.writer)
            .await?)
    }

    /// Saves the draft. With `if_match`, only when the current draft's etag equals it
    /// (`*` matches any existing draft). A deleted flow comes back to life.
    pub async fn save_draft(
        &self,
        tenant_id: &str,
        flow_id: &str,
        source: &str,
        etag: &str,
        author: &str,
        if_match: Option<&str>,
    ) -> Result<DraftOutcome, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        let current: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT draft_etag, deleted_at FROM flows WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .fetch_optional(&mut *tx)
        .await?;
        let live_etag = match &current {
            Some((etag, None)) => etag.clone(),
            _ => None,
        };
        if let Some(expected) = if_match {
            let matches = match &live_etag {
                Some(current) => expected == "*" || expected == current,
                None => false,
            };
            if !matches {
                return Ok(DraftOutcome::EtagMismatch { current: live_etag });
            }
        }
        let now = now_ms();
        let created = current
            .as_ref()
            .is_none_or(|(_, deleted)| deleted.is_some());
        sqlx::query(
            "INSERT INTO flows (tenant_id, id, active_version, created_at, updated_at, draft_source, \
             draft_etag, draft_author, deleted_at) VALUES ($1, $2, NULL, $3, $3, $4, $5, $6, NULL) \
             ON CONFLICT (tenant_id, id) DO UPDATE SET draft_source = $4, draft_etag = $5, \
             draft_author = $6, updated_at = $3, deleted_at = NULL",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(now)
        .bind(source)
        .bind(etag)
        .bind(author)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DraftOutcome::Saved { created })
    }

    /// Publishes an immutable new version (or returns the latest one unchanged when its
    /// content hash is the same). Returns the version and whether it was created.
    pub async fn publish_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        content_hash: &str,
        definition_json: &str,
        source: &str,
        author: &str,
    ) -> Result<(FlowVersionRow, bool), StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        // Flows loaded from files (the demo) have no draft row yet.
        sqlx::query(
            "INSERT INTO flows (tenant_id, id, active_version, created_at, updated_at) \
             VALUES ($1, $2, NULL, $3, $3) ON CONFLICT (tenant_id, id) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions WHERE tenant_id = $1 AND flow_id = $2 \
             ORDER BY version DESC LIMIT 1"
        );
        let latest = sqlx::query_as::<_, FlowVersionRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(latest) = latest.as_ref().filter(|v| v.content_hash == content_hash) {
            return Ok((latest.clone(), false));
        }
        let row = FlowVersionRow {
            tenant_id: tenant_id.to_string(),
            flow_id: flow_id.to_string(),
            version: latest.map_or(1, |v| v.version + 1),
            content_hash: content_hash.to_string(),
            definition: definition_json.to_string(),
            source: source.to_string(),
            author: author.to_string(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO flow_versions (tenant_id, flow_id, version, content_hash, definition, \
             source, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.tenant_id)
        .bind(&row.flow_id)
        .bind(row.version)
        .bind(&row.content_hash)
        .bind(&row.definition)
        .bind(&row.source)
        .bind(&row.author)
        .bind(row.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE flows SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(flow_id)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((row, true))
    }

    /// Stores a preview of a flow text (for the console's live widget) and returns its
    /// version: the next one down from -1. Previews are not versions: they are never
    /// listed, activated or published.
    pub async fn create_flow_preview(
        &self,
        tenant_id: &str,
        flow_id: &str,
        content_hash: &str,
        definition_json: &str,
        source: &str,
        author: &str,
    ) -> Result<i64, StoreError> {
        // Two previews made at once may pick the same number: the second tries the next.
        for _ in 0..5 {
            let (lowest,): (Option<i64>,) = sqlx::query_as(
                "SELECT MIN(version) FROM flow_previews WHERE tenant_id = $1 AND flow_id = $2",
            )
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_one(&self.writer)
            .await?;
            let version = lowest.unwrap_or(0).min(0) - 1;
            let inserted = sqlx::query(
                "INSERT INTO flow_previews (tenant_id, flow_id, version, content_hash, definition, \
                 source, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(flow_id)
            .bind(version)
            .bind(content_hash)
            .bind(definition_json)
            .bind(source)
            .bind(author)
            .bind(now_ms())
            .execute(&self.writer)
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(version);
            }
        }
        Err(StoreError::Conflict(
            "previews of this flow are being made too fast; try again".into(),
        ))
    }

    /// Makes `version` the live one; false when the flow has no such version.
    pub async fn activate_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE flows SET active_version = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 \
             AND deleted_at IS NULL AND EXISTS (SELECT 1 FROM flow_versions v WHERE \
             v.tenant_id = $1 AND v.flow_id = $2 AND v.version = $3)",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(version)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Every version of a flow, newest first (without definitions and sources).
    pub async fn list_versions(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Vec<FlowVersionRow>, StoreError> {
        Ok(sqlx::query_as::<_, FlowVersionRow>(
            "SELECT tenant_id, flow_id, version, content_hash, '' AS definition, '' AS source, \
             author, created_at FROM flow_versions WHERE tenant_id = $1 AND flow_id = $2 \
             ORDER BY version DESC",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Hides a flow and its draft; its versions stay for running conversations.
    pub async fn delete_flow(&self, tenant_id: &str, flow_id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "UPDATE flows SET deleted_at = $3, active_version = NULL, draft_source = NULL, \
             draft_etag = NULL WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(deleted == 1)
    }
}
