//! Property-style tests of `UpdateThrottle` with synthetic instants.

use std::time::{Duration, Instant};

use super::Rng;
use crate::channels::slack::UpdateThrottle;

const WORDS: &[&str] = &[
    "Hello", " ", "world", ".", "\n", "\n\n", "ünï", "😀", "  ", "x",
];

#[test]
fn emissions_are_growing_prefixes_spaced_by_the_interval() {
    let mut rng = Rng::new(2024);
    let t0 = Instant::now();
    for _ in 0..2000 {
        let interval = Duration::from_millis(rng.below(1500) as u64);
        let mut throttle = UpdateThrottle::new(interval);
        let mut now = t0;
        let mut full = String::new();
        let mut emitted: Vec<(Instant, String)> = Vec::new();
        for _ in 0..rng.below(40) {
            now += Duration::from_millis(rng.below(400) as u64);
            let out = if rng.below(4) == 0 {
                throttle.poll(now)
            } else {
                let fragment: String = (0..rng.below(3))
                    .map(|_| WORDS[rng.below(WORDS.len())])
                    .collect();
                full.push_str(&fragment);
                throttle.push(&fragment, now)
            };
            assert_eq!(throttle.text(), full);
            let last = emitted
                .last()
                .map(|(at, text): &(Instant, String)| (*at, text.trim_end().len()));
            match out {
                Some(text) => emitted.push((now, text)),
                None => {
                    // Nothing returned: nothing new, blank, or too soon.
                    let visible = full.trim_end().len();
                    let pending = visible > 0 && last.is_none_or(|(_, len)| len != visible);
                    if pending {
                        let (at, _) = last.expect("the first non-blank text is returned at once");
                        assert!(now.duration_since(at) < interval, "held back for no reason");
                        assert_eq!(throttle.next_due(), Some(at + interval));
                    } else {
                        assert_eq!(throttle.next_due(), None);
                    }
                }
            }
        }
        assert_eq!(throttle.finish(), full);
        for (i, (at, text)) in emitted.iter().enumerate() {
            assert!(full.starts_with(text.as_str()), "{text:?} not a prefix");
            assert!(!text.trim().is_empty());
            if i > 0 {
                let (prev_at, prev) = &emitted[i - 1];
                assert!(
                    text.trim_end().len() > prev.trim_end().len(),
                    "no visible change: {text:?}"
                );
                assert!(at.duration_since(*prev_at) >= interval, "too soon");
            }
        }
    }
}

/// Feeds `text` to a throttle in random fragments, one per `step`, and returns the
/// emitted texts and the final text.
fn run(rng: &mut Rng, text: &str, interval: Duration, step: Duration) -> (Vec<String>, String) {
    let chars: Vec<char> = text.chars().collect();
    let mut throttle = UpdateThrottle::new(interval);
    let mut now = Instant::now();
    let mut emitted = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let len = (1 + rng.below(5)).min(chars.len() - i);
        let fragment: String = chars[i..i + len].iter().collect();
        i += len;
        emitted.extend(throttle.push(&fragment, now));
        now += step;
    }
    (emitted, throttle.finish())
}

#[test]
fn final_text_is_independent_of_fragmentation() {
    let mut rng = Rng::new(7);
    for _ in 0..500 {
        let text: String = (0..rng.below(60))
            .map(|_| WORDS[rng.below(WORDS.len())])
            .collect();
        let (a_emitted, a_final) = run(
            &mut rng,
            &text,
            Duration::from_millis(300),
            Duration::from_millis(100),
        );
        let (b_emitted, b_final) = run(
            &mut rng,
            &text,
            Duration::from_millis(300),
            Duration::from_millis(100),
        );
        assert_eq!(a_final, text);
        assert_eq!(b_final, text);
        // Whatever the fragmentation, the first emission is the first non-blank prefix
        // pushed, and with all fragments at one instant nothing else is emitted.
        for emitted in [&a_emitted, &b_emitted] {
            assert!(emitted.iter().all(|e| text.starts_with(e.as_str())));
        }
        let (same_instant, _) = run(&mut rng, &text, Duration::from_millis(300), Duration::ZERO);
        assert!(same_instant.len() <= 1);
        assert_eq!(same_instant.is_empty(), text.trim().is_empty());
        // With no interval every fragment that visibly adds text is emitted, so the
        // last emission is the full text up to trailing whitespace.
        let (eager, _) = run(&mut rng, &text, Duration::ZERO, Duration::ZERO);
        if !text.trim().is_empty() {
            let last = eager.last().map(|t| t.trim_end());
            assert_eq!(last, Some(text.trim_end()));
        }
    }
}
