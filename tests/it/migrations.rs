//! The two migration sets (`migrations/sqlite`, `migrations/postgres`) must build the same
//! schema: the same tables, the same columns, and the same explicitly created indexes.
//! Types differ by dialect on purpose (TEXT/INTEGER vs TEXT/BIGINT), so names are what
//! is compared. Both databases are migrated for real by the store, then read back through
//! each engine's own catalog.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::Backend;
use sqlx::{Connection, Row};
use switchboard::config::DatabaseConfig;
use switchboard::store::Store;

/// Table → columns, and the set of index names.
#[derive(Debug, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, BTreeSet<String>>,
    indexes: BTreeSet<String>,
}

async fn migrated(backend: &Backend) {
    let config = DatabaseConfig {
        url: backend.url.clone(),
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&config).await.expect("connect");
    store.migrate().await.expect("migrate");
    store.close().await;
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{name}')"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.get::<String, _>("name"))
        .collect();
        tables.insert(name, columns);
    }
    // Indexes created by CREATE INDEX (automatic ones for keys have no SQL).
    let indexes = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    Schema { tables, indexes }
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("postgres");
    let rows = sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        tables
            .entry(row.get("table_name"))
            .or_default()
            .insert(row.get("column_name"));
    }
    // Indexes created by CREATE INDEX, not the ones backing a primary key or UNIQUE
    // constraint (SQLite's equivalents are automatic and unnamed).
    let indexes = sqlx::query_scalar(
        "SELECT i.relname::text FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND t.relname <> '_sqlx_migrations' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    Schema { tables, indexes }
}

/// The knowledge base's full-text index differs by design: an FTS5 virtual table (and
/// its shadow tables) on SQLite, a generated `tsvector` column under a GIN index on
/// PostgreSQL. Everything else must match.
fn without_full_text(mut schema: Schema) -> Schema {
    schema
        .tables
        .retain(|name, _| !name.starts_with("knowledge_fts"));
    if let Some(columns) = schema.tables.get_mut("knowledge_chunks") {
        columns.remove("fts");
    }
    schema.indexes.remove("knowledge_chunks_fts");
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_sets_build_the_same_schema() {
    let sqlite = Backend::sqlite();
    migrated(&sqlite).await;
    let sqlite_schema = without_full_text(sqlite_schema(&sqlite.url).await);
    assert!(
        sqlite_schema.tables.contains_key("events") && !sqlite_schema.indexes.is_empty(),
        "the catalog query found the schema: {sqlite_schema:?}"
    );
    let Some(postgres) = Backend::postgres().await else {
        return;
    };
    migrated(&postgres).await;
    let postgres_schema = without_full_text(postgres_schema(&postgres.url).await);
    assert_eq!(
        sqlite_schema.tables.keys().collect::<Vec<_>>(),
        postgres_schema.tables.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (table, columns) in &sqlite_schema.tables {
        assert_eq!(
            Some(columns),
            postgres_schema.tables.get(table),
            "columns of {table}"
        );
    }
    assert_eq!(sqlite_schema.indexes, postgres_schema.indexes, "indexes");
}
