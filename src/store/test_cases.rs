//! Saved test cases of a flow (`flow_test_cases`): user turns and the bot messages they
//! must produce, replayed through the simulator by `POST …/test-cases/run`.

use super::{Store, StoreError};

/// A stored test case. `turns`, `expected` and `adaptor_stubs` are JSON text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TestCaseRow {
    pub tenant_id: String,
    pub flow_id: String,
    pub name: String,
    pub turns: String,
    pub expected: String,
    pub adaptor_stubs: String,
    pub conversation_id: Option<String>,
    pub created_by: String,
    pub updated_at: i64,
}

const COLUMNS: &str = "tenant_id, flow_id, name, turns, expected, adaptor_stubs, \
    conversation_id, created_by, updated_at";

impl Store {
    /// A flow's test cases, by name.
    pub async fn test_cases(
        &self,
        tenant_id: &str,
        flow_id: &str,
    ) -> Result<Vec<TestCaseRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM flow_test_cases WHERE tenant_id = $1 AND flow_id = $2 \
             ORDER BY name"
        );
        Ok(sqlx::query_as::<_, TestCaseRow>(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(flow_id)
            .fetch_all(&self.reader)
            .await?)
    }

    /// Creates or replaces a test case; true when it was created.
    pub async fn put_test_case(&self, row: &TestCaseRow) -> Result<bool, StoreError> {
        let existed: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM flow_test_cases WHERE tenant_id = $1 AND flow_id = $2 AND name = $3",
        )
        .bind(&row.tenant_id)
        .bind(&row.flow_id)
        .bind(&row.name)
        .fetch_optional(&self.writer)
        .await?;
        sqlx::query(
            "INSERT INTO flow_test_cases (tenant_id, flow_id, name, turns, expected, \
             adaptor_stubs, conversation_id, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id, flow_id, name) DO UPDATE SET turns = $4, expected = $5, \
             adaptor_stubs = $6, conversation_id = $7, created_by = $8, updated_at = $9",
        )
        .bind(&row.tenant_id)
        .bind(&row.flow_id)
        .bind(&row.name)
        .bind(&row.turns)
        .bind(&row.expected)
        .bind(&row.adaptor_stubs)
        .bind(row.conversation_id.as_deref())
        .bind(&row.created_by)
        .bind(row.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(existed.is_none())
    }

    /// Deletes a test case; false when there was none.
    pub async fn delete_test_case(
        &self,
        tenant_id: &str,
        flow_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM flow_test_cases WHERE tenant_id = $1 AND flow_id = $2 AND name = $3",
        )
        .bind(tenant_id)
        .bind(flow_id)
        .bind(name)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(deleted > 0)
    }
}
