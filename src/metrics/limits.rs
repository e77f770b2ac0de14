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

/// GPU utilisation under which a run whose pipeline beats its bare forward is taken
/// for launch-bound, %. At batch 1 on an H200 ResNet-18's utilisation read 45-56 %.
pub const LAUNCH_BOUND_GPU_PCT: f64 = 70.0;

/// Whether the bare forward is no upper bound for this run: the GPU sat idle for much
/// of the window (`gpu_pct` below [`LAUNCH_BOUND_GPU_PCT`]) and yet the pipeline beat
/// the bare loop (`efficiency` above 1). Both mean the host's kernel launches, not the
/// GPU, set the pace: the bare loop launches one forward after another from one
/// thread per worker, and the pipeline overlaps its launches with its copies.
pub fn launch_bound(gpu_pct: Option<f64>, efficiency: Option<f64>) -> bool {
    matches!((gpu_pct, efficiency), (Some(g), Some(e)) if g < LAUNCH_BOUND_GPU_PCT && e > 1.0)
}

/// What a report says of a launch-bound run (see [`launch_bound`]).
pub const LAUNCH_BOUND_NOTE: &str = "launch-bound: the GPU was idle for much of the window and the pipeline beat the bare forward, so the host's kernel launches set the pace and the bare loop (one forward's launches after another) is no upper bound here; the efficiency above 1 measures launch overlap, not a pipeline faster than its model. --compile cuda-graph launches a forward as one graph";

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

    #[test]
    fn launch_bound_needs_an_idle_gpu_and_an_efficiency_above_one() {
        assert!(launch_bound(Some(50.0), Some(1.08)));
        assert!(
            !launch_bound(Some(99.0), Some(1.01)),
            "a busy GPU is compute-bound"
        );
        assert!(
            !launch_bound(Some(50.0), Some(0.95)),
            "the bare loop bounded it"
        );
        assert!(!launch_bound(None, Some(1.2)), "no GPU figure: not said");
        assert!(!launch_bound(Some(50.0), None));
    }
}
