//! What bounds a GPU configuration: the forward alone (the bare loop on
//! device-resident inputs) or the host-to-device copy of its inputs (pinned
//! bandwidth ÷ bytes per sample), and the pipeline's efficiency against the lower of
//! the two. Measured in the same process as the run; absent where either limit was
//! not measured (the CPU has no host-to-device copy to bound it).

use serde::{Deserialize, Serialize};

/// Which limit is the lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// The forward is slower than copying its inputs.
    Compute,
    /// Copying the inputs in is slower than the forward.
    Copy,
}

/// The two limits and where the run stands against them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Bare forward on device-resident inputs, same workers, streams and precision, samples/s.
    pub compute_samples_per_s: f64,
    /// Pinned host-to-device bandwidth, GB/s (10⁹ bytes).
    pub h2d_gb_per_s: f64,
    /// Input bytes per sample at the run's precision.
    pub input_bytes_per_sample: u64,
    /// Samples/s the host-to-device copy alone allows.
    pub copy_samples_per_s: f64,
    /// Which limit is lower.
    pub bound: Bound,
    /// The lower limit, samples/s.
    pub limit_samples_per_s: f64,
    /// Pipeline throughput / the lower limit.
    pub efficiency: f64,
    /// What one batch's copy-in should take at the measured bandwidth, ms (compare with
    /// the device copy-in time).
    pub expected_copy_in_ms: f64,
}

impl Limits {
    /// Combines the measured limits with the run's throughput; `None` if a figure is
    /// not a positive number (nothing is made up from a failed probe).
    pub fn assess(
        compute_samples_per_s: f64,
        h2d_bytes_per_s: f64,
        input_bytes_per_sample: u64,
        samples_per_batch: u32,
        throughput_samples_per_s: f64,
    ) -> Option<Self> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(positive(compute_samples_per_s)
            && positive(h2d_bytes_per_s)
            && input_bytes_per_sample > 0
            && positive(throughput_samples_per_s))
        {
            return None;
        }
        let copy_samples_per_s = h2d_bytes_per_s / input_bytes_per_sample as f64;
        let (bound, limit) = if compute_samples_per_s <= copy_samples_per_s {
            (Bound::Compute, compute_samples_per_s)
        } else {
            (Bound::Copy, copy_samples_per_s)
        };
        let batch_bytes = input_bytes_per_sample as f64 * samples_per_batch as f64;
        Some(Self {
            compute_samples_per_s,
            h2d_gb_per_s: h2d_bytes_per_s / 1e9,
            input_bytes_per_sample,
            copy_samples_per_s,
            bound,
            limit_samples_per_s: limit,
            efficiency: throughput_samples_per_s / limit,
            expected_copy_in_ms: batch_bytes / h2d_bytes_per_s * 1e3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_limit_decides_and_efficiency_is_against_it() {
        // 224 px fp32: 602 112 bytes a sample; at 25 GB/s the copy allows ~41 500/s.
        let bytes = 3 * 224 * 224 * 4;
        let compute = Limits::assess(10_000.0, 25e9, bytes, 256, 9_500.0).unwrap();
        assert_eq!(compute.bound, Bound::Compute);
        assert!((compute.efficiency - 0.95).abs() < 1e-12);
        assert!((compute.copy_samples_per_s - 25e9 / bytes as f64).abs() < 1e-6);
        assert!((compute.expected_copy_in_ms - 256.0 * bytes as f64 / 25e9 * 1e3).abs() < 1e-9);

        let copy = Limits::assess(100_000.0, 25e9, bytes, 256, 30_000.0).unwrap();
        assert_eq!(copy.bound, Bound::Copy);
        assert!((copy.limit_samples_per_s - copy.copy_samples_per_s).abs() < 1e-9);
        assert!(copy.efficiency < 1.0);
    }

    #[test]
    fn a_missing_or_failed_probe_gives_no_limits() {
        assert_eq!(Limits::assess(0.0, 25e9, 10, 1, 1.0), None);
        assert_eq!(Limits::assess(1.0, f64::NAN, 10, 1, 1.0), None);
        assert_eq!(Limits::assess(1.0, 25e9, 0, 1, 1.0), None);
    }
}
