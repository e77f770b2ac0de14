//! Turning timestamps into figures: latency distributions ([`latency`]), the
//! per-stage breakdown ([`stages`]) and utilisation sampled over the measured
//! window ([`utilization`]).

pub mod latency;
pub mod stages;
pub mod utilization;

pub use latency::{LatencyRecorder, LatencySummary};
pub use stages::{StageBreakdown, StageSummary};
pub use utilization::{UtilizationSampler, UtilizationSummary};

/// Nanoseconds to milliseconds.
#[inline]
pub fn ms(ns: f64) -> f64 {
    ns / 1e6
}
