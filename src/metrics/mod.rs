//! Turning timestamps into figures: latency distributions ([`latency`]), the
//! per-stage breakdown ([`stages`]), device time per stage from timing events
//! ([`device_stages`]), the compute and copy limits of a GPU run ([`limits`]) and utilisation sampled over the measured
//! window ([`utilization`]).

pub mod device_stages;
pub mod latency;
pub mod limits;
pub mod stages;
pub mod utilization;

pub use device_stages::{DeviceStageSummary, DeviceStageTimes};
pub use latency::{LatencyRecorder, LatencySummary};
pub use limits::{Bound, Limits};
pub use stages::{StageBreakdown, StageSummary};
pub use utilization::{UtilizationSampler, UtilizationSummary};

/// Nanoseconds to milliseconds.
#[inline]
pub fn ms(ns: f64) -> f64 {
    ns / 1e6
}
