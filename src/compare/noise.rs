//! Run-to-run noise of a baseline, and the noise band a verdict must clear.
//!
//! Criterion's confidence interval describes the samples of *one* run. On a shared
//! machine whole runs differ by more than that (a neighbour's load, CPU frequency,
//! page placement), so comparing two runs with criterion's interval alone calls
//! noise a regression. A baseline saved from several runs therefore records, per
//! benchmark, the mean of each run ([`RunSpread`], `spread.json` next to criterion's
//! files; written by [`super::merge`]). The comparison then widens its band to
//! `max(threshold, sigmas × √2 × σ)`, where σ is the relative standard deviation
//! between runs (the larger of the benchmark's own and the root mean square over
//! benchmarks of the same quantity, since three runs alone give a rough σ) and √2
//! because the new run and the baseline each carry that noise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Quantity;

/// Means of one benchmark over the runs a baseline was saved from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpread {
    /// The runs' baseline names, in order.
    pub runs: Vec<String>,
    /// Each run's mean, in criterion's raw unit.
    pub means: Vec<f64>,
    /// The run whose files became the baseline (the one with the median mean).
    pub chosen: String,
    /// Sample standard deviation of the means over their mean.
    pub relative_std: f64,
}

/// Sample standard deviation over the mean; `None` for fewer than two runs or a zero mean.
pub fn relative_std(means: &[f64]) -> Option<f64> {
    if means.len() < 2 {
        return None;
    }
    let n = means.len() as f64;
    let mean = means.iter().sum::<f64>() / n;
    if mean == 0.0 || !mean.is_finite() {
        return None;
    }
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(var.sqrt() / mean.abs())
}

/// Index of the median value (the lower median for an even count).
pub fn median_index(values: &[f64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    order.get(values.len().saturating_sub(1) / 2).copied()
}

/// The band a change must clear: `max(threshold, sigmas × √2 × σ)`.
pub fn band(threshold: f64, sigmas: f64, sigma: Option<f64>) -> f64 {
    let from_runs = sigma.map_or(0.0, |s| sigmas * std::f64::consts::SQRT_2 * s);
    threshold.max(from_runs)
}

/// σ to use per benchmark: its own, or the quantity's root mean square when larger.
pub fn effective_sigmas(own: &[(Quantity, Option<f64>)]) -> Vec<Option<f64>> {
    let mut pooled: BTreeMap<Quantity, (f64, usize)> = BTreeMap::new();
    for (q, s) in own {
        if let Some(s) = s {
            let e = pooled.entry(*q).or_default();
            e.0 += s * s;
            e.1 += 1;
        }
    }
    own.iter()
        .map(|(q, s)| {
            let rms = pooled.get(q).map(|(sum, n)| (sum / *n as f64).sqrt());
            match (s, rms) {
                (Some(s), Some(r)) => Some(s.max(r)),
                (None, r) => r,
                (s, None) => *s,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_std_is_the_sample_std_over_the_mean() {
        // mean 10, deviations -1, 0, +1: sample variance 1, σ/mean = 0.1
        let s = relative_std(&[9.0, 10.0, 11.0]).unwrap();
        assert!((s - 0.1).abs() < 1e-12, "{s}");
        assert_eq!(relative_std(&[5.0]), None);
    }

    #[test]
    fn the_median_run_is_chosen() {
        assert_eq!(median_index(&[12.0, 9.0, 10.0]), Some(2));
        assert_eq!(median_index(&[1.0, 2.0]), Some(0));
        assert_eq!(median_index(&[]), None);
    }

    #[test]
    fn the_band_is_the_threshold_until_the_runs_are_noisier() {
        assert_eq!(band(0.05, 3.0, None), 0.05);
        assert_eq!(band(0.05, 3.0, Some(0.01)), 0.05);
        let wide = band(0.05, 3.0, Some(0.1));
        assert!(
            (wide - 0.3 * std::f64::consts::SQRT_2).abs() < 1e-12,
            "{wide}"
        );
    }

    #[test]
    fn a_quiet_benchmark_borrows_the_noise_of_its_quantity() {
        let own = [
            (Quantity::Latency, Some(0.02)),
            (Quantity::Latency, Some(0.14)),
            (Quantity::Time, Some(0.03)),
            (Quantity::Time, None),
        ];
        let got = effective_sigmas(&own);
        let rms = ((0.02f64.powi(2) + 0.14f64.powi(2)) / 2.0).sqrt();
        assert!((got[0].unwrap() - rms).abs() < 1e-12);
        assert_eq!(got[1], Some(0.14));
        assert_eq!(got[2], Some(0.03));
        assert_eq!(got[3], Some(0.03));
    }
}
