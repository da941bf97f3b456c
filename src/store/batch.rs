//! Group commit: the durable writes of many conversations share one transaction and
//! one fsync.
//!
//! Conversation writes (a user message, a turn, a new conversation, a delivered reply)
//! are queued to a writer task. The task takes whatever is queued — at most
//! [`MAX_BATCH`] — runs them in one transaction, and commits once.
//! Nothing waits to fill a batch: a write that finds the writer idle goes alone, and the
//! ones that queue while a commit is in flight share the next one. That is where the
//! throughput comes from: SQLite with `synchronous = FULL` pays an fsync per commit,
//! whatever the commit holds.
//!
//! Guarantees: a write's outcome is reported only after its batch committed, so an ack
//! never precedes durability. A write that fails on its own (a fence, a missing
//! conversation) gets its error and the others commit: the batch is then run again with
//! a savepoint per write, and the failing one is rolled back to its savepoint.
//! A batch whose commit fails reports the failure to every write in it, and none of them
//! is acked. One conversation's writes are issued one at a time by its actor and go to
//! the same queue, so they stay in order.
//!
//! SQLite has one writer, so one queue; its batches run on a connection of their own in
//! one hop (`sqlite_writer.rs`) instead of a round trip per statement. PostgreSQL gets
//! several queues (a conversation always uses the same one), so batches commit in
//! parallel on the pool.

use std::hash::{Hash, Hasher};

use sqlx::{Acquire, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;
use super::events::{TurnOutcome, TurnWrite, write_turn};
use super::now_ms;
use super::sqlite_writer::SqliteWriter;

/// Most writes committed together.
pub(super) const MAX_BATCH: usize = 256;
/// Writes waiting per queue; beyond, writers wait (backpressure on the actors).
const QUEUE: usize = 4 * MAX_BATCH;

/// A write that goes through group commit.
pub(crate) enum Write {
    Turn(Box<TurnWrite>),
    CreateConversation(super::conversations::OwnedConversation),
    FinishOutbox(super::channels::OutboxResult),
}

/// What a write produced.
pub(crate) enum Written {
    Turn(TurnOutcome),
    Done,
}

pub(super) struct Job {
    pub(super) write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The queues of the writer tasks; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Batcher {
    queues: Vec<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Batcher {
    /// Starts `writers` writer tasks on `pool` (on the current runtime).
    pub fn start(pool: AnyPool, writers: usize) -> Self {
        let queues = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(pool.clone(), rx));
                tx
            })
            .collect();
        Self { queues }
    }

    /// Starts SQLite's writer (`sqlite_writer.rs`): one queue, committed on `writer`'s
    /// own connection while holding `write_lock`, the pool of sqlx's writer connection.
    pub fn start_sqlite(writer: SqliteWriter, write_lock: AnyPool) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        writer.spawn(write_lock, rx)?;
        Ok(Self { queues: vec![tx] })
    }

    /// Queues `write` (by `key`, so one conversation's writes share a queue) and waits
    /// until its batch committed.
    pub async fn write(&self, key: &str, write: Write) -> Result<Written, StoreError> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let queue = &self.queues[(hasher.finish() as usize) % self.queues.len()];
        let (reply, answer) = oneshot::channel();
        // Counted before it is queued: the writer may take it before `send` returns.
        crate::telemetry::metrics::queued("store_writes", 1.0);
        if queue.send(Job { write, reply }).await.is_err() {
            crate::telemetry::metrics::queued("store_writes", -1.0);
            return Err(StoreError::Closed);
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// A writer task: commits what is queued, batch after batch, until the store closes.
async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        crate::telemetry::metrics::queued("store_writes", -(jobs.len() as f64));
        commit_batch(&pool, &mut jobs).await;
        jobs.clear();
    }
}

async fn commit_batch(pool: &AnyPool, jobs: &mut Vec<Job>) {
    let started = std::time::Instant::now();
    let batch = run_batch(pool, jobs).await;
    report(jobs, batch, started);
}

/// Sends each job its outcome, or the batch's failure to all of them, and records the
/// batch's size and commit time (from `started`).
pub(super) fn report(
    jobs: &mut Vec<Job>,
    batch: Result<Vec<Result<Written, StoreError>>, StoreError>,
    started: std::time::Instant,
) {
    metrics::histogram!("switchboard_store_batch_writes").record(jobs.len() as f64);
    metrics::histogram!("switchboard_store_commit_seconds").record(started.elapsed().as_secs_f64());
    let results = match batch {
        Ok(results) => results,
        Err(error) => {
            let reason = error.to_string();
            tracing::warn!(error = %reason, writes = jobs.len(), "a batch of writes failed to commit");
            for job in jobs.drain(..) {
                let _ = job.reply.send(Err(StoreError::BatchFailed(reason.clone())));
            }
            return;
        }
    };
    for (job, result) in jobs.drain(..).zip(results) {
        let _ = job.reply.send(result);
    }
}

/// Runs the jobs in one transaction and commits. `Err` only when the transaction itself
/// failed (then nothing of the batch is durable).
///
/// The fast path runs the jobs one after the other with no savepoints: a write that goes
/// wrong is rare (a fence, a conversation gone), and a savepoint costs two statements per
/// write. When any job fails, that transaction is rolled back whole and the batch runs
/// again with a savepoint per job, so the failing one is undone alone and the others
/// commit.
async fn run_batch(
    pool: &AnyPool,
    jobs: &[Job],
) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
    let mut conn = pool.acquire().await?;
    let now = now_ms();
    let mut tx = conn.begin().await?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let result = run_job(&mut tx, job, now).await;
        let failed = result.is_err();
        results.push(result);
        if failed {
            break;
        }
    }
    if results.len() == jobs.len() && results.iter().all(Result::is_ok) {
        tx.commit().await?;
        return Ok(results);
    }
    tx.rollback().await?;
    let mut tx = conn.begin().await?;
    results.clear();
    for job in jobs {
        let mut savepoint = tx.begin().await?;
        let result = run_job(&mut savepoint, job, now).await;
        if keeps(&result) {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

/// Whether a write's savepoint is kept when its batch is run again one write at a time:
/// a failed write is undone alone, and a duplicate user message wrote nothing worth
/// keeping either.
pub(super) fn keeps(result: &Result<Written, StoreError>) -> bool {
    matches!(
        result,
        Ok(Written::Turn(TurnOutcome::Stored { .. })) | Ok(Written::Done)
    )
}

async fn run_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &Job,
    now: i64,
) -> Result<Written, StoreError> {
    match &job.write {
        Write::Turn(turn) => write_turn(tx, turn, now).await.map(Written::Turn),
        Write::CreateConversation(new) => new.insert(tx, now).await.map(|()| Written::Done),
        Write::FinishOutbox(done) => done.record(tx, now).await.map(|()| Written::Done),
    }
}
