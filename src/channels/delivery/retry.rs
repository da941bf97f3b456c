//! How a delivery is retried: `429` waits for `Retry-After`, transient failures back off
//! exponentially, permanent ones stop at once. Bounded, so a dead provider cannot hold a
//! conversation's queue forever; the reply is then marked failed in the outbox and the
//! transcript says so.

use std::future::Future;
use std::time::Duration;

use crate::channels::inbound::SendError;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        (self.base_backoff * factor).min(self.max_backoff)
    }

    /// Runs `op` until it succeeds, fails permanently or runs out of attempts.
    /// Returns the result and the number of attempts made.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> (Result<T, SendError>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SendError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match op().await {
                Ok(value) => return (Ok(value), attempt),
                Err(error) => error,
            };
            let wait = match &error {
                SendError::Permanent(_) => return (Err(error), attempt),
                _ if attempt >= self.max_attempts => return (Err(error), attempt),
                SendError::RateLimited { retry_after_ms } => Duration::from_millis(*retry_after_ms)
                    .min(self.max_backoff.max(Duration::from_secs(60))),
                SendError::Transient(_) => self.backoff(attempt),
            };
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "delivery retry");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    };

    #[tokio::test(start_paused = true)]
    async fn retries_transient_and_rate_limited_then_succeeds() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let (result, attempts) = POLICY
            .run(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(SendError::RateLimited {
                        retry_after_ms: 2_000,
                    }),
                    1 => Err(SendError::Transient("500".into())),
                    _ => Ok("id"),
                }
            })
            .await;
        assert_eq!((result, attempts), (Ok("id"), 3));
        // 2 s for Retry-After, then 200 ms of backoff after the second attempt.
        assert_eq!(started.elapsed(), Duration::from_millis(2_200));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_stops_and_attempts_are_bounded() {
        let (result, attempts) = POLICY
            .run(|| async { Err::<(), _>(SendError::Permanent("invalid_auth".into())) })
            .await;
        assert_eq!(attempts, 1);
        assert!(result.is_err());
        let (result, attempts) = POLICY
            .run(|| async { Err::<(), _>(SendError::Transient("down".into())) })
            .await;
        assert_eq!(attempts, 4);
        assert!(result.is_err());
    }
}
