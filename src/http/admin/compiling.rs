//! Flow compiles asked by admin requests (validate, save, publish, simulate): off the HTTP
//! workers, and bounded.
//!
//! Compiling is CPU work. An actix worker is a single-threaded runtime that serves every
//! connection it accepted, so a compile there would stall them all; it runs on actix's
//! blocking pool (`web::block`) instead. Its cost per request is bounded by the body limit
//! and the YAML parser's budgets (`dialog/source_map.rs`), every pass after the parser being
//! linear in what the parser let through. How many run at once is bounded here, process-wide
//! (the compiles of every node in a process compete for the same cores): a request that
//! cannot start within [`MAX_WAIT`] gets 503 `busy` with `Retry-After`.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::web;
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::dialog::{self, CompileOptions, CompiledFlow, Diagnostic};

/// Compiles running at once in this process.
pub const MAX_CONCURRENT: usize = 2;

/// How long a request waits for its turn before it is told to retry.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(MAX_CONCURRENT))
}

/// [`dialog::compile_report`] on the blocking pool, once a permit is free: the flow when
/// it has no error, and every diagnostic.
pub async fn compile_report(
    file: String,
    source: String,
    options: CompileOptions,
) -> Result<(Option<CompiledFlow>, Vec<Diagnostic>), ApiError> {
    compile_within(permits(), MAX_WAIT, file, source, options).await
}

async fn compile_within(
    permits: &Semaphore,
    wait: Duration,
    file: String,
    source: String,
    options: CompileOptions,
) -> Result<(Option<CompiledFlow>, Vec<Diagnostic>), ApiError> {
    let _permit = tokio::time::timeout(wait, permits.acquire())
        .await
        .map_err(|_| ApiError::Busy)?
        .map_err(|_| ApiError::Internal)?;
    web::block(move || dialog::compile_report(&file, &source, &options))
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "the flow compiler failed on the blocking pool");
            ApiError::Internal
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_compile_that_cannot_start_in_time_is_busy() {
        let none = Semaphore::new(0);
        let outcome = compile_within(
            &none,
            Duration::from_millis(10),
            "f.yaml".into(),
            "id: f".into(),
            CompileOptions::default(),
        )
        .await;
        assert!(
            matches!(outcome, Err(ApiError::Busy)),
            "{:?}",
            outcome.err()
        );
    }
}
