//! `--until-stable` and its criteria: shared by `run`, `sweep`, `curve` and
//! `tune`, read into one [`UntilStable`] (a sweep file's `[until_stable]` table,
//! which these flags override).

use clap::Args;
use inferbench::sweep::record::Percentile;
use inferbench::sweep::stable::UntilStable;

/// Measure in windows until the figures are stable.
#[derive(Args, Clone, Default)]
pub struct StableArgs {
    /// Measure in windows of --iters requests until the throughput and
    /// --stable-percentile are stable (consecutive windows within --stability-pct,
    /// the percentile's 95 % interval within --stable-ci-width-pct), between
    /// --stable-min-time and --stable-max-time; a run that does not settle is
    /// reported as not settled.
    #[arg(long)]
    pub until_stable: bool,
    /// The latency figure judged: mean, p50, p90, p95, p99, p99.9 [default: p99].
    #[arg(long)]
    pub stable_percentile: Option<String>,
    /// Consecutive windows compared [default: 3].
    #[arg(long)]
    pub stable_windows: Option<u32>,
    /// The highest compared window at most this % above the lowest [default: 10].
    #[arg(long)]
    pub stability_pct: Option<f64>,
    /// The percentile's 95 % interval at most this % of it wide [default: 10].
    #[arg(long)]
    pub stable_ci_width_pct: Option<f64>,
    /// Measure at least this long, e.g. 2s [default: 1s].
    #[arg(long)]
    pub stable_min_time: Option<String>,
    /// Stop, not settled, after this long, e.g. 30s [default: 60s].
    #[arg(long)]
    pub stable_max_time: Option<String>,
}

impl StableArgs {
    /// The criteria: `base` (a sweep file's table) or the defaults, with the
    /// flags given; `None` when neither `--until-stable` nor `base` asks for it.
    /// A criterion flag without `--until-stable` (and without a table) is an error,
    /// not ignored.
    pub fn until(&self, base: Option<UntilStable>) -> anyhow::Result<Option<UntilStable>> {
        let given = self.stable_percentile.is_some()
            || self.stable_windows.is_some()
            || self.stability_pct.is_some()
            || self.stable_ci_width_pct.is_some()
            || self.stable_min_time.is_some()
            || self.stable_max_time.is_some();
        let mut until = match (self.until_stable, base) {
            (_, Some(b)) => b,
            (true, None) => UntilStable::default(),
            (false, None) if given => anyhow::bail!(
                "a --stable-* or --stability-pct flag was given without --until-stable; add --until-stable (or drop the flag)"
            ),
            (false, None) => return Ok(None),
        };
        if let Some(p) = &self.stable_percentile {
            until.percentile = Percentile::parse_for("--stable-percentile", p)?;
        }
        until.windows = self.stable_windows.unwrap_or(until.windows);
        until.stability_pct = self.stability_pct.unwrap_or(until.stability_pct);
        until.ci_width_pct = self.stable_ci_width_pct.unwrap_or(until.ci_width_pct);
        if let Some(t) = &self.stable_min_time {
            until.min_time = t.clone();
        }
        if let Some(t) = &self.stable_max_time {
            until.max_time = t.clone();
        }
        until.criteria()?;
        Ok(Some(until))
    }
}
