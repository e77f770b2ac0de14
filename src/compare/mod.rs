//! Criterion results against a saved baseline, with a verdict per measurement.
//!
//! Criterion already does the statistics: run with `--baseline NAME` (or
//! `--baseline-lenient NAME`) and it writes, per benchmark, the new estimates
//! (`new/estimates.json`) and the relative change of the mean with its bootstrap
//! confidence interval (`change/estimates.json`). This module reads those files
//! ([`criterion_dir`]), decides a verdict per benchmark with criterion's own rule
//! but a threshold the user picks ([`verdict`]), and renders the results as a table
//! and as github-action-benchmark JSON ([`render`]). A baseline saved from several
//! runs is made by [`merge`]; the noise band its spread implies is [`noise`]'s pure
//! arithmetic.

pub mod criterion_dir;
pub mod merge;
pub mod noise;
pub mod render;

use serde::Serialize;

use crate::error::{Error, Result};

/// A point estimate with its confidence interval, in the measurement's raw unit
/// (or, for a change, as a fraction: 0.05 = +5 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The point estimate.
    pub point: f64,
    /// Lower bound of the confidence interval.
    pub lower: f64,
    /// Upper bound of the confidence interval.
    pub upper: f64,
}

/// What a benchmark measures, from its function name (`time`, `p99`, `cpu-util`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Wall time per request, ns (with samples/s from the throughput).
    Time,
    /// A latency percentile, ns.
    Latency,
    /// CPU or GPU utilisation, %.
    Utilization,
    /// Anything else (raw criterion value).
    Other,
}

impl Quantity {
    /// The quantity a benchmark function name stands for.
    pub fn of_function(function: &str) -> Self {
        match function {
            "time" => Quantity::Time,
            f if f.starts_with('p') && f[1..].parse::<f64>().is_ok() => Quantity::Latency,
            f if f.ends_with("-util") => Quantity::Utilization,
            _ => Quantity::Other,
        }
    }

    /// Whether a smaller value is better. Utilisation is a figure to maximise: in a
    /// saturated pipeline a drop means the device waits on the harness.
    pub fn smaller_is_better(self) -> bool {
        !matches!(self, Quantity::Utilization)
    }
}

/// How a benchmark compares with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole confidence interval of the change is beyond the threshold, for the better.
    Improved,
    /// The whole confidence interval of the change is beyond the threshold, for the worse.
    Regressed,
    /// The interval reaches inside ±threshold: no change this run can vouch for.
    WithinNoise,
    /// In the baseline, not in the new run.
    Missing,
    /// In the new run, not in the baseline.
    New,
}

impl Verdict {
    /// The word printed in tables.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::WithinNoise => "within noise",
            Verdict::Missing => "MISSING",
            Verdict::New => "new",
        }
    }
}

/// Criterion's rule (`compare_to_threshold`) with `band` as the noise band (the
/// threshold, widened by the baseline's run-to-run noise: [`noise::band`]), turned
/// the right way for the quantity: `change` is the relative change of the mean.
pub fn verdict(change: &Estimate, band: f64, smaller_is_better: bool) -> Verdict {
    let (lower, upper) = (change.lower, change.upper);
    let went_up = lower > band && upper > band;
    let went_down = lower < -band && upper < -band;
    match (went_up, went_down, smaller_is_better) {
        (true, _, true) | (_, true, false) => Verdict::Regressed,
        (true, _, false) | (_, true, true) => Verdict::Improved,
        _ => Verdict::WithinNoise,
    }
}

/// One benchmark, baseline against new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Criterion's full id: `resnet18-32px/bs4/torchscript/w2/dedicated/p99`.
    pub id: String,
    /// What it measures.
    pub quantity: Quantity,
    /// Samples per criterion element (for samples/s), if the benchmark declared a throughput.
    pub elements: Option<u64>,
    /// The baseline's mean.
    pub baseline: Option<Estimate>,
    /// The new run's mean.
    pub new: Option<Estimate>,
    /// Relative change of the mean, from criterion.
    pub change: Option<Estimate>,
    /// Run-to-run relative standard deviation used for the band (see [`noise`]);
    /// `None` when the baseline was saved from a single run.
    pub run_sigma: Option<f64>,
    /// The noise band the change had to clear, as a fraction.
    pub band: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Options of a comparison.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// The smallest noise band, as a fraction (0.05 = ±5 %).
    pub threshold: f64,
    /// How many standard deviations of the run-to-run noise the band spans, when the
    /// baseline records it (see [`noise`]).
    pub sigmas: f64,
    /// Whether a benchmark missing from the new run fails the comparison.
    pub fail_on_missing: bool,
}

impl CompareOptions {
    /// Options from the command line's units: `threshold_pct` in percent (5 = ±5 %),
    /// `sigmas` standard deviations; each must be a finite number ≥ 0.
    pub fn from_flags(threshold_pct: f64, sigmas: f64, allow_missing: bool) -> Result<Self> {
        if !(threshold_pct.is_finite() && threshold_pct >= 0.0) {
            return Err(Error::config(
                "threshold",
                format!("{threshold_pct}: expected a percentage ≥ 0, e.g. 5"),
            ));
        }
        if !(sigmas.is_finite() && sigmas >= 0.0) {
            return Err(Error::config(
                "sigmas",
                format!("{sigmas}: expected a number ≥ 0, e.g. 3"),
            ));
        }
        Ok(Self {
            threshold: threshold_pct / 100.0,
            sigmas,
            fail_on_missing: !allow_missing,
        })
    }
}

/// Whether a set of comparisons passes: no regression, and nothing missing unless allowed.
pub fn passed(comparisons: &[Comparison], options: &CompareOptions) -> bool {
    comparisons.iter().all(|c| match c.verdict {
        Verdict::Regressed => false,
        Verdict::Missing => !options.fail_on_missing,
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_refuse_negative_or_non_finite_bands_by_name() {
        let o = CompareOptions::from_flags(5.0, 3.0, true).unwrap();
        assert_eq!(
            (o.threshold, o.sigmas, o.fail_on_missing),
            (0.05, 3.0, false)
        );
        let err = CompareOptions::from_flags(-1.0, 3.0, false).unwrap_err();
        assert!(err.to_string().contains("threshold"), "{err}");
        let err = CompareOptions::from_flags(5.0, f64::NAN, false).unwrap_err();
        assert!(err.to_string().contains("sigmas"), "{err}");
    }

    fn change(lower: f64, upper: f64) -> Estimate {
        Estimate {
            point: (lower + upper) / 2.0,
            lower,
            upper,
        }
    }

    #[test]
    fn a_time_whose_whole_interval_is_above_the_threshold_regressed() {
        assert_eq!(verdict(&change(0.06, 0.09), 0.05, true), Verdict::Regressed);
        assert_eq!(
            verdict(&change(-0.09, -0.06), 0.05, true),
            Verdict::Improved
        );
    }

    #[test]
    fn an_interval_reaching_into_the_band_is_noise() {
        assert_eq!(
            verdict(&change(0.04, 0.20), 0.05, true),
            Verdict::WithinNoise
        );
        assert_eq!(
            verdict(&change(-0.20, 0.20), 0.05, true),
            Verdict::WithinNoise
        );
        assert_eq!(
            verdict(&change(-0.2, -0.04), 0.05, true),
            Verdict::WithinNoise
        );
    }

    #[test]
    fn utilisation_going_down_is_the_regression() {
        assert_eq!(
            verdict(&change(-0.3, -0.1), 0.05, false),
            Verdict::Regressed
        );
        assert_eq!(verdict(&change(0.1, 0.3), 0.05, false), Verdict::Improved);
    }

    #[test]
    fn quantities_follow_the_function_names() {
        assert_eq!(Quantity::of_function("time"), Quantity::Time);
        assert_eq!(Quantity::of_function("p99"), Quantity::Latency);
        assert_eq!(Quantity::of_function("p99.9"), Quantity::Latency);
        assert_eq!(Quantity::of_function("cpu-util"), Quantity::Utilization);
        assert_eq!(Quantity::of_function("gpu-util"), Quantity::Utilization);
        assert_eq!(Quantity::of_function("parse"), Quantity::Other);
    }
}
