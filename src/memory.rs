//! Gives memory freed by passivated conversations back to the operating system.
//!
//! A conversation that waits passivates after `conversation.idle_timeout_secs`: its
//! actor is freed and the conversation lives on as its row. glibc's allocator keeps the
//! freed memory for later, in the middle of its heaps where it cannot shrink them, so a
//! node that once held many live actors goes on holding their bytes. When conversations
//! passivated since the last look, this job asks glibc to return whole free pages
//! (`malloc_trim`, which uses `MADV_DONTNEED`: the addresses stay valid and the pages
//! come back on use). It runs on a blocking thread every [`TRIM_EVERY`], and only on
//! glibc; elsewhere it does nothing. docs/benchmarks.md measures what it saves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How often the job looks whether actors were freed.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Conversation actors passivated since the process started.
static PASSIVATED: AtomicU64 = AtomicU64::new(0);

/// Counts a passivated conversation actor (its memory is now free).
pub fn passivated() {
    PASSIVATED.fetch_add(1, Ordering::Relaxed);
}

/// Starts the job; it ends when `stop` is cancelled.
pub fn start(stop: CancellationToken) {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    tokio::spawn(async move {
        let mut trimmed_at = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(TRIM_EVERY) => {}
            }
            let passivated = PASSIVATED.load(Ordering::Relaxed);
            if passivated == trimmed_at {
                continue;
            }
            trimmed_at = passivated;
            let started = std::time::Instant::now();
            if tokio::task::spawn_blocking(trim).await.is_ok() {
                metrics::histogram!("switchboard_memory_trim_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
