//! Until stable, as a sweep file's `[until_stable]` table and the flags of `run`,
//! `sweep` and `curve`: the judge's criteria ([`StabilityCriteria`]) with the
//! latency figure it judges. The judge itself is
//! [`crate::metrics::stability`]; the windows are measured by `stable_run`.

use serde::{Deserialize, Serialize};

use crate::config::parse_duration;
use crate::error::{Error, Result};
use crate::metrics::stability::{quantile_interval, Interval, StabilityCriteria, Z_95};
use crate::metrics::{LatencyRecorder, LatencySummary};
use crate::percentile::Percentile;

/// How a run measured until stable stops. In TOML every field is optional:
///
/// ```toml
/// [until_stable]
/// percentile = "p99"     # the latency figure judged: mean, p50 … p99.9
/// windows = 3            # consecutive windows compared
/// stability_pct = 10     # the highest window at most this % above the lowest (throughput and the figure)
/// ci_width_pct = 10      # the figure's 95 % interval at most this % of it wide
/// min_time = "1s"
/// max_time = "60s"       # not settled by then: reported as unsettled
/// ```
///
/// A window is `iters` requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UntilStable {
    /// The latency figure judged. Default p99.
    pub percentile: Percentile,
    /// Consecutive windows compared. Default 3.
    pub windows: u32,
    /// Window-to-window spread allowed, %. Default 10.
    pub stability_pct: f64,
    /// Widest 95 % interval of the figure allowed, % of it. Default 10.
    pub ci_width_pct: f64,
    /// Shortest measuring time. Default 1s.
    pub min_time: String,
    /// Longest measuring time. Default 60s.
    pub max_time: String,
}

impl Default for UntilStable {
    fn default() -> Self {
        let c = StabilityCriteria::default();
        Self {
            percentile: Percentile::P99,
            windows: c.windows,
            stability_pct: c.stability_pct,
            ci_width_pct: c.ci_width_pct,
            min_time: "1s".into(),
            max_time: "60s".into(),
        }
    }
}

impl UntilStable {
    /// The judge's criteria; an error naming the value that cannot work.
    pub fn criteria(&self) -> Result<StabilityCriteria> {
        let min = parse_duration("stable-min-time", &self.min_time)?;
        let max = parse_duration("stable-max-time", &self.max_time)?;
        let c = StabilityCriteria {
            windows: self.windows,
            stability_pct: self.stability_pct,
            ci_width_pct: self.ci_width_pct,
            min_time_s: min.as_secs_f64(),
            max_time_s: max.as_secs_f64(),
        };
        c.validate().map_err(|e| Error::config("until-stable", e))?;
        Ok(c)
    }
}

/// Requests a window must hold beyond a percentile for its own estimate of it to be
/// compared between windows. A window of 100 requests has one request past its p99,
/// so its "p99" is its slowest request, and comparing those compares noise.
pub const TAIL_REQUESTS_PER_WINDOW: f64 = 10.0;

/// The latency figure compared between windows of `requests`: `percentile` where a
/// window holds [`TAIL_REQUESTS_PER_WINDOW`] requests beyond it, else the mean. The
/// percentile's own precision is judged over every request, by its interval.
pub fn window_figure(percentile: Percentile, requests: u64) -> Percentile {
    match percentile.quantile() {
        // The small allowance keeps 100 × (1 − 0.9) from reading 9.999….
        Some(q) if requests as f64 * (1.0 - q) + 1e-6 < TAIL_REQUESTS_PER_WINDOW => {
            Percentile::Mean
        }
        _ => percentile,
    }
}

/// `percentile` over `latency` (ms) with its 95 % interval: order statistics for a
/// quantile, the normal interval of the mean for the mean. `None` for the interval
/// when there are too few requests.
pub fn figure_with_interval(
    percentile: Percentile,
    latency: &LatencyRecorder,
    summary: &LatencySummary,
) -> (f64, Option<Interval>) {
    let value = percentile.of_summary(summary);
    let interval = match percentile.quantile() {
        Some(q) => quantile_interval(latency.count(), q, |f| latency.quantile_ns(f) as f64 / 1e6),
        None if summary.count >= 2 => {
            let half = Z_95 * summary.std / (summary.count as f64).sqrt();
            Some(Interval {
                lo: value - half,
                hi: value + half,
            })
        }
        None => None,
    };
    (value, interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_perf_analyzers_and_bad_values_are_named() {
        let c = UntilStable::default().criteria().unwrap();
        assert_eq!((c.windows, c.stability_pct, c.max_time_s), (3, 10.0, 60.0));
        let bad = UntilStable {
            max_time: "soon".into(),
            ..UntilStable::default()
        };
        assert!(bad
            .criteria()
            .unwrap_err()
            .to_string()
            .contains("stable-max-time"));
        let bad = UntilStable {
            windows: 1,
            ..UntilStable::default()
        };
        assert!(bad
            .criteria()
            .unwrap_err()
            .to_string()
            .contains("until-stable"));
    }

    #[test]
    fn a_window_too_short_for_its_percentile_is_compared_by_its_mean() {
        assert_eq!(window_figure(Percentile::P99, 100), Percentile::Mean);
        assert_eq!(window_figure(Percentile::P99, 1000), Percentile::P99);
        assert_eq!(window_figure(Percentile::P90, 100), Percentile::P90);
        assert_eq!(window_figure(Percentile::P95, 100), Percentile::Mean);
        assert_eq!(window_figure(Percentile::Mean, 10), Percentile::Mean);
    }

    #[test]
    fn the_p99_interval_brackets_the_p99_once_there_are_enough_requests() {
        let mut rec = LatencyRecorder::new();
        for k in 1..=100u64 {
            rec.record(k * 1_000_000);
        }
        let s = rec.summary().unwrap();
        assert_eq!(figure_with_interval(Percentile::P99, &rec, &s).1, None);
        for k in 101..=2000u64 {
            rec.record(k * 1_000_000);
        }
        let s = rec.summary().unwrap();
        let (v, i) = figure_with_interval(Percentile::P99, &rec, &s);
        let i = i.unwrap();
        assert!(i.lo <= v && v <= i.hi && i.hi - i.lo < 40.0, "{i:?} {v}");
        let (m, i) = figure_with_interval(Percentile::Mean, &rec, &s);
        let i = i.unwrap();
        assert!(i.lo < m && m < i.hi);
    }
}
