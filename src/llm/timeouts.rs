//! Deadline enforcement shared by every backend. A completion gets three clocks:
//! the first fragment (including connecting and receiving response headers) must
//! arrive within `first_token`, every later fragment within `idle` of asking for it,
//! and the whole reply within `total`. The first clock to expire produces one
//! [`LlmError::Timeout`] item and ends the stream; the backend stream is dropped at
//! that moment so its upstream connection is closed instead of lingering.
//!
//! Uses `tokio::time::Instant`, so tests can drive it with `tokio::time::pause`.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::{Instant, timeout_at};

use super::{LlmError, TimeoutPhase, TokenStream};

/// The three deadlines of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub first_token: Duration,
    pub idle: Duration,
    pub total: Duration,
}

impl Timeouts {
    fn error(&self, phase: TimeoutPhase) -> LlmError {
        let after = match phase {
            TimeoutPhase::FirstToken => self.first_token,
            TimeoutPhase::Idle => self.idle,
            TimeoutPhase::Total => self.total,
        };
        LlmError::Timeout {
            phase,
            after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Per-stream clock state carried through `unfold`.
struct Clock {
    inner: Option<TokenStream>,
    limits: Timeouts,
    first_deadline: Instant,
    total_deadline: Instant,
    got_first: bool,
}

impl Clock {
    /// The deadline for the next item and the phase to blame if it passes.
    fn next_deadline(&self) -> (Instant, TimeoutPhase) {
        let (deadline, phase) = if self.got_first {
            (Instant::now() + self.limits.idle, TimeoutPhase::Idle)
        } else {
            (self.first_deadline, TimeoutPhase::FirstToken)
        };
        earliest(deadline, phase, self.total_deadline)
    }
}

/// Picks the phase-specific deadline unless the total deadline comes strictly earlier.
fn earliest(deadline: Instant, phase: TimeoutPhase, total: Instant) -> (Instant, TimeoutPhase) {
    if total < deadline {
        (total, TimeoutPhase::Total)
    } else {
        (deadline, phase)
    }
}

/// Runs `open` (connect + send + await headers) under the first-token clock and wraps
/// the stream it returns so the remaining clocks apply to every item.
pub(crate) async fn guarded<F>(limits: Timeouts, open: F) -> Result<TokenStream, LlmError>
where
    F: Future<Output = Result<TokenStream, LlmError>>,
{
    let started = Instant::now();
    let first_deadline = started + limits.first_token;
    let total_deadline = started + limits.total;
    let (deadline, phase) = earliest(first_deadline, TimeoutPhase::FirstToken, total_deadline);
    let inner = match timeout_at(deadline, open).await {
        Ok(result) => result?,
        Err(_) => return Err(limits.error(phase)),
    };
    let clock = Clock {
        inner: Some(inner),
        limits,
        first_deadline,
        total_deadline,
        got_first: false,
    };
    Ok(Box::pin(futures_util::stream::unfold(
        clock,
        |mut clock| async move {
            let (deadline, phase) = clock.next_deadline();
            let inner = clock.inner.as_mut()?;
            match timeout_at(deadline, inner.next()).await {
                Ok(Some(Ok(fragment))) => {
                    clock.got_first = true;
                    Some((Ok(fragment), clock))
                }
                Ok(Some(Err(err))) => {
                    clock.inner = None;
                    Some((Err(err), clock))
                }
                Ok(None) => None,
                Err(_) => {
                    clock.inner = None;
                    let err = clock.limits.error(phase);
                    Some((Err(err), clock))
                }
            }
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(first: u64, idle: u64, total: u64) -> Timeouts {
        Timeouts {
            first_token: Duration::from_millis(first),
            idle: Duration::from_millis(idle),
            total: Duration::from_millis(total),
        }
    }

    /// A backend that yields `n` fragments, sleeping the given delays before each.
    fn scripted(delays: Vec<u64>) -> TokenStream {
        Box::pin(futures_util::stream::iter(delays).then(|ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(format!("t{ms} "))
        }))
    }

    async fn drain(s: TokenStream) -> (Vec<String>, Option<LlmError>) {
        let items: Vec<_> = s.collect().await;
        let mut ok = Vec::new();
        let mut err = None;
        for item in items {
            match item {
                Ok(t) => ok.push(t),
                Err(e) => {
                    assert!(err.is_none(), "more than one error item");
                    err = Some(e);
                }
            }
        }
        (ok, err)
    }

    #[tokio::test(start_paused = true)]
    async fn passes_through_when_in_time() {
        let s = guarded(limits(100, 100, 1000), async {
            Ok(scripted(vec![50, 90, 90]))
        })
        .await
        .unwrap();
        let (ok, err) = drain(s).await;
        assert_eq!(ok.len(), 3);
        assert_eq!(err, None);
    }

    #[tokio::test(start_paused = true)]
    async fn first_token_timeout() {
        let s = guarded(limits(100, 1000, 5000), async { Ok(scripted(vec![150])) })
            .await
            .unwrap();
        let (ok, err) = drain(s).await;
        assert!(ok.is_empty());
        assert_eq!(
            err,
            Some(LlmError::Timeout {
                phase: TimeoutPhase::FirstToken,
                after_ms: 100
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_open_counts_against_first_token() {
        let res = guarded(limits(100, 1000, 5000), async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(scripted(vec![]))
        })
        .await;
        assert!(matches!(
            res,
            Err(LlmError::Timeout {
                phase: TimeoutPhase::FirstToken,
                ..
            })
        ));
        // Open took 60 of 100 ms; the first token then has only 40 ms left.
        let s = guarded(limits(100, 1000, 5000), async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            Ok(scripted(vec![50]))
        })
        .await
        .unwrap();
        let (_, err) = drain(s).await;
        assert!(matches!(
            err,
            Some(LlmError::Timeout {
                phase: TimeoutPhase::FirstToken,
                ..
            })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_after_some_tokens() {
        let s = guarded(limits(100, 100, 5000), async {
            Ok(scripted(vec![10, 10, 500, 10]))
        })
        .await
        .unwrap();
        let (ok, err) = drain(s).await;
        assert_eq!(ok.len(), 2);
        assert!(matches!(
            err,
            Some(LlmError::Timeout {
                phase: TimeoutPhase::Idle,
                after_ms: 100
            })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn total_timeout_wins_over_idle() {
        let s = guarded(limits(100, 100, 250), async {
            Ok(scripted(vec![80, 80, 80, 80, 80]))
        })
        .await
        .unwrap();
        let (ok, err) = drain(s).await;
        assert_eq!(ok.len(), 3);
        assert!(matches!(
            err,
            Some(LlmError::Timeout {
                phase: TimeoutPhase::Total,
                after_ms: 250
            })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn backend_error_ends_stream() {
        let inner: TokenStream = Box::pin(futures_util::stream::iter(vec![
            Ok("a".to_owned()),
            Err(LlmError::Protocol("bad".into())),
            Ok("never".to_owned()),
        ]));
        let s = guarded(limits(100, 100, 250), async { Ok(inner) })
            .await
            .unwrap();
        let (ok, err) = drain(s).await;
        assert_eq!(ok, vec!["a".to_owned()]);
        assert_eq!(err, Some(LlmError::Protocol("bad".into())));
    }
}
