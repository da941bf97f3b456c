//! Latency histograms with logarithmic buckets, so percentiles can be summed per day and
//! read for any range without keeping every duration.
//!
//! Bucket `b` holds durations in `(1.1^(b-1), 1.1^b]` milliseconds (bucket 0: up to 1 ms),
//! so a percentile read from the buckets is at most 10 % above the exact one. A
//! percentile is the nearest rank (the smallest value with at least `p·n` values at or
//! below it), reported as its bucket's upper bound.

use std::collections::BTreeMap;

/// The growth factor between bucket bounds.
const GROWTH: f64 = 1.1;
/// The last bucket (~1.1^250 ms, beyond any real latency): longer durations land in it.
const LAST_BUCKET: u32 = 250;

/// The bucket a duration falls in.
pub fn bucket_of(ms: i64) -> u32 {
    if ms <= 1 {
        return 0;
    }
    let mut bucket = ((ms as f64).ln() / GROWTH.ln()).ceil() as u32;
    // Guard the float rounding at exact powers: the bucket's bound must cover `ms`.
    while upper_bound(bucket) < ms && bucket < LAST_BUCKET {
        bucket += 1;
    }
    while bucket > 0 && upper_bound(bucket - 1) >= ms {
        bucket -= 1;
    }
    bucket.min(LAST_BUCKET)
}

/// The largest duration (ms) in `bucket`.
pub fn upper_bound(bucket: u32) -> i64 {
    GROWTH.powi(bucket as i32).floor() as i64
}

/// Bucket → count.
pub type Histogram = BTreeMap<u32, i64>;

/// The nearest-rank percentile `p` (0 < p ≤ 1) of the durations counted, as its bucket's
/// upper bound; `None` when nothing was counted.
pub fn percentile(histogram: &Histogram, p: f64) -> Option<i64> {
    let total: i64 = histogram.values().filter(|c| **c > 0).sum();
    if total == 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bucket, count) in histogram {
        seen += (*count).max(0);
        if seen >= rank {
            return Some(upper_bound(*bucket));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_lands_in_the_bucket_whose_bounds_hold_it() {
        for ms in (0..5_000).chain([59_999, 60_000, 3_600_000]) {
            let b = bucket_of(ms);
            assert!(upper_bound(b) >= ms, "{ms} in {b}");
            assert!(b == 0 || upper_bound(b - 1) < ms, "{ms} in {b}");
            assert!((upper_bound(b) as f64) <= (ms.max(1) as f64) * 1.1 + 1.0);
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_on_bucket_bounds() {
        let mut h = Histogram::new();
        for ms in [100, 200, 300, 400] {
            *h.entry(bucket_of(ms)).or_default() += 1;
        }
        // p50 of 4 values: rank 2 → 200 ms, reported as its bucket's bound.
        assert_eq!(percentile(&h, 0.5), Some(upper_bound(bucket_of(200))));
        assert_eq!(percentile(&h, 0.95), Some(upper_bound(bucket_of(400))));
        assert_eq!(percentile(&Histogram::new(), 0.5), None);
    }
}
