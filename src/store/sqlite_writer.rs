//! SQLite's group-commit writer: a connection and a thread of its own that run whole
//! batches of conversation writes.
//!
//! Through sqlx every statement is a round trip between a tokio worker and the
//! connection's worker thread, and a conversation write is five or six statements: at a
//! few thousand writes a second the wake-ups between threads, not SQLite, were the cost
//! (docs/benchmarks.md). Here the writer thread takes a batch from the queue, runs its
//! statements back to back on cached prepared statements (rusqlite, on the same
//! libsqlite3 as sqlx), and sends each write's outcome straight to its waiting actor.
//!
//! The statements are the ones the sqlx writer runs (`events.rs`, `conversations.rs`,
//! `channels.rs`), with the same guarantees (see `batch.rs`): outcomes are reported after
//! the commit; a failing write is retried alone under savepoints; a failed commit fails
//! every write of its batch. Besides this connection only sqlx's single writer
//! connection writes, and a batch holds that connection while it commits (it is the
//! store's write lock), so the two never wait for each other in SQLite's busy handler.

use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use rusqlite::{
    Connection, DropBehavior, OpenFlags, OptionalExtension, ToSql, TransactionBehavior,
};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};
use tokio::sync::mpsc;

use super::StoreError;
use super::batch::{self, Job, MAX_BATCH, Write, Written};
use super::channels::{OUTBOX_RESULT_SQL, OutboxResult};
use super::conversations::{CONVERSATION_INSERT_SQL, OwnedConversation};
use super::events::{
    DEDUP_FIND_SQL, DEDUP_INSERT_SQL, EVENT_INSERT_SQL, FENCE_CURRENT_SQL, FENCE_SQL, LAST_SEQ_SQL,
    OUTBOX_INSERT_SQL, OwnedEvent, TURN_STATE_SQL, TurnOutcome, TurnWrite, fence_refused,
};
use super::now_ms;

/// Statements kept prepared: every statement above, with room to spare.
const STATEMENT_CACHE: usize = 32;

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error.to_string())
    }
}

/// How long the writer keeps the write lock after its last batch, waiting for more.
const LINGER: Duration = Duration::from_millis(2);

/// The longest the writer keeps the write lock while batches keep coming.
const MAX_HOLD: Duration = Duration::from_millis(50);

/// How often the checkpointer copies committed pages from the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The WAL size (pages) at which a commit checkpoints itself, after the checkpointer
/// fell behind; SQLite's default is 1,000.
const WRITER_CHECKPOINT_PAGES: i64 = 10_000;

/// The writer's connection.
pub(super) struct SqliteWriter {
    conn: Connection,
    /// Stops the checkpointer thread when the writer goes.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

impl SqliteWriter {
    /// Opens `path` (created by sqlx before) with the store's settings: WAL,
    /// `synchronous = FULL`, foreign keys.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        Ok(Self {
            conn,
            _checkpointer: spawn_checkpointer(connect(path)?)?,
        })
    }

    /// Starts the writer on a thread of its own, which commits what `queue` holds,
    /// batch after batch, until the queue closes, and sends each write's outcome to its
    /// waiting actor from there. Must be called within the tokio runtime.
    pub fn spawn(self, write_lock: AnyPool, queue: mpsc::Receiver<Job>) -> std::io::Result<()> {
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                // sqlx returns a released connection to its pool from a spawned task.
                let _context = runtime.enter();
                let run = std::panic::AssertUnwindSafe(|| self.run(&runtime, write_lock, queue));
                if std::panic::catch_unwind(run).is_err() {
                    // The writes of the batch that panicked were answered `Closed` when
                    // their replies dropped. Without the connection nothing more commits.
                    tracing::error!("the SQLite writer stopped after a panic");
                }
            })?;
        Ok(())
    }

    /// The writer thread's loop. It holds `write_lock`'s one connection (the store's
    /// write lock) while it commits, and keeps it from batch to batch while writes keep
    /// coming: taking it costs a round trip to sqlx's connection thread when it is
    /// returned, more than a small batch costs to commit. It gives the lock back when
    /// no write came for [`LINGER`], or after holding it for [`MAX_HOLD`], so that sqlx's
    /// writes (admin, timers, claims) wait at most that long.
    fn run(
        mut self,
        runtime: &tokio::runtime::Handle,
        write_lock: AnyPool,
        mut queue: mpsc::Receiver<Job>,
    ) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        let mut lock: Option<(PoolConnection<Any>, Instant)> = None;
        loop {
            let mut received = 0;
            if lock.is_some() {
                let more = queue.recv_many(&mut jobs, MAX_BATCH);
                match runtime.block_on(tokio::time::timeout(LINGER, more)) {
                    Ok(count) => received = count,
                    Err(_) => lock = None,
                }
            }
            if lock.is_none() {
                received = runtime.block_on(queue.recv_many(&mut jobs, MAX_BATCH));
            }
            if received == 0 {
                return;
            }
            crate::telemetry::metrics::queued("store_writes", -(jobs.len() as f64));
            let started = Instant::now();
            if lock
                .as_ref()
                .is_some_and(|(_, since)| since.elapsed() >= MAX_HOLD)
            {
                lock = None;
            }
            if lock.is_none() {
                match runtime.block_on(write_lock.acquire()) {
                    Ok(connection) => lock = Some((connection, Instant::now())),
                    Err(error) => {
                        batch::report(&mut jobs, Err(error.into()), started);
                        continue;
                    }
                }
            }
            let outcome = self.commit(&jobs);
            batch::report(&mut jobs, outcome, started);
        }
    }

    /// Runs the jobs in one transaction and commits, like `batch::run_batch`: first with
    /// no savepoints; when a job fails, again with a savepoint per job.
    fn commit(&mut self, jobs: &[Job]) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let result = run_job(&tx, &job.write, now);
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        if results.len() == jobs.len() && results.iter().all(Result::is_ok) {
            tx.commit()?;
            return Ok(results);
        }
        tx.rollback()?;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        results.clear();
        for job in jobs {
            let mut savepoint = tx.savepoint()?;
            savepoint.set_drop_behavior(DropBehavior::Rollback);
            let result = run_job(&savepoint, &job.write, now);
            if batch::keeps(&result) {
                savepoint.commit()?;
            } else {
                savepoint.rollback()?;
            }
            results.push(result);
        }
        tx.commit()?;
        Ok(results)
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Checkpoints on a thread of its own, every [`CHECKPOINT_EVERY`], until the returned
/// sender is dropped.
///
/// A commit that finds the WAL over SQLite's threshold (1,000 pages) checkpoints it
/// before returning, which held every write of the next batch back (13 % of the
/// server's time under echo, measured with perf). Passive checkpoints here copy the
/// pages while the writer goes on; the writer's own checkpoint then finds (almost)
/// nothing left to copy, and restarts the WAL so it stays small. Durability is the
/// WAL's, synced at every commit, whoever checkpoints.
fn spawn_checkpointer(conn: Connection) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!(%error, "a WAL checkpoint failed; the next one retries");
                }
            }
        })?;
    Ok(stop)
}

fn run_job(conn: &Connection, write: &Write, now: i64) -> Result<Written, StoreError> {
    match write {
        Write::Turn(turn) => write_turn(conn, turn, now).map(Written::Turn),
        Write::CreateConversation(new) => {
            insert_conversation(conn, new, now).map(|()| Written::Done)
        }
        Write::FinishOutbox(done) => record_outbox(conn, done, now).map(|()| Written::Done),
    }
}

/// Runs `sql` with `$1`, `$2`, … bound to `params` in order; returns the rows changed.
fn execute(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    bind(&mut statement, params)?;
    Ok(statement.raw_execute()?)
}

/// Binds by name: the statements number their parameters `$N` (sqlx's convention), and
/// SQLite numbers them in order of first appearance, which is not always N.
fn bind(
    statement: &mut rusqlite::CachedStatement<'_>,
    params: &[&dyn ToSql],
) -> Result<(), StoreError> {
    const NAMES: [&str; 13] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13",
    ];
    for (name, value) in NAMES.iter().zip(params) {
        let index = statement
            .parameter_index(name)?
            .ok_or_else(|| StoreError::Sqlite(format!("statement has no parameter {name}")))?;
        statement.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// The sqlx writer's `events::write_turn`, statement for statement.
fn write_turn(conn: &Connection, write: &TurnWrite, now: i64) -> Result<TurnOutcome, StoreError> {
    let (tenant_id, conversation_id) = write.ids();
    let fence = write.fence();
    if execute(conn, FENCE_SQL, &[&tenant_id, &conversation_id, &fence])? != 1 {
        let current = conn
            .prepare_cached(FENCE_CURRENT_SQL)?
            .query_row([tenant_id, conversation_id], |row| row.get::<_, i64>(0))
            .optional()?;
        return Err(fence_refused(tenant_id, conversation_id, fence, current));
    }
    if let Some(user) = write.user() {
        let event = user.event();
        let claimed = execute(
            conn,
            DEDUP_INSERT_SQL,
            &[
                &tenant_id,
                &user.source(),
                &user.dedup_key(),
                &conversation_id,
                &event.message_id(),
                &event.seq(),
                &now,
            ],
        )?;
        if claimed == 0 {
            let (message_id, seq) = conn
                .prepare_cached(DEDUP_FIND_SQL)?
                .query_row([tenant_id, user.source(), user.dedup_key()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?;
            return Ok(TurnOutcome::Duplicate { message_id, seq });
        }
        insert_event(conn, write, event, now)?;
    }
    for event in write.events() {
        insert_event(conn, write, event, now)?;
        if write.delivers(event) {
            execute(
                conn,
                OUTBOX_INSERT_SQL,
                &[
                    &event.message_id(),
                    &tenant_id,
                    &conversation_id,
                    &write.outbox_account(),
                    &event.seq(),
                    &event.text(),
                    &now,
                    &event.template_json(),
                ],
            )?;
        }
    }
    let last_seq = write.last_seq().unwrap_or(0);
    let updated = match write.state() {
        Some(state) => {
            let (user_spoke, agent_spoke) = write.speakers();
            execute(
                conn,
                TURN_STATE_SQL,
                &[
                    &tenant_id,
                    &conversation_id,
                    &state.dialog_state(),
                    &state.status(),
                    &state.applied_seq(),
                    &last_seq,
                    &now,
                    &state.pending_work(),
                    &state.timer_due_at(),
                    &state.handoff_queue(),
                    &user_spoke,
                    &agent_spoke,
                    &state.assign_to(),
                ],
            )?
        }
        None => execute(
            conn,
            LAST_SEQ_SQL,
            &[&tenant_id, &conversation_id, &last_seq, &now],
        )?,
    };
    if updated != 1 {
        return Err(write.missing());
    }
    Ok(TurnOutcome::Stored { created_at: now })
}

fn insert_event(
    conn: &Connection,
    write: &TurnWrite,
    event: &OwnedEvent,
    now: i64,
) -> Result<(), StoreError> {
    let (tenant_id, conversation_id) = write.ids();
    execute(
        conn,
        EVENT_INSERT_SQL,
        &[
            &tenant_id,
            &conversation_id,
            &event.seq(),
            &event.message_id(),
            &event.role(),
            &event.body().as_ref(),
            &now,
            &event.meta_json(),
        ],
    )?;
    Ok(())
}

fn insert_conversation(
    conn: &Connection,
    new: &OwnedConversation,
    now: i64,
) -> Result<(), StoreError> {
    execute(
        conn,
        CONVERSATION_INSERT_SQL,
        &[
            &new.id,
            &new.tenant_id,
            &new.channel,
            &new.external_user,
            &new.flow_id,
            &new.flow_version,
            &new.dialog_state,
            &now,
        ],
    )?;
    Ok(())
}

fn record_outbox(conn: &Connection, done: &OutboxResult, now: i64) -> Result<(), StoreError> {
    execute(
        conn,
        OUTBOX_RESULT_SQL,
        &[
            &done.tenant_id,
            &done.message_id,
            &done.status,
            &done.attempts,
            &done.provider_message_id,
            &done.last_error,
            &now,
        ],
    )?;
    Ok(())
}
