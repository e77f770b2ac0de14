//! Running a latency–throughput curve and the rate search ([`super::curve`]'s
//! logic): each point is a full run at an offered rate (until stable, where asked),
//! and each is written as one JSON line as it finishes.

use super::curve::{auto_rates, search_max_rate, Rates, SearchLimits, SearchOrder, SearchResult};
use super::progress::Progress;
use super::record::{MaxRateRecord, Percentile, RatePoint, Record, SweepEnvironment};
use super::stable::UntilStable;
use super::stable_run::run_until_stable;
use crate::config::limits::RunLimits;
use crate::config::{Arrival, RunConfig};
use crate::error::Result;
use crate::pipeline::RunOptions;
use crate::results::jsonl::JsonlSink;
use crate::results::RunReport;
use crate::target;

/// The search's lowest probe, as a fraction of its ceiling.
const LOWEST_PROBE: f64 = 0.1;

/// What every run of a curve shares.
#[derive(Clone, Copy)]
pub struct CurveRun<'a> {
    /// Name written into the records.
    pub sweep: &'a str,
    /// The configuration (its arrival is replaced by each rate).
    pub cfg: &'a RunConfig,
    /// Measure each point until stable.
    pub until: Option<&'a UntilStable>,
    /// Each run's limits.
    pub limits: RunLimits,
    /// No progress lines.
    pub quiet: bool,
}

/// One run's options: the defaults, within `limits`.
pub fn limited(limits: RunLimits) -> RunOptions<'static> {
    RunOptions {
        limits,
        ..RunOptions::default()
    }
}

/// One whole run of `cfg`: one window, or windows until stable with `until`.
pub fn run_once(
    cfg: &RunConfig,
    until: Option<&UntilStable>,
    limits: RunLimits,
) -> Result<RunReport> {
    match until {
        Some(until) => run_until_stable(cfg, until, limits, &mut |_| {}),
        None => target::run(cfg, limited(limits))?.into_complete(),
    }
}

/// The configuration's capacity in requests/s: its burst throughput.
pub fn capacity_rps(run: &CurveRun<'_>) -> Result<f64> {
    let mut burst = run.cfg.clone();
    burst.load.arrival = Arrival::Burst;
    burst.measure_bare_forward = false;
    let report = run_once(&burst, run.until, run.limits)?;
    Ok(report.throughput_samples_per_s / run.cfg.load.batch_size as f64)
}

/// The rates a curve runs at: the explicit ones, or fractions of the burst capacity,
/// which is measured first.
pub fn resolve_rates(run: &CurveRun<'_>, rates: &Rates) -> Result<Vec<f64>> {
    match rates {
        Rates::Explicit(r) => Ok(r.clone()),
        Rates::Auto => {
            if !run.quiet {
                eprintln!("[curve] measuring the burst capacity of {}", run.cfg.id());
            }
            let capacity = capacity_rps(run)?;
            if !run.quiet {
                eprintln!("[curve] capacity {capacity:.1} requests/s; rates at 20-110 % of it");
            }
            Ok(auto_rates(capacity))
        }
    }
}

/// One open-loop Poisson run at `rate` requests/s.
pub fn rate_point(run: &CurveRun<'_>, rate: f64, env: &SweepEnvironment) -> Result<RatePoint> {
    let mut at_rate = run.cfg.clone();
    at_rate.load.arrival = Arrival::Poisson(rate);
    at_rate.measure_bare_forward = false;
    let report = run_once(&at_rate, run.until, run.limits)?;
    Ok(RatePoint {
        sweep: run.sweep.to_string(),
        id: run.cfg.id(),
        offered_rps: rate,
        achieved_rps: report.requests as f64 / report.window_s,
        throughput_samples_per_s: report.throughput_samples_per_s,
        latency_ms: report.latency_ms,
        sender_lag_max_ms: report.stages_ms.sender_lag_max,
        stability: report.stability,
        config: at_rate,
        env: env.clone(),
    })
}

/// Runs the curve at `rates` (appending each point) and, with a budget, the search;
/// returns the points and the search's record.
pub fn run_curve(
    run: &CurveRun<'_>,
    rates: &[f64],
    budget: Option<(Percentile, f64)>,
    sink: &mut JsonlSink,
) -> Result<(Vec<RatePoint>, Option<MaxRateRecord>)> {
    let env = SweepEnvironment::detect();
    let mut progress = Progress::start("curve", rates.len());
    let mut points = Vec::new();
    for &rate in rates {
        if !run.quiet {
            progress.show(&format!("{} at {rate:.1} requests/s", run.cfg.id()));
        }
        let point = rate_point(run, rate, &env)?;
        sink.append(&Record::Rate(point.clone()))?;
        points.push(point);
        progress.finish_one();
    }
    if !run.quiet {
        progress.end();
    }
    let Some(budget) = budget else {
        return Ok((points, None));
    };
    let ceiling = rates.iter().copied().fold(0.0, f64::max);
    let (record, _) = max_rate(run, (ceiling, None), budget, &env, &mut |_| Ok(()))?;
    sink.append(&Record::MaxRate(record.clone()))?;
    Ok((points, Some(record)))
}

/// The highest rate up to `ceiling` whose percentile stays within the budget, as
/// a record, with the search's probes; `on_point` is given each probe's point.
/// A probe that did not settle counts as over the budget: its figure does not stand.
/// The lowest probe is a tenth of the ceiling, or `bar` (requests/s) where that is
/// higher: a rate at or below the bar is not worth finding (`tune`'s current point
/// has it already). With a bar the search probes it first, so a point that cannot
/// beat it costs one probe; without one it starts at the ceiling and runs the floor,
/// its longest probe, only if nothing above it passed.
pub fn max_rate(
    run: &CurveRun<'_>,
    (ceiling, bar): (f64, Option<f64>),
    (percentile, budget_ms): (Percentile, f64),
    env: &SweepEnvironment,
    on_point: &mut dyn FnMut(&RatePoint) -> Result<()>,
) -> Result<(MaxRateRecord, SearchResult)> {
    let floor = match bar {
        Some(b) => ((b / ceiling).max(LOWEST_PROBE), SearchOrder::FloorFirst),
        None => (LOWEST_PROBE, SearchOrder::CeilingFirst),
    };
    let found = search_max_rate(ceiling, budget_ms, floor, SearchLimits::default(), |rate| {
        let point = rate_point(run, rate, env)?;
        on_point(&point)?;
        let latency = percentile.of_summary(&point.latency_ms);
        let settled = point.stability.as_ref().is_none_or(|s| s.settled);
        if !run.quiet {
            eprintln!(
                "[search] {rate:.1} requests/s: {} {latency:.2} ms ({} {budget_ms} ms)",
                percentile.name(),
                match (settled, latency <= budget_ms) {
                    (false, _) => "not settled, counted as over",
                    (true, true) => "within",
                    (true, false) => "over",
                }
            );
        }
        Ok::<_, crate::error::Error>(if settled { latency } else { f64::INFINITY })
    })?;
    let record = MaxRateRecord {
        sweep: run.sweep.to_string(),
        id: run.cfg.id(),
        percentile,
        budget_ms,
        max_rps: found.best.map(|b| b.0),
        latency_at_max_ms: found.best.map(|b| b.1),
        first_failing_rps: found.first_failing,
        probes: found.probes.len() as u32,
        bar_rps: bar,
        env: env.clone(),
    };
    Ok((record, found))
}
