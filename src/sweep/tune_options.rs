//! What `inferbench tune` is asked: the goal it maximises and how it may search
//! (seed, budget, gain, limits), shared by the one-machine search (`tune_run`), the
//! search in rounds (`tune_round_run`) and the record that explains both.

use std::time::Duration;

use super::record::Percentile;
use crate::config::limits::RunLimits;

/// What the search maximises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Samples/s of the configuration as the sweep runs it.
    Throughput,
    /// Samples/s at the highest Poisson rate whose percentile stays within the
    /// budget, ms (the curve's question, asked of each point).
    MaxRate(Percentile, f64),
}

impl Goal {
    /// The goal in words: `maximum throughput`, `maximum rate with p99 ≤ 50 ms`.
    pub fn words(self) -> String {
        match self {
            Goal::Throughput => "maximum throughput".into(),
            Goal::MaxRate(p, b) => format!("maximum rate with {} ≤ {b} ms", p.name()),
        }
    }
}

/// How to search.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// What to maximise.
    pub goal: Goal,
    /// Measure every point (`true`, for comparison) instead of searching.
    pub grid: bool,
    /// Picks the start and the neighbours' order.
    pub seed: u64,
    /// Most points to measure.
    pub max_runs: Option<usize>,
    /// No point starts after this long.
    pub max_time: Option<Duration>,
    /// A neighbour must beat the current point by this fraction to move there.
    pub min_gain: f64,
    /// Each run's limits.
    pub limits: RunLimits,
    /// No progress lines.
    pub quiet: bool,
}
