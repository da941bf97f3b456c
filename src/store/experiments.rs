//! Experiments (`experiments`): a flow's new conversations split across versions by
//! weight. At most one runs per flow (a partial unique index), so starting a second one
//! fails here whatever node asks.

use super::{Store, StoreError, now_ms};

/// A stored experiment. `arms` is JSON: `[{"version": 3, "weight": 50}, …]`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentRow {
    pub id: String,
    pub flow_id: String,
    pub name: String,
    pub arms: String,
    /// `running` or `stopped`.
    pub status: String,
    /// The version promoted, once one is.
    pub winner: Option<i64>,
    pub created_by: String,
    pub started_at: i64,
    pub stopped_at: Option<i64>,
}

const COLUMNS: &str = "id, flow_id, name, arms, status, winner, created_by, started_at, stopped_at";

impl Store {
    /// Starts an experiment; false when the flow already has one running.
    pub async fn create_experiment(
        &self,
        tenant_id: &str,
        row: &ExperimentRow,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO experiments (tenant_id, id, flow_id, name, arms, status, winner, \
             created_by, started_at, stopped_at) \
             VALUES ($1, $2, $3, $4, $5, 'running', NULL, $6, $7, NULL) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&row.id)
        .bind(&row.flow_id)
        .bind(&row.name)
        .bind(&row.arms)
        .bind(&row.created_by)
        .bind(row.started_at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// The tenant's experiments (of one flow, if given), newest first.
    pub async fn list_experiments(
        &self,
        tenant_id: &str,
        flow_id: Option<&str>,
    ) -> Result<Vec<ExperimentRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM experiments WHERE tenant_id = $1 \
             AND ($2 IS NULL OR flow_id = $2) ORDER BY started_at DESC, id DESC"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_all(&self.reader)
            .await?)
    }

    pub async fn experiment(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ExperimentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM experiments WHERE tenant_id = $1 AND id = $2");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
    }

    /// The experiment running on a flow, if any.
    pub async fn running_experiment(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Option<ExperimentRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM experiments WHERE tenant_id = $1 AND flow_id = $2 \
             AND status = 'running'"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_optional(&self.reader)
            .await?)
    }

    /// Stops a running experiment (recording `winner` when given); false when it was
    /// not running.
    pub async fn stop_experiment(
        &self,
        tenant_id: &str,
        id: &str,
        winner: Option<i64>,
    ) -> Result<bool, StoreError> {
        let stopped = sqlx::query(
            "UPDATE experiments SET status = 'stopped', stopped_at = $3, winner = $4 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'running'",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now_ms())
        .bind(winner)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(stopped == 1)
    }

    /// Records the promoted version of a stopped experiment.
    pub async fn set_experiment_winner(
        &self,
        tenant_id: &str,
        id: &str,
        winner: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE experiments SET winner = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .bind(winner)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
