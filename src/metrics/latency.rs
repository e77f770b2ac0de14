//! Latency distribution of the measured requests.
//!
//! Percentiles come from an HDR histogram (3 significant digits, so each is exact
//! to 0.1 %), which records in constant time instead of sorting a growing Vec.
//! Mean, standard deviation, min and max are kept exactly alongside, since they
//! cost two additions a record.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::ms;

/// Longest latency the histogram resolves (one hour); longer ones count as one hour
/// in the percentiles, while min, max and mean stay exact.
const MAX_TRACKED_NS: u64 = 3_600_000_000_000;

/// Records latencies in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histogram: Histogram<u64>,
    count: u64,
    mean: f64,
    m2: f64,
    min: u64,
    max: u64,
}

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Requests recorded.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (as numpy's `std`, which the seed used).
    pub std: f64,
    /// Smallest latency.
    pub min: f64,
    /// 50th percentile.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest latency.
    pub max: f64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder; the histogram grows to whatever range it is fed.
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_TRACKED_NS, 3)
                .expect("bounds and 3 significant digits are valid; this is a bug"),
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.histogram.saturating_record(ns);
        self.count += 1;
        let x = ns as f64;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at `quantile` (0..=1) in nanoseconds, to the histogram's precision.
    pub fn quantile_ns(&self, quantile: f64) -> u64 {
        self.histogram.value_at_quantile(quantile)
    }

    /// The distribution in milliseconds, or `None` if nothing was recorded.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.count == 0 {
            return None;
        }
        let q = |p: f64| ms(self.quantile_ns(p) as f64);
        Some(LatencySummary {
            count: self.count,
            mean: ms(self.mean),
            std: ms((self.m2 / self.count as f64).sqrt()),
            min: ms(self.min as f64),
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: ms(self.max as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_set_are_exact_to_precision() {
        // 1..=1000 µs: the p-th percentile is p*10 µs.
        let mut r = LatencyRecorder::new();
        for us in 1..=1000u64 {
            r.record(us * 1000);
        }
        let s = r.summary().unwrap();
        for (got, want) in [
            (s.p50, 0.5),
            (s.p90, 0.9),
            (s.p95, 0.95),
            (s.p99, 0.99),
            (s.p999, 0.999),
        ] {
            assert!(
                (got - want).abs() / want <= 1e-3,
                "got {got} ms, want {want} ms"
            );
        }
        assert_eq!((s.min, s.max), (0.001, 1.0));
        assert!((s.mean - 0.5005).abs() < 1e-12);
        // Population std of 1..=1000 µs is sqrt((1000^2 - 1)/12) µs.
        let want_std = ((1000.0f64 * 1000.0 - 1.0) / 12.0).sqrt() / 1000.0;
        assert!((s.std - want_std).abs() < 1e-9, "{} vs {want_std}", s.std);
    }

    #[test]
    fn single_value_has_zero_spread() {
        let mut r = LatencyRecorder::new();
        r.record(5_000_000);
        let s = r.summary().unwrap();
        assert_eq!(s.std, 0.0);
        assert!((s.p99 - 5.0).abs() / 5.0 <= 1e-3 && s.min == 5.0 && s.max == 5.0);
    }

    #[test]
    fn empty_recorder_has_no_summary() {
        assert!(LatencyRecorder::new().summary().is_none());
    }
}
