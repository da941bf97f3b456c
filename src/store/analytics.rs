//! Analytics rollups (docs/analytics.md): the rollup job's reads and its one write per
//! conversation, and the report's reads of the daily sums.
//!
//! A conversation's summary and the change it makes to the daily sums are written in one
//! transaction, guarded by the summary's `revision`: two nodes summarising the same
//! conversation at once cannot both add to the sums (the second write finds the revision
//! moved and is rolled back), so the job is safe to run on every node.

use sqlx::Row;

use super::usage::DAY_MS;
use super::{Store, StoreError, now_ms};
use crate::analytics::summary::{CallFact, Contribution, EventFact, Summary};

/// What a summary needs of the conversation row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnalyticsConversation {
    pub flow_id: String,
    pub flow_version: i64,
    pub channel: String,
    pub created_at: i64,
    pub dialog_state: String,
}

/// The stored summary a new one replaces.
#[derive(Debug, Clone)]
pub struct StoredSummary {
    pub revision: i64,
    pub contribution: Contribution,
}

/// A conversation changed since the watermark.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangedConversation {
    pub id: String,
    pub updated_at: i64,
    pub flow_version: i64,
}

/// The report's filters; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct AnalyticsFilter {
    pub first_day: i64,
    pub last_day: i64,
    pub flow_id: Option<String>,
    pub flow_version: Option<i64>,
    pub channel: Option<String>,
}

/// What a report is grouped by: a column of the daily tables (`None`: one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyticsColumn {
    Day,
    Flow,
    Version,
    Channel,
    None,
}

impl AnalyticsColumn {
    /// The key expression and the GROUP BY list it needs (fixed texts, never input).
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            AnalyticsColumn::Day => ("CAST(day AS TEXT)", "day"),
            AnalyticsColumn::Flow => ("flow_id", "flow_id"),
            AnalyticsColumn::Version => ("CAST(flow_version AS TEXT)", "flow_version"),
            AnalyticsColumn::Channel => ("channel", "channel"),
            AnalyticsColumn::None => ("''", "tenant_id"),
        }
    }
}

/// The conversation sums of one group.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct GroupSums {
    /// The day number, flow id, version or channel, as text; '' for no grouping.
    pub key: String,
    pub started: i64,
    pub contained: i64,
    pub handed_off: i64,
    pub abandoned: i64,
    pub turns: i64,
    pub cost_micros: i64,
}

/// The sums of one state.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct StateSums {
    pub state: String,
    pub visits: i64,
    pub answers: i64,
    pub reprompts: i64,
    pub fallbacks: i64,
    pub dropoffs: i64,
    pub cost_micros: i64,
}

/// A latency bucket's count in one group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LatencySums {
    pub key: String,
    /// `first_reply` or `turn`.
    pub metric: String,
    pub bucket: i64,
    pub count: i64,
}

/// Per flow version: a group of conversations' outcomes (an experiment's arm).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct OutcomeCounts {
    pub flow_version: i64,
    pub conversations: i64,
    pub contained: i64,
    pub handed_off: i64,
    pub abandoned: i64,
    pub cost_micros: i64,
}

const FILTER: &str = "tenant_id = $1 AND day >= $2 AND day <= $3 \
     AND ($4 IS NULL OR flow_id = $4) AND ($5 IS NULL OR flow_version = $5) \
     AND ($6 IS NULL OR channel = $6)";

impl Store {
    /// Tenants the rollup job visits (not deleted).
    pub async fn analytics_tenants(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM tenants WHERE deleted_at IS NULL ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// The tenant's watermark: conversations updated at or before it are summarised.
    pub async fn analytics_watermark(&self, tenant_id: &str) -> Result<(i64, String), StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT through_ms, through_id FROM analytics_watermarks WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.unwrap_or((0, String::new())))
    }

    /// Moves the watermark forward (never back: a slower node's older one is ignored).
    pub async fn analytics_advance_watermark(
        &self,
        tenant_id: &str,
        through_ms: i64,
        through_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO analytics_watermarks (tenant_id, through_ms, through_id, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
             through_ms = excluded.through_ms, through_id = excluded.through_id, \
             updated_at = excluded.updated_at \
             WHERE analytics_watermarks.through_ms < excluded.through_ms \
             OR (analytics_watermarks.through_ms = excluded.through_ms \
                 AND analytics_watermarks.through_id < excluded.through_id)",
        )
        .bind(tenant_id)
        .bind(through_ms)
        .bind(through_id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The tenant's conversations written after `(after_ms, after_id)` and at or before
    /// `until_ms`, oldest first, at most `limit`.
    pub async fn analytics_changed(
        &self,
        tenant_id: &str,
        after: (i64, &str),
        until_ms: i64,
        limit: i64,
    ) -> Result<Vec<ChangedConversation>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, updated_at, flow_version FROM conversations WHERE tenant_id = $1 \
             AND (updated_at > $2 OR (updated_at = $2 AND id > $3)) AND updated_at <= $4 \
             ORDER BY updated_at, id LIMIT $5",
        )
        .bind(tenant_id)
        .bind(after.0)
        .bind(after.1)
        .bind(until_ms)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?)
    }

    /// Summaries of open conversations that may have become abandoned by `now`.
    pub async fn analytics_due_rechecks(
        &self,
        tenant_id: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT conversation_id FROM analytics_conversations WHERE tenant_id = $1 \
             AND recheck_at <= $2 ORDER BY recheck_at LIMIT $3",
        )
        .bind(tenant_id)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// A summary whose conversation is gone (erased) keeps what it contributed and is
    /// not rechecked again.
    pub async fn analytics_freeze(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE analytics_conversations SET recheck_at = NULL \
             WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The conversation row a summary needs.
    pub async fn analytics_conversation(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<AnalyticsConversation>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT flow_id, flow_version, channel, created_at, dialog_state FROM conversations \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_optional(&self.reader)
        .await?)
    }

    /// The conversation's events in seq order (a user message's text only for the
    /// fallback check; other texts are not read).
    pub async fn analytics_events(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Vec<EventFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, role, created_at, meta, CASE WHEN role = 'user' THEN body ELSE '' END \
             FROM events WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY seq",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                // Read as loose JSON: an event name this build does not know (a newer
                // node's) must still be seen.
                let meta: Option<serde_json::Value> = row
                    .get::<Option<String>, _>(3)
                    .and_then(|m| serde_json::from_str(&m).ok());
                let field = |name: &str| {
                    meta.as_ref()
                        .and_then(|m| m.get(name))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                };
                EventFact {
                    seq: row.get(0),
                    role: row.get(1),
                    created_at: row.get(2),
                    event: field("event"),
                    state: field("state"),
                    text: row.get(4),
                }
            })
            .collect())
    }

    /// The conversation's metered model calls.
    pub async fn analytics_calls(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Vec<CallFact>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
            "SELECT state, cost_micros FROM model_calls WHERE tenant_id = $1 \
             AND conversation_id = $2",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(state, cost_micros)| CallFact { state, cost_micros })
            .collect())
    }

    /// The stored summary of a conversation, if any.
    pub async fn analytics_summary(
        &self,
        tenant_id: &str,
        conversation_id: &str,
    ) -> Result<Option<StoredSummary>, StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT revision, contribution FROM analytics_conversations \
             WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|(revision, json)| {
            let contribution = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("analytics contribution: {e}")))?;
            Ok(StoredSummary {
                revision,
                contribution,
            })
        })
        .transpose()
    }

    /// Stores a conversation's new summary and adds `new − old` to the daily sums, in one
    /// transaction. False (nothing written) when another writer stored a summary since
    /// `previous` was read.
    pub async fn analytics_save(
        &self,
        tenant_id: &str,
        conversation_id: &str,
        conversation: &AnalyticsConversation,
        previous: Option<&StoredSummary>,
        summary: &Summary,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(&summary.contribution)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let c = &summary.contribution;
        let mut tx = self.writer.begin().await?;
        let written = match previous {
            Some(previous) => sqlx::query(
                "UPDATE analytics_conversations SET outcome = $3, waiting_state = $4, turns = $5, \
                 cost_micros = $6, recheck_at = $7, contribution = $8, revision = revision + 1, \
                 summarised_at = $9 WHERE tenant_id = $1 AND conversation_id = $2 \
                 AND revision = $10",
            )
            .bind(tenant_id)
            .bind(conversation_id)
            .bind(summary.outcome.as_str())
            .bind(summary.waiting_state.as_deref())
            .bind(c.turns)
            .bind(c.cost_micros)
            .bind(summary.recheck_at)
            .bind(&json)
            .bind(now_ms())
            .bind(previous.revision)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO analytics_conversations (tenant_id, conversation_id, flow_id, \
                 flow_version, channel, started_at, outcome, waiting_state, turns, cost_micros, \
                 recheck_at, contribution, revision, summarised_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13) \
                 ON CONFLICT (tenant_id, conversation_id) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(conversation_id)
            .bind(&conversation.flow_id)
            .bind(conversation.flow_version)
            .bind(&conversation.channel)
            .bind(conversation.created_at)
            .bind(summary.outcome.as_str())
            .bind(summary.waiting_state.as_deref())
            .bind(c.turns)
            .bind(c.cost_micros)
            .bind(summary.recheck_at)
            .bind(&json)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if written == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let empty = Contribution::default();
        let old = previous.map_or(&empty, |p| &p.contribution);
        let key = DailyKey {
            tenant_id,
            day: conversation.created_at.div_euclid(DAY_MS),
            flow_id: &conversation.flow_id,
            flow_version: conversation.flow_version,
            channel: &conversation.channel,
        };
        add_daily(&mut tx, &key, old, c).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The conversation sums matching the filter, per group.
    pub async fn analytics_group_sums(
        &self,
        tenant_id: &str,
        filter: &AnalyticsFilter,
        column: AnalyticsColumn,
    ) -> Result<Vec<GroupSums>, StoreError> {
        let (key, group) = column.sql();
        let sql = format!(
            "SELECT {key} AS key, CAST(SUM(started) AS BIGINT) AS started, \
             CAST(SUM(contained) AS BIGINT) AS contained, \
             CAST(SUM(handed_off) AS BIGINT) AS handed_off, \
             CAST(SUM(abandoned) AS BIGINT) AS abandoned, CAST(SUM(turns) AS BIGINT) AS turns, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros \
             FROM analytics_daily WHERE {FILTER} GROUP BY {group}"
        );
        Ok(
            filtered(sqlx::query_as(sqlx::AssertSqlSafe(sql)), tenant_id, filter)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    /// The per-state sums matching the filter.
    pub async fn analytics_state_sums(
        &self,
        tenant_id: &str,
        filter: &AnalyticsFilter,
    ) -> Result<Vec<StateSums>, StoreError> {
        let sql = format!(
            "SELECT state, CAST(SUM(visits) AS BIGINT) AS visits, \
             CAST(SUM(answers) AS BIGINT) AS answers, CAST(SUM(reprompts) AS BIGINT) AS reprompts, \
             CAST(SUM(fallbacks) AS BIGINT) AS fallbacks, CAST(SUM(dropoffs) AS BIGINT) AS dropoffs, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros \
             FROM analytics_state_daily WHERE {FILTER} GROUP BY state"
        );
        Ok(
            filtered(sqlx::query_as(sqlx::AssertSqlSafe(sql)), tenant_id, filter)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    /// The latency bucket counts matching the filter, per group.
    pub async fn analytics_latency_sums(
        &self,
        tenant_id: &str,
        filter: &AnalyticsFilter,
        column: AnalyticsColumn,
    ) -> Result<Vec<LatencySums>, StoreError> {
        let (key, group) = column.sql();
        let sql = format!(
            "SELECT {key} AS key, metric, bucket, CAST(SUM(count) AS BIGINT) AS count \
             FROM analytics_latency_daily WHERE {FILTER} GROUP BY {group}, metric, bucket"
        );
        Ok(
            filtered(sqlx::query_as(sqlx::AssertSqlSafe(sql)), tenant_id, filter)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    /// Outcomes per version of a flow's conversations started in `[from_ms, until_ms)`:
    /// the whole days in between from the daily sums, the partial days at either end
    /// from the conversation summaries, so a month costs ~30 rows per version and channel
    /// plus two days of summaries.
    pub async fn analytics_outcomes_by_version(
        &self,
        tenant_id: &str,
        flow_id: &str,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<OutcomeCounts>, StoreError> {
        let until_ms = until_ms.min(now_ms().saturating_add(DAY_MS));
        let first_day = from_ms.div_euclid(DAY_MS) + i64::from(from_ms.rem_euclid(DAY_MS) != 0);
        let end_day = until_ms.div_euclid(DAY_MS); // exclusive
        let mut parts: Vec<OutcomeCounts> = Vec::new();
        let ranges = if first_day < end_day {
            parts.extend(
                sqlx::query_as::<_, OutcomeCounts>(
                    "SELECT flow_version, CAST(SUM(started) AS BIGINT) AS conversations, \
                     CAST(SUM(contained) AS BIGINT) AS contained, \
                     CAST(SUM(handed_off) AS BIGINT) AS handed_off, \
                     CAST(SUM(abandoned) AS BIGINT) AS abandoned, \
                     CAST(SUM(cost_micros) AS BIGINT) AS cost_micros FROM analytics_daily \
                     WHERE tenant_id = $1 AND flow_id = $2 AND day >= $3 AND day < $4 \
                     GROUP BY flow_version",
                )
                .bind(tenant_id)
                .bind(flow_id)
                .bind(first_day)
                .bind(end_day)
                .fetch_all(&self.reader)
                .await?,
            );
            vec![(from_ms, first_day * DAY_MS), (end_day * DAY_MS, until_ms)]
        } else {
            vec![(from_ms, until_ms)]
        };
        for (from, until) in ranges.into_iter().filter(|(a, b)| a < b) {
            parts.extend(
                sqlx::query_as::<_, OutcomeCounts>(
                    "SELECT flow_version, CAST(COUNT(*) AS BIGINT) AS conversations, \
                     CAST(SUM(CASE WHEN outcome = 'contained' THEN 1 ELSE 0 END) AS BIGINT) AS contained, \
                     CAST(SUM(CASE WHEN outcome = 'handed_off' THEN 1 ELSE 0 END) AS BIGINT) AS handed_off, \
                     CAST(SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS BIGINT) AS abandoned, \
                     CAST(SUM(cost_micros) AS BIGINT) AS cost_micros \
                     FROM analytics_conversations WHERE tenant_id = $1 AND flow_id = $2 \
                     AND started_at >= $3 AND started_at < $4 GROUP BY flow_version",
                )
                .bind(tenant_id)
                .bind(flow_id)
                .bind(from)
                .bind(until)
                .fetch_all(&self.reader)
                .await?,
            );
        }
        let mut by_version = std::collections::BTreeMap::<i64, OutcomeCounts>::new();
        for part in parts {
            let sum = by_version
                .entry(part.flow_version)
                .or_insert(OutcomeCounts {
                    flow_version: part.flow_version,
                    ..OutcomeCounts::default()
                });
            sum.conversations += part.conversations;
            sum.contained += part.contained;
            sum.handed_off += part.handed_off;
            sum.abandoned += part.abandoned;
            sum.cost_micros += part.cost_micros;
        }
        Ok(by_version.into_values().collect())
    }
}

fn filtered<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    tenant_id: &'q str,
    filter: &'q AnalyticsFilter,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    query
        .bind(tenant_id)
        .bind(filter.first_day)
        .bind(filter.last_day)
        .bind(filter.flow_id.as_deref())
        .bind(filter.flow_version)
        .bind(filter.channel.as_deref())
}

/// The daily rows a conversation adds to.
struct DailyKey<'a> {
    tenant_id: &'a str,
    day: i64,
    flow_id: &'a str,
    flow_version: i64,
    channel: &'a str,
}

/// Adds `new − old` to the three daily tables (upserts that add, so concurrent
/// conversations of the same day never overwrite each other).
async fn add_daily(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &DailyKey<'_>,
    old: &Contribution,
    new: &Contribution,
) -> Result<(), StoreError> {
    let d = [
        new.started - old.started,
        new.contained - old.contained,
        new.handed_off - old.handed_off,
        new.abandoned - old.abandoned,
        new.turns - old.turns,
        new.cost_micros - old.cost_micros,
    ];
    if d.iter().any(|v| *v != 0) {
        sqlx::query(
            "INSERT INTO analytics_daily (tenant_id, day, flow_id, flow_version, channel, started, \
             contained, handed_off, abandoned, turns, cost_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (tenant_id, day, flow_id, flow_version, channel) DO UPDATE SET \
             started = analytics_daily.started + excluded.started, \
             contained = analytics_daily.contained + excluded.contained, \
             handed_off = analytics_daily.handed_off + excluded.handed_off, \
             abandoned = analytics_daily.abandoned + excluded.abandoned, \
             turns = analytics_daily.turns + excluded.turns, \
             cost_micros = analytics_daily.cost_micros + excluded.cost_micros",
        )
        .bind(key.tenant_id)
        .bind(key.day)
        .bind(key.flow_id)
        .bind(key.flow_version)
        .bind(key.channel)
        .bind(d[0])
        .bind(d[1])
        .bind(d[2])
        .bind(d[3])
        .bind(d[4])
        .bind(d[5])
        .execute(&mut **tx)
        .await?;
    }
    let states: std::collections::BTreeSet<&String> =
        old.states.keys().chain(new.states.keys()).collect();
    let none = Default::default();
    for state in states {
        let (o, n) = (
            old.states.get(state).unwrap_or(&none),
            new.states.get(state).unwrap_or(&none),
        );
        let d = [
            n.visits - o.visits,
            n.answers - o.answers,
            n.reprompts - o.reprompts,
            n.fallbacks - o.fallbacks,
            n.dropoffs - o.dropoffs,
            n.cost_micros - o.cost_micros,
        ];
        if d.iter().all(|v| *v == 0) {
            continue;
        }
        sqlx::query(
            "INSERT INTO analytics_state_daily (tenant_id, day, flow_id, flow_version, channel, \
             state, visits, answers, reprompts, fallbacks, dropoffs, cost_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (tenant_id, day, flow_id, flow_version, channel, state) DO UPDATE SET \
             visits = analytics_state_daily.visits + excluded.visits, \
             answers = analytics_state_daily.answers + excluded.answers, \
             reprompts = analytics_state_daily.reprompts + excluded.reprompts, \
             fallbacks = analytics_state_daily.fallbacks + excluded.fallbacks, \
             dropoffs = analytics_state_daily.dropoffs + excluded.dropoffs, \
             cost_micros = analytics_state_daily.cost_micros + excluded.cost_micros",
        )
        .bind(key.tenant_id)
        .bind(key.day)
        .bind(key.flow_id)
        .bind(key.flow_version)
        .bind(key.channel)
        .bind(state.as_str())
        .bind(d[0])
        .bind(d[1])
        .bind(d[2])
        .bind(d[3])
        .bind(d[4])
        .bind(d[5])
        .execute(&mut **tx)
        .await?;
    }
    for (metric, o, n) in [
        ("first_reply", &old.first_reply, &new.first_reply),
        ("turn", &old.turn_latency, &new.turn_latency),
    ] {
        let buckets: std::collections::BTreeSet<&u32> = o.keys().chain(n.keys()).collect();
        for bucket in buckets {
            let delta = n.get(bucket).copied().unwrap_or(0) - o.get(bucket).copied().unwrap_or(0);
            if delta == 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO analytics_latency_daily (tenant_id, day, flow_id, flow_version, \
                 channel, metric, bucket, count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (tenant_id, day, flow_id, flow_version, channel, metric, bucket) \
                 DO UPDATE SET count = analytics_latency_daily.count + excluded.count",
            )
            .bind(key.tenant_id)
            .bind(key.day)
            .bind(key.flow_id)
            .bind(key.flow_version)
            .bind(key.channel)
            .bind(metric)
            .bind(i64::from(*bucket))
            .bind(delta)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
