//! An experiment's results per arm: containment, handoff and abandonment as proportions
//! with Wilson intervals, each arm tested against the first (the control) with the
//! two-proportion z-test, and cost per conversation (no test). Computed from the
//! analytics summaries of the conversations that started while the experiment ran.

use serde::Serialize;
use utoipa::ToSchema;

use super::Arm;
use super::stats::{Z_95, ZTest, wilson_interval, z_test};
use crate::store::OutcomeCounts;

/// A proportion of an arm's conversations, with its 95 % Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Proportion {
    pub count: i64,
    pub rate: f64,
    /// `null` with no conversations.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// An arm against the control, one test per proportion.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Comparison {
    pub containment: ZTest,
    pub handoff: ZTest,
    pub abandonment: ZTest,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ArmResult {
    pub version: i64,
    pub weight: u32,
    pub conversations: i64,
    pub containment: Proportion,
    pub handoff: Proportion,
    pub abandonment: Proportion,
    pub cost_micros: i64,
    pub cost_per_conversation_micros: f64,
    /// Against the first arm; `null` for the first arm itself.
    pub vs_control: Option<Comparison>,
}

fn proportion(count: i64, trials: i64) -> Proportion {
    let interval = wilson_interval(count, trials, Z_95);
    Proportion {
        count,
        rate: if trials > 0 {
            count as f64 / trials as f64
        } else {
            0.0
        },
        ci_low: interval.map(|i| i.0),
        ci_high: interval.map(|i| i.1),
    }
}

/// The results of `arms` from the outcome counts per version.
pub fn results(arms: &[Arm], counts: &[OutcomeCounts]) -> Vec<ArmResult> {
    let of = |version: i64| {
        counts
            .iter()
            .find(|c| c.flow_version == version)
            .cloned()
            .unwrap_or(OutcomeCounts {
                flow_version: version,
                ..OutcomeCounts::default()
            })
    };
    let control = arms.first().map(|arm| of(arm.version));
    arms.iter()
        .enumerate()
        .map(|(index, arm)| {
            let c = of(arm.version);
            let n = c.conversations;
            let vs_control = match (&control, index) {
                (Some(k), i) if i > 0 => Some(Comparison {
                    containment: z_test(k.contained, k.conversations, c.contained, n),
                    handoff: z_test(k.handed_off, k.conversations, c.handed_off, n),
                    abandonment: z_test(k.abandoned, k.conversations, c.abandoned, n),
                }),
                _ => None,
            };
            ArmResult {
                version: arm.version,
                weight: arm.weight,
                conversations: n,
                containment: proportion(c.contained, n),
                handoff: proportion(c.handed_off, n),
                abandonment: proportion(c.abandoned, n),
                cost_micros: c.cost_micros,
                cost_per_conversation_micros: if n > 0 {
                    c.cost_micros as f64 / n as f64
                } else {
                    0.0
                },
                vs_control,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_arm_is_compared_with_the_first() {
        let arms = [
            Arm {
                version: 3,
                weight: 50,
            },
            Arm {
                version: 4,
                weight: 50,
            },
        ];
        let counts = [
            OutcomeCounts {
                flow_version: 3,
                conversations: 100,
                contained: 50,
                handed_off: 10,
                abandoned: 2,
                cost_micros: 1_000,
            },
            OutcomeCounts {
                flow_version: 4,
                conversations: 100,
                contained: 65,
                handed_off: 10,
                abandoned: 3,
                cost_micros: 3_000,
            },
        ];
        let results = results(&arms, &counts);
        assert!(results[0].vs_control.is_none());
        let vs = results[1].vs_control.as_ref().expect("compared");
        // statsmodels 0.15.0 (stats_fixtures.json, first case): 50/100 vs 65/100.
        let z = vs.containment.z.expect("z");
        assert!((z - 2.1455956195564547).abs() < 1e-12, "{z}");
        assert!(vs.containment.significant);
        // Equal handoff rates: z = 0, p = 1.
        assert_eq!(vs.handoff.z, Some(0.0));
        assert!(!vs.handoff.significant);
        assert!((vs.handoff.p_value.unwrap() - 1.0).abs() < 1e-12);
        assert!(vs.abandonment.not_applicable.is_some(), "too few abandoned");
        let ci = &results[0].containment;
        assert!((ci.ci_low.unwrap() - 0.4038315303659956).abs() < 1e-12);
        assert_eq!(results[1].cost_per_conversation_micros, 30.0);
        // A version with no conversations yet: zeros, no interval.
        let empty = super::results(&arms, &counts[..1]);
        assert_eq!(empty[1].conversations, 0);
        assert_eq!(empty[1].containment.ci_low, None);
    }
}
