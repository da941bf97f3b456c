//! How Slack "streams" an LLM reply: post the first text, then `chat.update` the same
//! message with the growing text — but no more often than a minimum interval, since
//! Slack rate-limits `chat.update` (about one call per second per channel).
//!
//! [`UpdateThrottle`] is the pure decision logic (no IO, no clock: the caller passes
//! `now`). It accumulates fragments and says when the full text so far should be
//! sent: the first non-blank text immediately, then at most once per `min_interval`,
//! and only when the text visibly changed (not just trailing whitespace).
//! [`UpdateThrottle::poll`] and [`UpdateThrottle::next_due`] let a caller flush
//! pending text on a timer when the model pauses; [`UpdateThrottle::finish`] gives
//! the final text, which the caller always sends as the last post/update.

use std::time::{Duration, Instant};

/// Rate-limits streaming post/update calls. See the module docs.
#[derive(Debug, Clone)]
pub struct UpdateThrottle {
    min_interval: Duration,
    text: String,
    /// When text was last handed out, and its length without trailing whitespace.
    last_emit: Option<(Instant, usize)>,
}

impl UpdateThrottle {
    pub fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            text: String::new(),
            last_emit: None,
        }
    }

    /// Appends `fragment`; returns the full text so far if it should be posted (first
    /// time) or updated now, `None` otherwise. Blank text is never returned (Slack
    /// rejects it), nor text that differs from the last returned only by trailing
    /// whitespace (Slack would render it the same).
    pub fn push(&mut self, fragment: &str, now: Instant) -> Option<String> {
        self.text.push_str(fragment);
        self.poll(now)
    }

    /// Like [`push`](Self::push) without new text: returns pending text if its turn
    /// has come. Call it when the timer from [`next_due`](Self::next_due) fires.
    pub fn poll(&mut self, now: Instant) -> Option<String> {
        if !self.has_pending() {
            return None;
        }
        let due = match self.last_emit {
            None => true,
            Some((at, _)) => now.saturating_duration_since(at) >= self.min_interval,
        };
        if !due {
            return None;
        }
        self.last_emit = Some((now, self.text.trim_end().len()));
        Some(self.text.clone())
    }

    /// When pending (not yet returned) text may next be returned; `None` if nothing is
    /// pending. An instant in the past means "now".
    pub fn next_due(&self) -> Option<Instant> {
        if !self.has_pending() {
            return None;
        }
        // Pending non-blank text with nothing emitted yet cannot happen: `push` would
        // have returned it immediately.
        let (at, _) = self.last_emit?;
        Some(at.checked_add(self.min_interval).unwrap_or(at))
    }

    /// Whether some text has been returned, i.e. a message was posted and the final
    /// text should go out as `chat.update` rather than `chat.postMessage`.
    pub fn has_emitted(&self) -> bool {
        self.last_emit.is_some()
    }

    /// The full text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Ends the stream: the final full text, to send as the last post/update.
    pub fn finish(self) -> String {
        self.text
    }

    /// Whether the text has visibly grown since it was last returned. Text only grows,
    /// so a longer trimmed length is new content (and blank text has length 0).
    fn has_pending(&self) -> bool {
        let emitted_len = self.last_emit.map_or(0, |(_, len)| len);
        self.text.trim_end().len() > emitted_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fragment_immediately_then_at_most_once_per_interval() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut th = UpdateThrottle::new(ms(1000));
        assert_eq!(th.push("Hel", t0).as_deref(), Some("Hel"));
        assert_eq!(th.push("lo", t0 + ms(10)), None);
        assert_eq!(th.next_due(), Some(t0 + ms(1000)));
        assert_eq!(th.push(" wor", t0 + ms(999)), None);
        assert_eq!(th.push("ld", t0 + ms(1000)).as_deref(), Some("Hello world"));
        assert_eq!(th.poll(t0 + ms(5000)), None, "nothing new");
        assert_eq!(th.next_due(), None);
        assert_eq!(th.push("!", t0 + ms(1500)), None);
        assert_eq!(th.poll(t0 + ms(2000)).as_deref(), Some("Hello world!"));
        assert_eq!(th.finish(), "Hello world!");
    }

    #[test]
    fn blank_text_is_not_posted() {
        let t0 = Instant::now();
        let mut th = UpdateThrottle::new(Duration::from_secs(1));
        assert_eq!(th.push("  \n", t0), None);
        assert!(!th.has_emitted());
        assert_eq!(th.push("Hi", t0).as_deref(), Some("  \nHi"));
        assert!(th.has_emitted());
    }

    #[test]
    fn trailing_whitespace_alone_is_not_an_update() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut th = UpdateThrottle::new(s(1));
        assert_eq!(th.push("Para one.", t0).as_deref(), Some("Para one."));
        assert_eq!(th.push("\n\n", t0 + s(2)), None);
        assert_eq!(
            th.push("Two", t0 + s(3)).as_deref(),
            Some("Para one.\n\nTwo")
        );
    }

    #[test]
    fn clock_going_backwards_does_not_panic_or_emit() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut th = UpdateThrottle::new(Duration::from_secs(1));
        assert!(th.push("a", t0).is_some());
        assert_eq!(th.push("b", t0 - Duration::from_secs(5)), None);
    }
}
