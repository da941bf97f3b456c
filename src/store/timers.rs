//! Durable timers (`conversations.timer_due_at`): finding the due ones and claiming them,
//! one node per claim window. A deleted tenant's timers wait (restored, it gets them). The turn that consumes a timer clears it in its own commit
//! (`TurnState::timer_due_at`), so a claim that was delivered and acted on is gone, and
//! one whose node died lapses and is claimed again.

use super::{Store, StoreError};

/// A claimed timer, to deliver to its conversation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DueTimer {
    pub tenant_id: String,
    pub conversation_id: String,
    pub due_at: i64,
}

impl Store {
    /// Claims up to `limit` timers due at `now` that no node holds, for `claim_ms`.
    pub async fn claim_due_timers(
        &self,
        now: i64,
        claim_ms: i64,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let due: Vec<DueTimer> = sqlx::query_as(
            "SELECT c.tenant_id, c.id AS conversation_id, c.timer_due_at AS due_at \
             FROM conversations c JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.timer_due_at IS NOT NULL AND c.timer_due_at <= $1 \
               AND (c.timer_claimed_until IS NULL OR c.timer_claimed_until < $1) \
               AND t.deleted_at IS NULL \
             ORDER BY c.timer_due_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for timer in due {
            // Only one node's update finds the timer unclaimed (and unchanged).
            let won = sqlx::query(
                "UPDATE conversations SET timer_claimed_until = $4 \
                 WHERE tenant_id = $1 AND id = $2 AND timer_due_at = $3 \
                   AND (timer_claimed_until IS NULL OR timer_claimed_until < $5)",
            )
            .bind(&timer.tenant_id)
            .bind(&timer.conversation_id)
            .bind(timer.due_at)
            .bind(now + claim_ms)
            .bind(now)
            .execute(&self.writer)
            .await?
            .rows_affected();
            if won == 1 {
                claimed.push(timer);
            }
        }
        Ok(claimed)
    }
}
