//! Handed-off conversations in their queues: the inbox views, assignment with capacity,
//! transfer and requeue, and the response-time (SLA) breaches.
//!
//! A conversation's turn writes put it in a queue and take it out
//! (`conversations.handoff_queue`, see `events.rs`); between those turns this file moves
//! it: to an agent, to another queue, back to its queue. Assignment takes the agent's
//! row first (an update), so on PostgreSQL two assignments to one agent wait for each
//! other and the second counts the first: capacity holds under concurrent handoffs. The
//! conversation is assigned only if it is still waiting (or still with the agent the
//! caller saw), so two nodes never both win it.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, now_ms};

/// A conversation in human mode, as an agent's inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct HandoffRow {
    pub conversation_id: String,
    pub channel: String,
    pub external_user: String,
    pub flow_id: String,
    pub queue: String,
    /// The agent it is assigned to; none while it waits in its queue.
    pub agent_id: Option<String>,
    /// When it was handed off (ms).
    pub since: i64,
    pub assigned_at: Option<i64>,
    /// Since when the user waits for an agent's reply; none once answered.
    pub waiting_since: Option<i64>,
    pub last_seq: i64,
}

const HANDOFF_COLUMNS: &str = "id AS conversation_id, channel, external_user, flow_id, \
     handoff_queue AS queue, handoff_agent AS agent_id, handoff_since AS since, \
     handoff_assigned_at AS assigned_at, handoff_waiting_since AS waiting_since, last_seq";

/// Which handed-off conversations an inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxView {
    /// Waiting in one of the agent's queues, unassigned.
    Unassigned,
    /// Assigned to the agent.
    Mine,
    /// Both.
    All,
}

/// A conversation waiting for an agent, for the assigner.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Waiting {
    pub tenant_id: String,
    pub conversation_id: String,
    pub queue: String,
}

/// A response-time target that was missed, claimed for reporting (once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaBreach {
    pub tenant_id: String,
    pub conversation_id: String,
    pub queue: String,
    pub agent_id: Option<String>,
    pub waiting_since: i64,
    /// True: the first response was late; false: a next response.
    pub first: bool,
    /// The target missed, in seconds.
    pub target_secs: i64,
}

impl Store {
    /// The handed-off conversations an agent of `queues` sees in `view`, oldest first.
    pub async fn inbox(
        &self,
        tenant_id: &str,
        agent_id: &str,
        queues: &[String],
        view: InboxView,
        limit: i64,
    ) -> Result<Vec<HandoffRow>, StoreError> {
        let rows: Vec<HandoffRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM conversations \
             WHERE tenant_id = $1 AND handoff_queue IS NOT NULL \
               AND (handoff_agent = $2 OR handoff_agent IS NULL) \
             ORDER BY handoff_since, id"
        )))
        .bind(tenant_id)
        .bind(agent_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|row| match (&row.agent_id, view) {
                (Some(_), InboxView::Mine | InboxView::All) => true,
                (None, InboxView::Unassigned | InboxView::All) => queues.contains(&row.queue),
                _ => false,
            })
            .take(limit.max(0) as usize)
            .collect())
    }

    /// Every conversation of the tenant with a human now, oldest first.
    pub async fn all_handoffs(
        &self,
        tenant_id: &str,
        limit: i64,
    ) -> Result<Vec<HandoffRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM conversations \
             WHERE tenant_id = $1 AND handoff_queue IS NOT NULL ORDER BY handoff_since, id LIMIT $2"
        )))
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    /// The conversation's place in the queues, if it is with a human.
    pub async fn handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<HandoffRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM conversations \
             WHERE tenant_id = $1 AND id = $2 AND handoff_queue IS NOT NULL"
        )))
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_optional(&self.reader)
        .await?)
    }

    /// Assigns the conversation to `agent_id` if it is still with `current` (`None`:
    /// waiting in its queue) and, with `capacity`, if the agent holds fewer
    /// conversations than that. Returns whether it did.
    pub async fn assign_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        agent_id: &str,
        current: Option<&str>,
        capacity: Option<i64>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        // Takes the agent's row: assignments to one agent happen one after the other.
        let agent = sqlx::query(
            "UPDATE agents SET last_assigned_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant_id)
        .bind(agent_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if agent == 0 {
            return Ok(false);
        }
        if let Some(capacity) = capacity {
            let (load,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND handoff_agent = $2",
            )
            .bind(tenant_id)
            .bind(agent_id)
            .fetch_one(&mut *tx)
            .await?;
            if load >= capacity {
                return Ok(false);
            }
        }
        let assigned = sqlx::query(
            "UPDATE conversations SET handoff_agent = $3, handoff_assigned_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND handoff_queue IS NOT NULL \
               AND (handoff_agent = $5 OR (handoff_agent IS NULL AND $5 IS NULL))",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .bind(agent_id)
        .bind(now)
        .bind(current)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if assigned == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Puts a handed-off conversation (back) into `queue`, unassigned. Returns whether
    /// it was with a human.
    pub async fn requeue_handoff(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        queue: &str,
    ) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE conversations SET handoff_queue = $3, handoff_agent = NULL, \
             handoff_assigned_at = NULL WHERE tenant_id = $1 AND id = $2 \
             AND handoff_queue IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .bind(queue)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Takes every conversation from the agent, back to its queue; returns them as
    /// `(conversation, queue)`.
    pub async fn unassign_agent(
        &self,
        tenant_id: &str,
        agent_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let held: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, handoff_queue FROM conversations \
             WHERE tenant_id = $1 AND handoff_agent = $2 AND handoff_queue IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(agent_id)
        .fetch_all(&self.writer)
        .await?;
        let mut moved = Vec::with_capacity(held.len());
        for (conversation_id, queue) in held {
            let done = sqlx::query(
                "UPDATE conversations SET handoff_agent = NULL, handoff_assigned_at = NULL \
                 WHERE tenant_id = $1 AND id = $2 AND handoff_agent = $3",
            )
            .bind(tenant_id)
            .bind(&conversation_id)
            .bind(agent_id)
            .execute(&self.writer)
            .await?
            .rows_affected();
            if done == 1 {
                moved.push((conversation_id, queue));
            }
        }
        Ok(moved)
    }

    /// Conversations waiting in a queue with no agent, oldest first, across tenants
    /// (the assigner's sweep; deleted tenants' are skipped).
    pub async fn waiting_handoffs(&self, limit: i64) -> Result<Vec<Waiting>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.tenant_id, c.id AS conversation_id, c.handoff_queue AS queue \
             FROM conversations c JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.handoff_queue IS NOT NULL AND c.handoff_agent IS NULL \
               AND t.deleted_at IS NULL \
             ORDER BY c.handoff_since LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    /// `(tenant, agent)` of every agent holding conversations, across tenants.
    pub async fn agents_holding_handoffs(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT tenant_id, handoff_agent FROM conversations \
             WHERE handoff_agent IS NOT NULL",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    /// Claims the response-time breaches due at `now`, each once cluster-wide: a
    /// breach is the wait that began at `waiting_since` outlasting its queue's target.
    pub async fn claim_sla_breaches(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SlaBreach>, StoreError> {
        type Due = (String, String, String, Option<String>, i64, i64, i64);
        let due: Vec<Due> = sqlx::query_as(
            "SELECT c.tenant_id, c.id AS conversation_id, c.handoff_queue AS queue, \
               c.handoff_agent AS agent_id, c.handoff_waiting_since AS waiting_since, \
               CASE WHEN c.handoff_first_reply_at IS NULL THEN 1 ELSE 0 END AS first, \
               CASE WHEN c.handoff_first_reply_at IS NULL THEN q.first_response_secs \
                 ELSE q.next_response_secs END AS target_secs \
             FROM conversations c \
             JOIN agent_queues q ON q.tenant_id = c.tenant_id AND q.name = c.handoff_queue \
             WHERE c.handoff_queue IS NOT NULL AND c.handoff_waiting_since IS NOT NULL \
               AND (c.sla_breach_for IS NULL OR c.sla_breach_for <> c.handoff_waiting_since) \
               AND (CASE WHEN c.handoff_first_reply_at IS NULL THEN q.first_response_secs \
                 ELSE q.next_response_secs END) IS NOT NULL \
               AND c.handoff_waiting_since + 1000 * (CASE WHEN c.handoff_first_reply_at IS NULL \
                 THEN q.first_response_secs ELSE q.next_response_secs END) <= $1 \
             ORDER BY c.handoff_waiting_since LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for (tenant_id, conversation_id, queue, agent_id, waiting_since, first, target_secs) in due
        {
            let breach = SlaBreach {
                tenant_id,
                conversation_id,
                queue,
                agent_id,
                waiting_since,
                first: first == 1,
                target_secs,
            };
            let won = sqlx::query(
                "UPDATE conversations SET sla_breach_for = $3 \
                 WHERE tenant_id = $1 AND id = $2 AND handoff_waiting_since = $3 \
                   AND (sla_breach_for IS NULL OR sla_breach_for <> $3)",
            )
            .bind(&breach.tenant_id)
            .bind(&breach.conversation_id)
            .bind(breach.waiting_since)
            .execute(&self.writer)
            .await?
            .rows_affected();
            if won == 1 {
                claimed.push(breach);
            }
        }
        Ok(claimed)
    }
}
