//! Experiments: a flow's new conversations split across two or more of its versions by
//! weight, sticky per person, with results that say which version wins
//! (docs/analytics.md).
//!
//! `assign` picks an arm from a stable hash (no table on the hot path), `cache` keeps
//! each flow's running experiment beside its active version, and `stats` holds the
//! Wilson intervals and the two-proportion z-test that `results` applies per arm.

pub mod assign;
pub mod cache;
pub mod results;
pub mod stats;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One arm: a published version and its share of new conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub version: i64,
    /// A positive integer; an arm's share is its weight over the sum of weights.
    pub weight: u32,
}

/// A running experiment, as conversations are assigned by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningExperiment {
    pub id: String,
    pub flow_id: String,
    pub arms: Vec<Arm>,
}
