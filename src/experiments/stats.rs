//! The statistics of an experiment's results: Wilson score intervals for proportions and
//! the pooled two-proportion z-test (docs/analytics.md says why these, and what they
//! assume). Checked against statsmodels and SciPy reference values
//! (`stats_fixtures.json`).

use serde::Serialize;
use utoipa::ToSchema;

/// The standard normal quantile for a 95 % two-sided interval (SciPy `norm.ppf(0.975)`).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Standard normal cumulative distribution.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The Wilson score interval of `successes` out of `trials` for quantile `z`; `None`
/// with no trials.
pub fn wilson_interval(successes: i64, trials: i64, z: f64) -> Option<(f64, f64)> {
    if trials <= 0 || successes < 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// A two-proportion z-test of arm 2 against arm 1.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ZTest {
    /// (p̂₂ − p̂₁) / pooled standard error; `None` when the test does not apply.
    pub z: Option<f64>,
    /// Two-sided.
    pub p_value: Option<f64>,
    /// `p_value < 0.05`.
    pub significant: bool,
    /// Why there is no z (too few conversations, or no variation at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
}

/// The pooled two-proportion z-test, `x1/n1` (control) against `x2/n2`, with no check of
/// the sample sizes (see [`z_test`]).
pub fn pooled_z(x1: i64, n1: i64, x2: i64, n2: i64) -> Option<(f64, f64)> {
    if n1 <= 0 || n2 <= 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se == 0.0 || !se.is_finite() {
        return None;
    }
    let z = (x2 as f64 / n2f - x1 as f64 / n1f) / se;
    let p_value = 2.0 * (1.0 - normal_cdf(z.abs()));
    Some((z, p_value))
}

/// The z-test, only where its normal approximation holds: at least 5 successes and 5
/// failures in each arm.
pub fn z_test(x1: i64, n1: i64, x2: i64, n2: i64) -> ZTest {
    let small = [(x1, n1), (x2, n2)]
        .iter()
        .any(|(x, n)| *x < 5 || n - x < 5);
    if small {
        return ZTest {
            z: None,
            p_value: None,
            significant: false,
            not_applicable: Some(
                "too few conversations: each arm needs at least 5 with and 5 without".into(),
            ),
        };
    }
    match pooled_z(x1, n1, x2, n2) {
        Some((z, p_value)) => ZTest {
            z: Some(z),
            p_value: Some(p_value),
            significant: p_value < 0.05,
            not_applicable: None,
        },
        None => ZTest {
            z: None,
            p_value: None,
            significant: false,
            not_applicable: Some("no variation between the arms".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Fixtures {
        library: String,
        z_975: f64,
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        x1: i64,
        n1: i64,
        x2: i64,
        n2: i64,
        wilson1: (f64, f64),
        wilson2: (f64, f64),
        z: f64,
        p_value: f64,
    }

    fn close(a: f64, b: f64, what: &str) {
        assert!(
            (a - b).abs() <= 1e-12 + 1e-9 * b.abs(),
            "{what}: {a} vs {b}"
        );
    }

    #[test]
    fn figures_match_the_statsmodels_and_scipy_reference_values() {
        let fixtures: Fixtures =
            serde_json::from_str(include_str!("stats_fixtures.json")).expect("fixtures");
        assert!(fixtures.library.contains("statsmodels"));
        close(Z_95, fixtures.z_975, "z 0.975");
        assert!(fixtures.cases.len() >= 8);
        for c in &fixtures.cases {
            let case = format!("{}/{} vs {}/{}", c.x1, c.n1, c.x2, c.n2);
            let (lo, hi) = wilson_interval(c.x1, c.n1, Z_95).expect("interval");
            close(lo, c.wilson1.0, &format!("{case} wilson1 low"));
            close(hi, c.wilson1.1, &format!("{case} wilson1 high"));
            let (lo, hi) = wilson_interval(c.x2, c.n2, Z_95).expect("interval");
            close(lo, c.wilson2.0, &format!("{case} wilson2 low"));
            close(hi, c.wilson2.1, &format!("{case} wilson2 high"));
            let (z, p) = pooled_z(c.x1, c.n1, c.x2, c.n2).expect("z");
            close(z, c.z, &format!("{case} z"));
            close(p, c.p_value, &format!("{case} p"));
        }
    }

    #[test]
    fn small_or_constant_samples_get_no_test() {
        assert!(z_test(2, 10, 8, 10).z.is_none());
        assert!(z_test(0, 100, 0, 100).z.is_none());
        assert_eq!(wilson_interval(0, 0, Z_95), None);
        let t = z_test(50, 100, 65, 100);
        assert!(t.significant && t.p_value.unwrap() < 0.05);
    }
}
