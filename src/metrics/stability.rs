//! Until stable: when a run measured in windows may stop. Two questions, as the
//! tools that answer them well ask them:
//!
//! - Did the figures stop moving? Over the last `windows` windows, the highest
//!   throughput is at most `stability_pct` above the lowest, and so is the highest
//!   window latency figure (Triton perf_analyzer's `--stability-percentage`: the
//!   ratio of max to min over the recent 3 measurements).
//! - Is the latency figure known well enough? Its 95 % confidence interval over
//!   every request so far, from order statistics (the binomial ranks around `n·q`,
//!   as MLPerf LoadGen's early stopping), is no wider than `ci_width_pct` of it.
//!
//! Both must hold after at least `min_time_s`; a run that has not settled by
//! `max_time_s` stops and is reported as unsettled, never as a figure. The judge is
//! a pure function of the windows and the interval, so tests feed it made-up
//! windows; measuring them is the sweep layer's job.

use serde::{Deserialize, Serialize};

/// The standard normal quantile of a two-sided 95 % interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// When a run in windows may stop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StabilityCriteria {
    /// Consecutive windows compared. Default 3 (perf_analyzer's).
    pub windows: u32,
    /// The highest of those windows at most this % above the lowest, for throughput
    /// and the window latency figure. Default 10 (perf_analyzer's).
    pub stability_pct: f64,
    /// The latency figure's 95 % interval at most this % of its value wide.
    /// Default 10.
    pub ci_width_pct: f64,
    /// Keep measuring at least this long, s (a short run can look stable by
    /// chance). Default 1.
    pub min_time_s: f64,
    /// Stop, unsettled, after this long, s. Default 60.
    pub max_time_s: f64,
}

impl Default for StabilityCriteria {
    fn default() -> Self {
        Self {
            windows: 3,
            stability_pct: 10.0,
            ci_width_pct: 10.0,
            min_time_s: 1.0,
            max_time_s: 60.0,
        }
    }
}

impl StabilityCriteria {
    /// Names the first value that cannot work, with the fix.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.windows < 2 {
            return Err(format!(
                "stable windows {}: at least 2 windows are needed to compare (3 is usual)",
                self.windows
            ));
        }
        if !positive(self.stability_pct) || !positive(self.ci_width_pct) {
            return Err(format!(
                "stability {} % / interval width {} %: both must be positive percentages (e.g. 10)",
                self.stability_pct, self.ci_width_pct
            ));
        }
        if !(self.min_time_s.is_finite() && self.min_time_s >= 0.0 && positive(self.max_time_s)) {
            return Err("the stable min and max times must be durations, max above 0".into());
        }
        if self.min_time_s > self.max_time_s {
            return Err(format!(
                "stable min time {} s is above the max time {} s; lower the min or raise the max",
                self.min_time_s, self.max_time_s
            ));
        }
        Ok(())
    }
}

/// One measured window's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowPoint {
    /// Requests in the window.
    pub requests: u64,
    /// Samples per second over the window.
    pub throughput_samples_per_s: f64,
    /// The window's latency figure compared between windows, ms: the judged
    /// percentile where a window holds enough requests to estimate it, else the
    /// window's mean ([`Stability::window_figure`] says which).
    pub latency_ms: f64,
}

/// A figure's interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl Interval {
    /// Width as a percentage of `value`; infinite for a value of 0.
    pub fn width_pct(&self, value: f64) -> f64 {
        if value > 0.0 {
            (self.hi - self.lo) / value * 100.0
        } else {
            f64::INFINITY
        }
    }
}

/// The 1-based ranks of the order statistics that bound the `q` quantile of `n`
/// samples with 95 % confidence (normal approximation to the binomial, widened by
/// one rank each side for continuity). `None` when `n` is too small for the upper
/// rank to exist (p99 needs about 500 samples for a two-sided interval).
pub fn quantile_ranks(n: u64, q: f64) -> Option<(u64, u64)> {
    if n == 0 || !(0.0..1.0).contains(&q) {
        return None;
    }
    let nf = n as f64;
    let half = Z_95 * (nf * q * (1.0 - q)).sqrt();
    let lo = (nf * q - half).floor();
    let hi = (nf * q + half).ceil() + 1.0;
    (lo >= 1.0 && hi <= nf).then_some((lo as u64, hi as u64))
}

/// The 95 % interval of the `q` quantile of `n` samples; `value_at(f)` is the
/// sample value at cumulative fraction `f` (a histogram's `value_at_quantile`).
pub fn quantile_interval(n: u64, q: f64, value_at: impl Fn(f64) -> f64) -> Option<Interval> {
    let (lo, hi) = quantile_ranks(n, q)?;
    let nf = n as f64;
    Some(Interval {
        lo: value_at(lo as f64 / nf),
        hi: value_at(hi as f64 / nf),
    })
}

/// What the judge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Measure another window.
    Continue,
    /// Both criteria hold: stop, the figures stand.
    Settled,
    /// The time is up and a criterion still fails: stop, the figures do not stand.
    Unsettled,
}

/// The judge's verdict with what it was based on.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Stop or go on.
    pub verdict: Verdict,
    /// How far the compared windows' highest throughput is above their lowest, %.
    pub throughput_spread_pct: Option<f64>,
    /// The same for the latency figure.
    pub latency_spread_pct: Option<f64>,
    /// The latency figure's interval width, % of its value.
    pub latency_ci_width_pct: Option<f64>,
    /// Why it has not settled (empty once settled).
    pub reason: String,
}

/// How far the highest of the last `k` values is above the lowest, % of the lowest
/// (perf_analyzer's max / min).
fn spread_pct(values: &[f64], k: usize) -> Option<f64> {
    let last = values.get(values.len().checked_sub(k)?..)?;
    let min = last.iter().copied().fold(f64::INFINITY, f64::min);
    let max = last.iter().copied().fold(0.0, f64::max);
    (min > 0.0).then(|| (max / min - 1.0) * 100.0)
}

/// Judges the windows so far: `latency` is the figure over every request so far
/// with its interval (`None` until there are enough requests), `elapsed_s` the
/// time spent measuring.
pub fn judge(
    windows: &[WindowPoint],
    latency: (f64, Option<Interval>),
    elapsed_s: f64,
    c: &StabilityCriteria,
) -> Judgement {
    let k = c.windows as usize;
    let throughputs: Vec<f64> = windows.iter().map(|w| w.throughput_samples_per_s).collect();
    let latencies: Vec<f64> = windows.iter().map(|w| w.latency_ms).collect();
    let throughput_spread_pct = spread_pct(&throughputs, k);
    let latency_spread_pct = spread_pct(&latencies, k);
    let latency_ci_width_pct = latency.1.map(|i| i.width_pct(latency.0));
    let mut why = Vec::new();
    match throughput_spread_pct {
        None => why.push(format!("fewer than {k} windows")),
        Some(s) if s > c.stability_pct => why.push(format!(
            "throughput of the last {k} windows: max {s:.1} % above min (needs ≤ {} %)",
            c.stability_pct
        )),
        Some(_) => {}
    }
    if let Some(s) = latency_spread_pct.filter(|s| *s > c.stability_pct) {
        why.push(format!(
            "latency of the last {k} windows: max {s:.1} % above min (needs ≤ {} %)",
            c.stability_pct
        ));
    }
    match latency_ci_width_pct {
        None => why.push("too few requests for the latency's 95 % interval".into()),
        Some(w) if w > c.ci_width_pct => why.push(format!(
            "latency's 95 % interval {w:.1} % wide (needs ≤ {} %)",
            c.ci_width_pct
        )),
        Some(_) => {}
    }
    let verdict = if why.is_empty() && elapsed_s >= c.min_time_s {
        Verdict::Settled
    } else if elapsed_s >= c.max_time_s {
        Verdict::Unsettled
    } else {
        Verdict::Continue
    };
    if why.is_empty() && verdict != Verdict::Settled {
        why.push(format!("under the minimum time of {} s", c.min_time_s));
    }
    Judgement {
        verdict,
        throughput_spread_pct,
        latency_spread_pct,
        latency_ci_width_pct,
        reason: why.join("; "),
    }
}

/// What a run until stable reports beside its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// Whether both criteria held when it stopped. `false`: the figures do not stand.
    pub settled: bool,
    /// Why it did not settle (absent once settled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Windows measured.
    pub windows: u32,
    /// Requests measured over all windows.
    pub requests: u64,
    /// Time spent measuring, s.
    pub elapsed_s: f64,
    /// The judged latency figure (`p99`, `mean`, …).
    pub figure: String,
    /// The latency figure compared between windows: `figure`, or `mean` where a
    /// window is too short to estimate it (absent in records from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_figure: Option<String>,
    /// Its value over every request, ms.
    pub latency_ms: f64,
    /// Its 95 % interval, ms (absent: too few requests for one).
    pub latency_interval_ms: Option<Interval>,
    /// The throughput's range over the compared windows, samples/s.
    pub throughput_interval: Option<Interval>,
    /// The last compared windows' spread, % (throughput, latency figure).
    pub spread_pct: (Option<f64>, Option<f64>),
    /// The criteria it was judged by.
    pub criteria: StabilityCriteria,
    /// Every window, in order.
    pub window_points: Vec<WindowPoint>,
}

/// The range of the last `k` windows' throughput.
pub fn throughput_range(windows: &[WindowPoint], k: usize) -> Option<Interval> {
    let last = windows.get(windows.len().checked_sub(k)?..)?;
    let t = last.iter().map(|w| w.throughput_samples_per_s);
    Some(Interval {
        lo: t.clone().fold(f64::INFINITY, f64::min),
        hi: t.fold(f64::NEG_INFINITY, f64::max),
    })
}

#[cfg(test)]
#[path = "stability_tests.rs"]
mod tests;
