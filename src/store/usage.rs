//! Metered model calls: stored one row each, and summed per day, flow and model in the
//! same transaction so that a month's usage reads a few rows, not every call.

use super::{Store, StoreError};
use crate::llm::ModelCall;

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;

/// How usage is summed in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGrouping {
    Day,
    Flow,
    Model,
    State,
    Conversation,
}

/// One line of a usage report: a group's key and its sums.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageLine {
    /// The day (days since the Unix epoch, as text), flow, model, state or conversation;
    /// '' for calls outside a flow.
    pub key: String,
    pub calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_micros: i64,
}

/// A stored call, as the admin API lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelCallRow {
    pub id: String,
    pub conversation_id: Option<String>,
    pub flow_id: Option<String>,
    pub flow_version: Option<i64>,
    pub state: Option<String>,
    pub channel: Option<String>,
    pub kind: String,
    pub provider: String,
    pub model: String,
    pub attempt: i64,
    pub outcome: String,
    pub error_code: Option<String>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub usage_source: String,
    pub first_token_ms: Option<i64>,
    pub latency_ms: i64,
    pub cost_micros: i64,
    pub started_at: i64,
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores `calls` and adds them to the daily sums, all or nothing. Idempotent: a call
    /// already stored (a retry after a commit whose answer was lost) is skipped, and is
    /// not added to the sums twice.
    pub async fn record_model_calls(&self, calls: &[ModelCall]) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for call in calls {
            let origin = &call.origin;
            let inserted = sqlx::query(
                "INSERT INTO model_calls (id, tenant_id, conversation_id, flow_id, flow_version, \
                 state, channel, kind, provider, model, attempt, outcome, error_code, tokens_in, \
                 tokens_out, usage_source, first_token_ms, latency_ms, cost_micros, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&call.id)
            .bind(&origin.tenant_id)
            .bind(origin.conversation_id.as_deref())
            .bind(origin.flow_id.as_deref())
            .bind(origin.flow_version)
            .bind(origin.state.as_deref())
            .bind(origin.channel.as_deref())
            .bind(call.kind.as_str())
            .bind(&call.provider)
            .bind(&call.model)
            .bind(i64::from(call.attempt))
            .bind(call.outcome.as_str())
            .bind(call.error_code)
            .bind(clamp(call.usage.tokens_in))
            .bind(clamp(call.usage.tokens_out))
            .bind(call.usage_source.as_str())
            .bind(call.first_token_ms.map(clamp))
            .bind(clamp(call.latency_ms))
            .bind(call.cost_micros)
            .bind(call.started_at)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                continue; // stored by an earlier attempt
            }
            sqlx::query(
                "INSERT INTO model_usage_daily (tenant_id, day, flow_id, model, calls, tokens_in, \
                 tokens_out, cost_micros) VALUES ($1, $2, $3, $4, 1, $5, $6, $7) \
                 ON CONFLICT (tenant_id, day, flow_id, model) DO UPDATE SET \
                 calls = model_usage_daily.calls + 1, \
                 tokens_in = model_usage_daily.tokens_in + excluded.tokens_in, \
                 tokens_out = model_usage_daily.tokens_out + excluded.tokens_out, \
                 cost_micros = model_usage_daily.cost_micros + excluded.cost_micros",
            )
            .bind(&origin.tenant_id)
            .bind(call.started_at.div_euclid(DAY_MS))
            .bind(origin.flow_id.as_deref().unwrap_or(""))
            .bind(&call.model)
            .bind(clamp(call.usage.tokens_in))
            .bind(clamp(call.usage.tokens_out))
            .bind(call.cost_micros)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's usage over the UTC days `first_day..=last_day` (days since the Unix
    /// epoch), summed by `grouping`, largest cost first (by day: in date order). Day,
    /// flow and model read the daily sums; state and conversation read the calls.
    pub async fn usage_report(
        &self,
        tenant_id: &str,
        first_day: i64,
        last_day: i64,
        grouping: UsageGrouping,
        limit: i64,
    ) -> Result<Vec<UsageLine>, StoreError> {
        let sums = "CAST(COUNT(*) AS BIGINT) AS calls, \
                    CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT) AS tokens_in, \
                    CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT) AS tokens_out, \
                    CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros";
        let daily_sums = "CAST(SUM(calls) AS BIGINT) AS calls, \
                    CAST(SUM(tokens_in) AS BIGINT) AS tokens_in, \
                    CAST(SUM(tokens_out) AS BIGINT) AS tokens_out, \
                    CAST(SUM(cost_micros) AS BIGINT) AS cost_micros";
        let (key, from_daily, order) = match grouping {
            UsageGrouping::Day => ("CAST(day AS TEXT)", true, "MIN(day)"),
            UsageGrouping::Flow => ("flow_id", true, "cost_micros DESC, key"),
            UsageGrouping::Model => ("model", true, "cost_micros DESC, key"),
            UsageGrouping::State => ("COALESCE(state, '')", false, "cost_micros DESC, key"),
            UsageGrouping::Conversation => (
                "COALESCE(conversation_id, '')",
                false,
                "cost_micros DESC, key",
            ),
        };
        let sql = if from_daily {
            format!(
                "SELECT {key} AS key, {daily_sums} FROM model_usage_daily \
                 WHERE tenant_id = $1 AND day >= $2 AND day <= $3 \
                 GROUP BY {key} ORDER BY {order} LIMIT $4"
            )
        } else {
            format!(
                "SELECT {key} AS key, {sums} FROM model_calls \
                 WHERE tenant_id = $1 AND started_at >= $2 AND started_at < $3 \
                 GROUP BY {key} ORDER BY {order} LIMIT $4"
            )
        };
        let (low, high) = if from_daily {
            (first_day, last_day)
        } else {
            (first_day * DAY_MS, (last_day + 1) * DAY_MS)
        };
        // Safe: the SQL is built from a closed set of column names, never from input.
        Ok(sqlx::query_as::<_, UsageLine>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(low)
            .bind(high)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
    }

    /// The tenant's totals over the UTC days `first_day..=last_day`, from the daily sums.
    pub async fn usage_total(
        &self,
        tenant_id: &str,
        first_day: i64,
        last_day: i64,
    ) -> Result<UsageLine, StoreError> {
        Ok(sqlx::query_as::<_, UsageLine>(
            "SELECT '' AS key, CAST(COALESCE(SUM(calls), 0) AS BIGINT) AS calls, \
             CAST(COALESCE(SUM(tokens_in), 0) AS BIGINT) AS tokens_in, \
             CAST(COALESCE(SUM(tokens_out), 0) AS BIGINT) AS tokens_out, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros \
             FROM model_usage_daily WHERE tenant_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(tenant_id)
        .bind(first_day)
        .bind(last_day)
        .fetch_one(&self.reader)
        .await?)
    }

    /// A conversation's calls (or the tenant's latest when `conversation_id` is `None`),
    /// newest first.
    pub async fn model_calls(
        &self,
        tenant_id: &str,
        conversation_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ModelCallRow>, StoreError> {
        let columns = "id, conversation_id, flow_id, flow_version, state, channel, kind, \
                       provider, model, attempt, outcome, error_code, tokens_in, tokens_out, \
                       usage_source, first_token_ms, latency_ms, cost_micros, started_at";
        let sql = match conversation_id {
            Some(_) => format!(
                "SELECT {columns} FROM model_calls WHERE tenant_id = $1 AND conversation_id = $3 \
                 ORDER BY started_at DESC, id DESC LIMIT $2"
            ),
            None => format!(
                "SELECT {columns} FROM model_calls WHERE tenant_id = $1 \
                 ORDER BY started_at DESC, id DESC LIMIT $2"
            ),
        };
        let mut query = sqlx::query_as::<_, ModelCallRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(limit);
        if let Some(conversation) = conversation_id {
            query = query.bind(conversation);
        }
        Ok(query.fetch_all(&self.reader).await?)
    }
}
