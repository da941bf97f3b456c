//! Erasure and retention: deleting what end users said, for good.
//!
//! A conversation is erased by its own actor (the single writer), under its fence: its
//! events, dedup marks, outbox rows and the conversation row go in one transaction. Model
//! call rows stay, because they hold counts and cost, never text, and billing and
//! analytics must not change when a conversation is erased. Retention deletes a tenant's
//! events older than its period, and purges soft-deleted tenants, in bounded batches so
//! that the single SQLite writer is never held for long.

use sqlx::Connection;

use super::events::check_fence;
use super::{Store, StoreError};

/// A tenant's tables, children first, each with the key a purge batch selects rows by:
/// purging a deleted tenant walks them in this order, a batch at a time. `None`: a table
/// with a few rows per tenant at most, deleted in one statement.
const TENANT_TABLES: [(&str, Option<&str>); 39] = [
    ("events", Some("conversation_id, seq")),
    ("inbound_dedup", Some("tenant_id, source, dedup_key")),
    ("outbox", Some("message_id")),
    ("conversations", Some("id")),
    ("model_calls", Some("id")),
    ("model_usage_daily", Some("tenant_id, day, flow_id, model")),
    (
        "analytics_conversations",
        Some("tenant_id, conversation_id"),
    ),
    (
        "analytics_daily",
        Some("tenant_id, day, flow_id, flow_version, channel"),
    ),
    (
        "analytics_state_daily",
        Some("tenant_id, day, flow_id, flow_version, channel, state"),
    ),
    (
        "analytics_latency_daily",
        Some("tenant_id, day, flow_id, flow_version, channel, metric, bucket"),
    ),
    ("analytics_watermarks", None),
    ("experiments", None),
    ("credit_ledger", Some("id")),
    ("alert_deliveries", Some("id")),
    ("audit_log", Some("id")),
    ("flow_versions", Some("tenant_id, flow_id, version")),
    ("flow_test_cases", Some("tenant_id, flow_id, name")),
    ("flow_previews", Some("tenant_id, flow_id, version")),
    ("knowledge_chunks", Some("tenant_id, chunk_id")),
    ("knowledge_documents", Some("tenant_id, kb, doc_id")),
    ("knowledge_bases", None),
    ("knowledge_generations", None),
    ("flows", None),
    ("api_keys", None),
    ("adaptors", None),
    ("channel_accounts", None),
    ("widget_settings", None),
    ("budgets", None),
    ("budget_spend", None),
    ("budget_alerts_sent", None),
    ("alert_hooks", None),
    ("model_limits", None),
    ("tenant_providers", None),
    ("tenant_routes", None),
    ("tenant_prices", None),
    ("tenant_retention", None),
    ("agents", None),
    ("agent_queues", None),
    ("tenants", None),
];

impl Store {
    /// Deletes a conversation and everything said in it, for the writer holding `fence`.
    /// False when there was no such conversation.
    pub async fn erase_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        fence: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await?;
        let mut tx = conn.begin().await?;
        match check_fence(&mut tx, tenant_id, conversation_id, fence).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(other) => return Err(other),
        }
        for sql in [
            "DELETE FROM events WHERE tenant_id = $1 AND conversation_id = $2",
            "DELETE FROM inbound_dedup WHERE tenant_id = $1 AND conversation_id = $2",
            "DELETE FROM outbox WHERE tenant_id = $1 AND conversation_id = $2",
            "DELETE FROM conversations WHERE tenant_id = $1 AND id = $2",
        ] {
            sqlx::query(sql)
                .bind(tenant_id)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ids of an end user's conversations on a channel (`webchat`, `whatsapp` …).
    pub async fn conversations_of_user(
        &self,
        tenant_id: &str,
        channel: &str,
        external_user: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM conversations WHERE tenant_id = $1 AND channel = $2 \
             AND external_user = $3 ORDER BY created_at",
        )
        .bind(tenant_id)
        .bind(channel)
        .bind(external_user)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// A tenant's own retention period in days, when it set one.
    pub async fn tenant_retention(&self, tenant_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT event_days FROM tenant_retention WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(days,)| days))
    }

    /// Sets (`Some`) or clears (`None`: the configured default applies) a tenant's period.
    pub async fn set_tenant_retention(
        &self,
        tenant_id: &str,
        event_days: Option<i64>,
    ) -> Result<(), StoreError> {
        match event_days {
            Some(days) => {
                sqlx::query(
                    "INSERT INTO tenant_retention (tenant_id, event_days, updated_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (tenant_id) \
                     DO UPDATE SET event_days = $2, updated_at = $3",
                )
                .bind(tenant_id)
                .bind(days)
                .bind(super::now_ms())
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM tenant_retention WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    /// Every tenant's retention period: its own, else `default_days` (0: keep forever,
    /// left out).
    pub async fn retention_periods(
        &self,
        default_days: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT t.id, r.event_days FROM tenants t \
             LEFT JOIN tenant_retention r ON r.tenant_id = t.id ORDER BY t.id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(tenant, days)| (tenant, days.unwrap_or(default_days)))
            .filter(|(_, days)| *days > 0)
            .collect())
    }

    /// Deletes up to `limit` of the tenant's events stored before `cutoff_ms`, oldest
    /// first, with the dedup marks of that age. Returns how many events went.
    pub async fn delete_events_before(
        &self,
        tenant_id: &str,
        cutoff_ms: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM events WHERE (conversation_id, seq) IN (SELECT conversation_id, seq \
             FROM events WHERE tenant_id = $1 AND created_at < $2 ORDER BY created_at LIMIT $3)",
        )
        .bind(tenant_id)
        .bind(cutoff_ms)
        .bind(limit)
        .execute(&self.writer)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM inbound_dedup WHERE (tenant_id, source, dedup_key) IN \
             (SELECT tenant_id, source, dedup_key FROM inbound_dedup \
              WHERE tenant_id = $1 AND created_at < $2 LIMIT $3)",
        )
        .bind(tenant_id)
        .bind(cutoff_ms)
        .bind(limit)
        .execute(&self.writer)
        .await?;
        Ok(deleted)
    }

    /// Deletes up to `limit` rows of a tenant that is gone for good, children first, the
    /// tenant row last. Returns how many rows went; 0 once nothing of it is left.
    pub async fn purge_tenant(&self, tenant_id: &str, limit: i64) -> Result<u64, StoreError> {
        for (table, key) in TENANT_TABLES {
            let column = if table == "tenants" {
                "id"
            } else {
                "tenant_id"
            };
            let sql = match key {
                Some(key) => format!(
                    "DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} \
                     WHERE {column} = $1 LIMIT $2)"
                ),
                None => format!("DELETE FROM {table} WHERE {column} = $1 AND $2 > 0"),
            };
            let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant_id)
                .bind(limit)
                .execute(&self.writer)
                .await?
                .rows_affected();
            if deleted > 0 {
                return Ok(deleted);
            }
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseConfig;

    /// A table with a `tenant_id` that the purge does not know would keep a deleted
    /// tenant's rows (and its foreign keys would stop the purge at `tenants`).
    #[tokio::test]
    async fn the_purge_knows_every_tenant_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&DatabaseConfig {
            url,
            ..DatabaseConfig::default()
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' \
             AND name NOT LIKE 'sqlite%'",
        )
        .fetch_all(&store.reader)
        .await
        .unwrap();
        assert!(tables.len() >= TENANT_TABLES.len(), "{tables:?}");
        let mut missing = Vec::new();
        for (table,) in tables {
            let columns: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(&store.reader)
            .await
            .unwrap();
            let owned = columns.iter().any(|(c,)| c == "tenant_id");
            if owned && !TENANT_TABLES.iter().any(|(t, _)| *t == table) {
                missing.push(table);
            }
        }
        assert!(
            missing.is_empty(),
            "not purged with their tenant: {missing:?}"
        );
    }
}
