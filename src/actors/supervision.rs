//! Restart intensity, OTP style: at most `max_restarts` restarts of one child within
//! `window`; beyond that the supervisor stops restarting it.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RestartIntensity<K> {
    max_restarts: u32,
    window: Duration,
    history: HashMap<K, VecDeque<Instant>>,
}

impl<K: Eq + Hash> RestartIntensity<K> {
    pub fn new(max_restarts: u32, window: Duration) -> Self {
        Self {
            max_restarts,
            window,
            history: HashMap::new(),
        }
    }

    /// Records a failure of `child` at `now`; true when a restart is still allowed.
    pub fn allow_restart(&mut self, child: K, now: Instant) -> bool {
        let failures = self.history.entry(child).or_default();
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            failures.pop_front();
        }
        failures.push_back(now);
        failures.len() as u32 <= self.max_restarts
    }

    /// Forgets children whose failures are all older than the window.
    pub fn prune(&mut self, now: Instant) {
        self.history.retain(|_, failures| {
            failures
                .back()
                .is_some_and(|t| now.duration_since(*t) <= self.window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_within_the_window() {
        let mut intensity = RestartIntensity::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(intensity.allow_restart("a", t0));
        assert!(intensity.allow_restart("a", t0 + Duration::from_secs(1)));
        assert!(!intensity.allow_restart("a", t0 + Duration::from_secs(2)));
        // another child is independent (one-for-one)
        assert!(intensity.allow_restart("b", t0 + Duration::from_secs(2)));
        // once the window has passed, restarts are allowed again
        assert!(intensity.allow_restart("a", t0 + Duration::from_secs(30)));
        intensity.prune(t0 + Duration::from_secs(100));
        assert!(intensity.history.is_empty());
    }
}
