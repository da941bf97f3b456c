//! Sticky arm assignment: SHA-256 of tenant, flow, experiment and external user, its
//! first 8 bytes as a number modulo the total weight, walked over the arms in order. The
//! same person gets the same arm on every node and after every restart, and nothing is
//! stored to remember it.

use sha2::{Digest, Sha256};

use super::Arm;

/// The version an experiment gives this person's new conversation; `None` when the arms
/// carry no weight.
pub fn assign(
    tenant_id: &str,
    flow_id: &str,
    experiment_id: &str,
    external_user: &str,
    arms: &[Arm],
) -> Option<i64> {
    let total: u64 = arms.iter().map(|a| u64::from(a.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut hash = Sha256::new();
    for part in [tenant_id, flow_id, experiment_id, external_user] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let mut point = u64::from_be_bytes(first) % total;
    for arm in arms {
        let weight = u64::from(arm.weight);
        if point < weight {
            return Some(arm.version);
        }
        point -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_visitors_split_within_three_percent_and_stay_put() {
        let arms = [
            Arm {
                version: 3,
                weight: 50,
            },
            Arm {
                version: 4,
                weight: 30,
            },
            Arm {
                version: 5,
                weight: 20,
            },
        ];
        let mut counts = std::collections::BTreeMap::<i64, u32>::new();
        for visitor in 0..10_000 {
            let user = format!("visitor-{visitor}");
            let version = assign("acme", "main", "exp-1", &user, &arms).expect("an arm");
            // Sticky: the same person lands on the same arm every time.
            for _ in 0..3 {
                assert_eq!(assign("acme", "main", "exp-1", &user, &arms), Some(version));
            }
            *counts.entry(version).or_default() += 1;
        }
        for arm in &arms {
            let share = f64::from(counts[&arm.version]) / 10_000.0;
            let expected = f64::from(arm.weight) / 100.0;
            assert!(
                (share - expected).abs() <= 0.03,
                "arm v{}: {share} vs {expected}",
                arm.version
            );
        }
    }

    #[test]
    fn no_weight_no_arm() {
        assert_eq!(
            assign(
                "t",
                "f",
                "e",
                "u",
                &[Arm {
                    version: 1,
                    weight: 0
                }]
            ),
            None
        );
    }
}
