//! The usage recorder: the gateway's [`UsageSink`] in a running node. A finished call is
//! queued without waiting (the gateway records from `Drop` too) and a writer task stores
//! the queue in batches, one transaction each. A batch that fails because of the
//! connection is kept and retried with backoff (the inserts are idempotent), so a
//! database hiccup delays metering but never drops or doubles it; shutdown flushes what
//! is queued (10 s at most) before the store closes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::llm::{ModelCall, UsageSink};
use crate::store::{Store, StoreError};

/// Calls stored per transaction at most.
const BATCH: usize = 256;

enum Item {
    Call(Box<ModelCall>),
    /// Answered once everything queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Cheap-clone handle to the recorder task.
#[derive(Clone)]
pub struct UsageRecorder {
    tx: Arc<Mutex<Option<mpsc::UnboundedSender<Item>>>>,
}

impl UsageRecorder {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, rx));
        Self {
            tx: Arc::new(Mutex::new(Some(tx))),
        }
    }

    /// Waits until every call recorded before now is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        let sent = self
            .tx
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.send(Item::Flush(done)).is_ok()));
        if sent == Some(true) {
            let _ = wait.await;
        }
    }

    /// Stores what is queued (waiting 10 s at most, so a failing database cannot hold
    /// up a shutdown) and stops the task; later records are dropped with a warning.
    pub async fn close(&self) {
        if tokio::time::timeout(Duration::from_secs(10), self.flush())
            .await
            .is_err()
        {
            warn!("model calls still queued at shutdown could not be stored in time");
        }
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

impl UsageSink for UsageRecorder {
    fn record(&self, call: ModelCall) {
        // Counted before it is queued: the writer may take it before `send` returns.
        crate::telemetry::metrics::queued("usage_records", 1.0);
        let sent = self.tx.lock().ok().and_then(|tx| {
            tx.as_ref()
                .map(|tx| tx.send(Item::Call(Box::new(call))).is_ok())
        });
        if sent != Some(true) {
            crate::telemetry::metrics::queued("usage_records", -1.0);
            warn!("a model call finished after the usage recorder closed; it is not metered");
        }
    }
}

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut items = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut items, BATCH).await > 0 {
        let mut calls = Vec::with_capacity(items.len());
        let mut flushes = Vec::new();
        for item in items.drain(..) {
            match item {
                Item::Call(call) => {
                    crate::telemetry::metrics::queued("usage_records", -1.0);
                    calls.push(*call)
                }
                Item::Flush(done) => flushes.push(done),
            }
        }
        let mut backoff = Duration::from_millis(100);
        while let Err(error) = store.record_model_calls(&calls).await {
            // Only a lost connection or a full pool is worth retrying: the inserts are
            // idempotent, so a retry after an ambiguous commit stores nothing twice. Any
            // other error would fail again forever.
            let retryable = matches!(
                &error,
                StoreError::Database(
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::Protocol(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::WorkerCrashed
                )
            );
            if !retryable {
                tracing::error!(%error, calls = calls.len(), "model calls could not be metered");
                break;
            }
            warn!(%error, calls = calls.len(), retry_in_ms = backoff.as_millis() as u64,
                "could not store metered model calls; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
