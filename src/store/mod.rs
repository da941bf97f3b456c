//! Durable storage through sqlx: the source of truth for tenants, flows, conversations
//! and their events.
//!
//! One [`Store`] speaks both dialects through sqlx's `Any` driver, so every query is
//! written once (`$1` placeholders work in SQLite and PostgreSQL alike). Ids, timestamps
//! and JSON are stored as TEXT/INTEGER because `Any` maps only plain types. SQLite gets a
//! single writer connection (SQLite allows one writer at a time; queueing in the pool is
//! cheaper than `SQLITE_BUSY` retries) beside a small reader pool. Every tenant-owned
//! query takes the tenant id and filters on it.

mod adaptors;
mod agents;
mod alerts;
mod analytics;
mod api_keys;
mod audit;
mod batch;
mod budgets;
mod channels;
mod conversations;
mod erasure;
mod events;
mod experiments;
mod flows;
mod handoffs;
mod knowledge;
mod model_limits;
mod secrets;
mod sqlite_writer;
mod tenant_models;
mod tenants;
mod test_cases;
mod timers;
mod usage;
pub mod widget;

pub use adaptors::{AdaptorRow, SecretUpdate};
pub use agents::{AgentChanges, AgentRow, NewAgent, QueueRow};
pub use alerts::{AlertDeliveryRow, AlertHookRow};
pub use analytics::{
    AnalyticsColumn, AnalyticsConversation, AnalyticsFilter, GroupSums, LatencySums, OutcomeCounts,
    StateSums, StoredSummary,
};
pub use api_keys::{ApiKeyRow, NewApiKey};
pub use audit::AuditRow;
pub use budgets::{BudgetRow, LedgerRow, SpendKey, SpendRow};
pub use channels::{ChannelAccountRow, OutboxRow};
pub use conversations::{ConversationFilter, ConversationKey, ConversationRow, NewConversation};
pub use events::{AppendOutcome, EventRow, NewEvent, TurnState};
pub use experiments::ExperimentRow;
pub use flows::{DraftOutcome, FlowRow, FlowVersionRow};
pub use handoffs::{HandoffRow, InboxView, SlaBreach, Waiting};
pub use knowledge::{
    KnowledgeBaseRow, KnowledgeChunkRow, KnowledgeDocumentRow, KnowledgeVectorRow,
    NewKnowledgeChunk, chunk_id as knowledge_chunk_id,
};
pub use model_limits::ModelLimitsRow;
pub use tenant_models::{TenantProviderRow, TenantRouteRow};
pub use tenants::{NewTenant, TenantRow, TenantUpdate};
pub use test_cases::TestCaseRow;
pub use timers::DueTimer;
pub use usage::{DAY_MS, ModelCallRow, UsageGrouping, UsageLine};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::DatabaseConfig;
use batch::Batcher;
use sqlite_writer::SqliteWriter;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A value the store cannot hold as given, e.g. text with U+0000 (PostgreSQL `text`
    /// refuses it). The edges refuse such input before it gets here, so that both stores
    /// answer alike; this keeps a refusal typed (a 4xx, not a 5xx) if one gets past.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not prepare the database directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("write conflict: {0}")]
    Conflict(String),
    /// The batch of writes this one was part of could not be committed; none of it is
    /// stored.
    #[error("the write could not be committed: {0}")]
    BatchFailed(String),
    #[error("the store is closed")]
    Closed,
    /// An error of SQLite's group-commit writer (`sqlite_writer.rs`), which talks to
    /// SQLite without sqlx.
    #[error("database error: {0}")]
    Sqlite(String),
    /// The writer's fencing token is older than the conversation's owner's: another node
    /// took the conversation over, and this write was refused.
    #[error(
        "conversation {conversation_id} is owned by a newer lease (fence {current} > {presented})"
    )]
    Fenced {
        conversation_id: String,
        presented: i64,
        current: i64,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // 22021 character_not_in_repertoire: a NUL in `text`; 22P05
        // untranslatable_character: `\u0000` in `jsonb`.
        let code = error.as_database_error().and_then(|e| e.code());
        match code.as_deref() {
            Some("22021" | "22P05") => {
                StoreError::InvalidInput("text must not contain U+0000 (NUL)".into())
            }
            _ => StoreError::Database(error),
        }
    }
}

/// Which SQL dialect the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Cheap-clone handle to the database pools.
#[derive(Clone, Debug)]
pub struct Store {
    /// All writes go through this pool. For SQLite it has exactly one connection.
    writer: AnyPool,
    /// Reads (replay, lookups). For PostgreSQL it is the same pool as `writer`.
    reader: AnyPool,
    dialect: Dialect,
    /// Group commit of conversation writes (see `batch.rs`).
    batcher: Batcher,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Milliseconds since the Unix epoch, the timestamp format of every table.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    /// Connects to the database named by `config.url`, creating a SQLite file (and its
    /// directory) when missing. Does not migrate: call [`Store::migrate`].
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let acquire_timeout = Duration::from_millis(config.acquire_timeout_ms);
        if config.url.starts_with("sqlite:") {
            let url = sqlite_url(&config.url)?;
            let options = AnyConnectOptions::from_str(&url)?;
            let pool = |size: u32| {
                AnyPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(acquire_timeout)
                    // A file cannot drop the connection the way a server can, and the
                    // ping sqlx sends before lending one out is a round trip to the
                    // connection's thread on every acquire.
                    .test_before_acquire(false)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
            };
            let writer = pool(1).connect_with(options.clone()).await?;
            let reader = pool(config.max_connections).connect_with(options).await?;
            // Group commit gets a connection of its own on a file (sqlx created it); an
            // in-memory database is one per connection, so there it shares sqlx's.
            let batcher = match sqlite_file(&url) {
                Some(path) => Batcher::start_sqlite(SqliteWriter::open(&path)?, writer.clone())?,
                None => Batcher::start(writer.clone(), 1),
            };
            Ok(Self {
                batcher,
                writer,
                reader,
                dialect: Dialect::Sqlite,
            })
        } else {
            let pool = AnyPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(acquire_timeout)
                .connect(&config.url)
                .await?;
            Ok(Self {
                // Half the pool commits batches in parallel; the rest serves reads.
                batcher: Batcher::start(pool.clone(), (config.max_connections as usize / 2).max(1)),
                writer: pool.clone(),
                reader: pool,
                dialect: Dialect::Postgres,
            })
        }
    }

    /// Applies the migrations of this store's dialect.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&self.writer).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&self.writer).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Closes the pools, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// The file of a `sqlite:` URL, resolved against the working directory; `None` for
/// other databases and for in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(std::path::absolute(Path::new(path)).unwrap_or_else(|_| path.into()))
}

/// Normalises a `sqlite:` URL: creates the parent directory and asks for the file to be
/// created when missing.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    if let Some(file) = sqlite_file(url)
        && let Some(parent) = file.parent()
    {
        std::fs::create_dir_all(parent)?;
    }
    if url.contains("mode=") {
        Ok(url.to_string())
    } else if url.contains('?') {
        Ok(format!("{url}&mode=rwc"))
    } else {
        Ok(format!("{url}?mode=rwc"))
    }
}
