//! The circuit breaker of each (provider, model, credential).
//!
//! Closed, it counts failures (connect errors, 5xx, timeouts before the first token):
//! `failures` of them within `window_secs` open it. Open, it rejects at once, so a route
//! moves on to its next target without touching the failing upstream. After `open_secs`
//! it is half-open: up to `half_open_probes` calls go through; a probe that succeeds
//! closes it, one that fails opens it again. Every change of state is logged and told to
//! the [`BreakerListener`] (alerts).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::BreakerConfig;

/// Which breaker: one per provider, model and credential (`config` for the operator's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BreakerKey {
    pub provider: String,
    pub model: String,
    pub credential: String,
}

impl std::fmt::Display for BreakerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)?;
        if self.credential != "config" {
            write!(f, " ({})", self.credential)?;
        }
        Ok(())
    }
}

/// What the breaker lets a call do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Allowed,
    /// Half-open: this call is a probe; its outcome decides.
    Probe,
    Rejected,
}

/// A breaker's state, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BreakerStatus {
    pub provider: String,
    pub model: String,
    pub credential: String,
    /// `closed`, `open` or `half_open`.
    pub state: &'static str,
    /// Failures counted in the current window (closed).
    pub recent_failures: u32,
    /// Milliseconds until an open breaker lets probes through.
    pub retry_in_ms: Option<u64>,
}

/// Told when a breaker of this node opens (for `open_for`) or closes (after a
/// half-open probe succeeded). Not told of changes forced from outside.
pub trait BreakerListener: Send + Sync {
    fn opened(&self, key: &BreakerKey, open_for: Duration);
    fn closed(&self, key: &BreakerKey);
}

enum State {
    Closed {
        failures: VecDeque<Instant>,
    },
    Open {
        until: Instant,
    },
    /// `since`: when the probes went out. A probe that never reports (its call was
    /// cancelled) holds its place for `open_secs` at most.
    HalfOpen {
        probes: u32,
        since: Instant,
    },
}

/// Every breaker of one node.
pub(crate) struct Breakers {
    cfg: BreakerConfig,
    states: DashMap<BreakerKey, Mutex<State>>,
    listeners: Mutex<Vec<Arc<dyn BreakerListener>>>,
}

impl Breakers {
    pub(crate) fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            states: DashMap::new(),
            listeners: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn add_listener(&self, listener: Arc<dyn BreakerListener>) {
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.push(listener);
        }
    }

    /// Another node's breaker for `key` opened (`Some(for how long)`) or closed: this
    /// node's follows, without telling its listeners.
    pub(crate) fn force(&self, key: &BreakerKey, open_for: Option<Duration>) {
        let now = Instant::now();
        self.with_state(key, |state| {
            *state = match open_for {
                Some(open_for) => State::Open {
                    until: now + open_for,
                },
                None => State::Closed {
                    failures: VecDeque::new(),
                },
            }
        });
        breaker_gauge(key, if open_for.is_some() { 1.0 } else { 0.0 });
        info!(target = %key, open = open_for.is_some(), "circuit breaker follows another node");
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.cfg.window_secs)
    }

    fn with_state<T>(&self, key: &BreakerKey, f: impl FnOnce(&mut State) -> T) -> T {
        let entry = self.states.entry(key.clone()).or_insert_with(|| {
            Mutex::new(State::Closed {
                failures: VecDeque::new(),
            })
        });
        let mut state = entry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }

    /// May a call to `key` go out now?
    pub(crate) fn admit(&self, key: &BreakerKey) -> Admission {
        if self.cfg.failures == 0 {
            return Admission::Allowed; // disabled
        }
        let now = Instant::now();
        let probes = self.cfg.half_open_probes.max(1);
        let stale = Duration::from_secs(self.cfg.open_secs);
        self.with_state(key, |state| match state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now < *until => Admission::Rejected,
            State::Open { .. } => {
                *state = State::HalfOpen {
                    probes: 1,
                    since: now,
                };
                info!(target = %key, "circuit breaker half-open: probing");
                Admission::Probe
            }
            State::HalfOpen { since, .. } if now.duration_since(*since) >= stale => {
                *state = State::HalfOpen {
                    probes: 1,
                    since: now,
                };
                Admission::Probe
            }
            State::HalfOpen {
                probes: running, ..
            } if *running < probes => {
                *running += 1;
                Admission::Probe
            }
            State::HalfOpen { .. } => Admission::Rejected,
        })
    }

    /// A call to `key` succeeded (its first token arrived).
    pub(crate) fn success(&self, key: &BreakerKey, admission: Admission) {
        if admission != Admission::Probe {
            return;
        }
        let closed = self.with_state(key, |state| {
            let was_half_open = matches!(state, State::HalfOpen { .. });
            *state = State::Closed {
                failures: VecDeque::new(),
            };
            was_half_open
        });
        if closed {
            breaker_gauge(key, 0.0);
            info!(target = %key, "circuit breaker closed: the probe succeeded");
            for listener in self.listeners() {
                listener.closed(key);
            }
        }
    }

    /// A call to `key` failed in a way that says the upstream is unwell.
    pub(crate) fn failure(&self, key: &BreakerKey, admission: Admission) {
        if self.cfg.failures == 0 {
            return;
        }
        let now = Instant::now();
        let open_for = Duration::from_secs(self.cfg.open_secs);
        let window = self.window();
        let threshold = self.cfg.failures as usize;
        let opened = self.with_state(key, |state| match state {
            State::Closed { failures } => {
                failures.push_back(now);
                while failures
                    .front()
                    .is_some_and(|at| now.duration_since(*at) > window)
                {
                    failures.pop_front();
                }
                if failures.len() >= threshold {
                    *state = State::Open {
                        until: now + open_for,
                    };
                    true
                } else {
                    false
                }
            }
            State::HalfOpen { .. } if admission == Admission::Probe => {
                *state = State::Open {
                    until: now + open_for,
                };
                true
            }
            _ => false,
        });
        if opened {
            breaker_gauge(key, 1.0);
            warn!(target = %key, failures = self.cfg.failures, window_secs = self.cfg.window_secs,
                open_secs = self.cfg.open_secs, "circuit breaker opened: calls to this target are refused at once");
            for listener in self.listeners() {
                listener.opened(key, open_for);
            }
        }
    }

    fn listeners(&self) -> Vec<Arc<dyn BreakerListener>> {
        self.listeners.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every breaker that has seen a call, by key.
    pub(crate) fn statuses(&self) -> Vec<BreakerStatus> {
        let now = Instant::now();
        let window = self.window();
        let mut out: Vec<BreakerStatus> = self
            .states
            .iter()
            .map(|entry| {
                let key = entry.key();
                let state = entry.value().lock().unwrap_or_else(|p| p.into_inner());
                let (name, recent, retry_in) = match &*state {
                    State::Closed { failures } => (
                        "closed",
                        failures
                            .iter()
                            .filter(|at| now.duration_since(**at) <= window)
                            .count() as u32,
                        None,
                    ),
                    State::Open { until } if now < *until => (
                        "open",
                        0,
                        Some(
                            u64::try_from(until.duration_since(now).as_millis())
                                .unwrap_or(u64::MAX),
                        ),
                    ),
                    State::Open { .. } => ("open", 0, Some(0)),
                    State::HalfOpen { .. } => ("half_open", 0, None),
                };
                BreakerStatus {
                    provider: key.provider.clone(),
                    model: key.model.clone(),
                    credential: key.credential.clone(),
                    state: name,
                    recent_failures: recent,
                    retry_in_ms: retry_in,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        out
    }
}

/// `switchboard_breaker_open{provider, model}`: 1 while open.
fn breaker_gauge(key: &BreakerKey, value: f64) {
    metrics::gauge!("switchboard_breaker_open", "provider" => key.provider.clone(), "model" => key.model.clone())
        .set(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BreakerKey {
        BreakerKey {
            provider: "p".into(),
            model: "m".into(),
            credential: "config".into(),
        }
    }

    fn breakers() -> Breakers {
        Breakers::new(BreakerConfig {
            failures: 5,
            window_secs: 30,
            open_secs: 30,
            half_open_probes: 1,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn five_failures_in_the_window_open_it_and_a_probe_closes_it() {
        let b = breakers();
        for _ in 0..4 {
            assert_eq!(b.admit(&key()), Admission::Allowed);
            b.failure(&key(), Admission::Allowed);
        }
        assert_eq!(b.statuses()[0].recent_failures, 4);
        b.failure(&key(), Admission::Allowed);
        assert_eq!(b.admit(&key()), Admission::Rejected);
        assert_eq!(b.statuses()[0].state, "open");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(b.admit(&key()), Admission::Probe);
        assert_eq!(b.admit(&key()), Admission::Rejected, "one probe at a time");
        b.success(&key(), Admission::Probe);
        assert_eq!(b.statuses()[0].state, "closed");
        assert_eq!(b.admit(&key()), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_beyond_the_window_do_not_open_it() {
        let b = breakers();
        for _ in 0..10 {
            b.failure(&key(), Admission::Allowed);
            tokio::time::advance(Duration::from_secs(8)).await;
        }
        assert_eq!(b.admit(&key()), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again() {
        let b = breakers();
        for _ in 0..5 {
            b.failure(&key(), Admission::Allowed);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(b.admit(&key()), Admission::Probe);
        b.failure(&key(), Admission::Probe);
        assert_eq!(b.admit(&key()), Admission::Rejected);
        assert_eq!(b.statuses()[0].state, "open");
    }
}
