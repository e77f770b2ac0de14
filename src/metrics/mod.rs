//! Turning timestamps into figures: latency distributions ([`latency`]), the
//! per-stage breakdown ([`stages`]), device time per stage from timing events
//! ([`device_stages`]), the compute and copy limits of a GPU run ([`limits`]),
//! utilisation sampled over the measured window ([`utilization`]), when a run
//! measured in windows may stop ([`stability`]), and queueing theory's answers to
//! check them against ([`queueing`]).

pub mod device_stages;
pub mod latency;
pub mod limits;
pub mod queueing;
pub mod stability;
pub mod stages;
pub mod utilization;

pub use device_stages::{DeviceStageSummary, DeviceStageTimes};
pub use latency::{LatencyRecorder, LatencySummary};
pub use limits::{launch_bound, Bound, Limits, LAUNCH_BOUND_NOTE};
pub use stages::{StageBreakdown, StageSummary};
pub use utilization::{UtilizationSampler, UtilizationSummary};

/// The median (the mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len();
    match m {
        0 => None,
        _ if m % 2 == 1 => Some(v[m / 2]),
        _ => Some((v[m / 2 - 1] + v[m / 2]) / 2.0),
    }
}

/// Nanoseconds to milliseconds.
#[inline]
pub fn ms(ns: f64) -> f64 {
    ns / 1e6
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(super::median(&[]), None);
    }
}
