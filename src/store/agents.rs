//! Human agents (`agents`) and their queues' response targets (`agent_queues`).
//!
//! An agent belongs to one tenant, serves named queues and takes at most `capacity`
//! conversations at once. Its sign-in token is stored as a SHA-256 digest only. Deleting
//! an agent is soft (`deleted_at`): its token stops working at once and the
//! conversations it held go back to their queues. Every query filters on `tenant_id`,
//! except the token lookup, whose caller has no tenant yet.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, now_ms};

/// A stored agent, with how many conversations it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentRow {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    /// The display name, shown to end users with the agent's messages.
    pub name: String,
    /// The queues the agent serves.
    pub queues: Vec<String>,
    /// The most conversations the agent takes at once.
    pub capacity: i64,
    /// The first characters of the agent's token, to tell tokens apart.
    pub token_prefix: String,
    pub created_at: i64,
    /// Conversations assigned to the agent now.
    pub load: i64,
    /// When the agent was last given a conversation (ms; 0: never), for fair ties.
    #[serde(skip)]
    pub last_assigned_at: i64,
}

impl AgentRow {
    /// True when the agent serves `queue`.
    pub fn serves(&self, queue: &str) -> bool {
        self.queues.iter().any(|q| q == queue)
    }
}

#[derive(sqlx::FromRow)]
struct AgentRecord {
    id: String,
    tenant_id: String,
    name: String,
    queues: String,
    capacity: i64,
    token_prefix: String,
    created_at: i64,
    load: i64,
    last_assigned_at: i64,
}

impl TryFrom<AgentRecord> for AgentRow {
    type Error = StoreError;

    fn try_from(r: AgentRecord) -> Result<Self, StoreError> {
        let queues = serde_json::from_str(&r.queues)
            .map_err(|e| StoreError::Corrupt(format!("agent {} queues: {e}", r.id)))?;
        Ok(Self {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            queues,
            capacity: r.capacity,
            token_prefix: r.token_prefix,
            created_at: r.created_at,
            load: r.load,
            last_assigned_at: r.last_assigned_at,
        })
    }
}

const AGENT_COLUMNS: &str = "a.id, a.tenant_id, a.name, a.queues, a.capacity, a.token_prefix, \
     a.created_at, a.last_assigned_at, (SELECT COUNT(*) FROM conversations c \
       WHERE c.tenant_id = a.tenant_id AND c.handoff_agent = a.id) AS load";

/// An agent about to be stored.
pub struct NewAgent<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub queues: &'a [String],
    pub capacity: i64,
    pub token_hash: &'a str,
    pub token_prefix: &'a str,
}

/// What an update changes; `None` keeps the field.
#[derive(Debug, Default)]
pub struct AgentChanges {
    pub name: Option<String>,
    pub queues: Option<Vec<String>>,
    pub capacity: Option<i64>,
}

/// A queue's response targets, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct QueueRow {
    pub name: String,
    /// How long a handed-off conversation may wait for its first agent reply.
    pub first_response_secs: Option<i64>,
    /// How long a user may wait for the agent's next reply.
    pub next_response_secs: Option<i64>,
}

fn queues_json(queues: &[String]) -> String {
    serde_json::to_string(queues).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn create_agent(&self, new: &NewAgent<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agents (id, tenant_id, name, queues, capacity, token_hash, token_prefix, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id)
        .bind(new.tenant_id)
        .bind(new.name)
        .bind(queues_json(new.queues))
        .bind(new.capacity)
        .bind(new.token_hash)
        .bind(new.token_prefix)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tenant's agents (not deleted), by name.
    pub async fn agents(&self, tenant_id: &str) -> Result<Vec<AgentRow>, StoreError> {
        let rows: Vec<AgentRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents a \
             WHERE a.tenant_id = $1 AND a.deleted_at IS NULL ORDER BY a.name, a.id"
        )))
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(AgentRow::try_from).collect()
    }

    pub async fn agent(&self, tenant_id: &str, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let row: Option<AgentRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents a \
             WHERE a.tenant_id = $1 AND a.id = $2 AND a.deleted_at IS NULL"
        )))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(AgentRow::try_from).transpose()
    }

    /// The agent whose token has this digest, unless it or its tenant was deleted.
    pub async fn agent_by_token_hash(&self, hash: &str) -> Result<Option<AgentRow>, StoreError> {
        let row: Option<AgentRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AGENT_COLUMNS} FROM agents a JOIN tenants t ON t.id = a.tenant_id \
             WHERE a.token_hash = $1 AND a.deleted_at IS NULL AND t.deleted_at IS NULL"
        )))
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(AgentRow::try_from).transpose()
    }

    /// Applies `changes`; false when the agent does not exist.
    pub async fn update_agent(
        &self,
        tenant_id: &str,
        id: &str,
        changes: &AgentChanges,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE agents SET name = COALESCE($3, name), queues = COALESCE($4, queues), \
             capacity = COALESCE($5, capacity) \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(changes.name.as_deref())
        .bind(changes.queues.as_deref().map(queues_json))
        .bind(changes.capacity)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Deletes the agent (softly); the conversations it held go back to their queues
    /// (returned, to record it in their transcripts).
    pub async fn delete_agent(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let deleted = sqlx::query(
            "UPDATE agents SET deleted_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Ok(None);
        }
        Ok(Some(self.unassign_agent(tenant_id, id).await?))
    }

    /// Sets (or clears, with `None`) when the agent was first seen offline while holding
    /// conversations; returns the stored value.
    pub async fn mark_agent_offline(
        &self,
        tenant_id: &str,
        id: &str,
        since: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query(
            "UPDATE agents SET offline_since = CASE WHEN $3 IS NULL THEN NULL \
               ELSE COALESCE(offline_since, $3) END \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(since)
        .execute(&self.writer)
        .await?;
        let (stored,): (Option<i64>,) =
            sqlx::query_as("SELECT offline_since FROM agents WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_one(&self.writer)
                .await?;
        Ok(stored)
    }

    /// Sets a queue's response targets.
    pub async fn put_queue(&self, tenant_id: &str, queue: &QueueRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_queues (tenant_id, name, first_response_secs, next_response_secs) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, name) DO UPDATE SET \
             first_response_secs = $3, next_response_secs = $4",
        )
        .bind(tenant_id)
        .bind(&queue.name)
        .bind(queue.first_response_secs)
        .bind(queue.next_response_secs)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tenant's queues with response targets, by name.
    pub async fn queues(&self, tenant_id: &str) -> Result<Vec<QueueRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, first_response_secs, next_response_secs FROM agent_queues \
             WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?)
    }
}
