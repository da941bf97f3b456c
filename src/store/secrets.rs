//! Node-wide secrets generated once and kept in the database, so every node and every
//! restart agrees on them without any operator setup.

use super::{Store, StoreError, now_ms};

impl Store {
    /// Returns the secret called `name`, storing `generate()` first if there is none.
    /// Concurrent first calls (several nodes starting) agree on one value.
    pub async fn node_secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO node_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generate())
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM node_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        Ok(value)
    }
}
