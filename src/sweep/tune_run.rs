//! Running `inferbench tune`: the search of [`super::tune`] over a sweep's grid,
//! each point measured as a sweep measures it (its `config` record), or, with a
//! latency budget, by the curve's rate search inside the point (its `rate` and
//! `max_rate` records), all appended to one results file that `inferbench report`
//! reads like a sweep's; a `tune` record at the end says which path the search
//! took and why it stopped.

use std::time::Instant;

use super::curve_run::{max_rate, CurveRun};
use super::environment::probe_record;
use super::progress::Progress;
use super::record::{Record, Status, SweepEnvironment, TuneRecord};
use super::runner::run_config;
use super::spec::SweepSpec;
use super::tune::{
    axes_of, flat_index, hill_climb_from, point_of, seed_start, Search, Stop, Visit,
};
use super::tune_explain::{tune_record, Timing};
pub use super::tune_options::{Goal, TuneOptions};
use super::tune_screen::{point_run, screen_start, Capacities};
use crate::error::{Error, Result};
use crate::results::jsonl::JsonlSink;

/// Searches `spec`'s grid for `opts.goal`, appending every measured point and the
/// search's record to `sink`; returns the record.
pub fn run_tune(spec: &SweepSpec, opts: &TuneOptions, sink: &mut JsonlSink) -> Result<TuneRecord> {
    let started = Instant::now();
    let configs = spec.expand()?;
    let axes = axes_of(spec);
    let env = SweepEnvironment::detect();
    sink.append(&Record::Probe(probe_record(&spec.name, &env)?))?;
    let mut progress = Progress::start(
        "tune",
        opts.max_runs.unwrap_or(configs.len()).min(configs.len()),
    );
    let out_of_budget = |measured: usize| {
        opts.max_runs.is_some_and(|m| measured >= m)
            || opts.max_time.is_some_and(|t| started.elapsed() >= t)
    };
    let mut capacities = Capacities::default();
    let (start, screened) = match opts.goal {
        Goal::MaxRate(..) if !opts.grid => screen_start(
            spec,
            (&axes, &configs),
            opts,
            &mut capacities,
            &mut progress,
        )?,
        _ => (seed_start(&axes, opts.seed), Vec::new()),
    };
    let mut eval = |point: &[usize], bar: Option<f64>| -> Result<Option<f64>> {
        let index = flat_index(&axes, point);
        let cfg = &configs[index];
        if !opts.quiet {
            progress.show(&cfg.id());
        }
        let measured = measure_point(
            spec,
            (index, cfg),
            opts,
            (bar, &mut capacities),
            &env,
            sink,
            &mut progress,
        )?;
        progress.finish_one();
        if !opts.quiet {
            let shown = match measured {
                Measured::Score(s) => format!("{s:.1} samples/s"),
                Measured::NoScore => "no score".into(),
                Measured::CannotBeat => "cannot beat the current point".into(),
            };
            progress.note(&format!("[tune] {}: {shown}", cfg.id()));
        }
        Ok(measured.score())
    };
    let search = if opts.grid {
        every_point(configs.len(), &axes, out_of_budget, &mut eval)?
    } else {
        hill_climb_from(
            &axes,
            (opts.seed, start),
            opts.min_gain,
            out_of_budget,
            &mut eval,
        )?
    };
    if !opts.quiet {
        progress.end();
    }
    let timing = Timing::Wall(started.elapsed());
    let record = tune_record(spec, opts, (&search, &screened), &configs, timing, env);
    sink.append(&Record::Tune(record.clone()))?;
    Ok(record)
}

/// Measures a point, told the score it must beat (`None` for none): its score.
type Eval<'a> = dyn FnMut(&[usize], Option<f64>) -> Result<Option<f64>> + 'a;

/// The grid in order, for the comparison the search is measured against.
fn every_point(
    total: usize,
    axes: &[super::tune::Axis],
    mut out_of_budget: impl FnMut(usize) -> bool,
    eval: &mut Eval<'_>,
) -> Result<Search> {
    let mut search = Search {
        visits: Vec::new(),
        best: None,
        stop: Stop::Exhausted,
    };
    for index in 0..total {
        if out_of_budget(index) {
            search.stop = Stop::Budget;
            break;
        }
        let point = point_of(axes, index);
        let score = eval(&point, None)?;
        if let Some(s) = score.filter(|&s| search.best.as_ref().is_none_or(|b| s > b.1)) {
            search.best = Some((point.clone(), s));
        }
        search.visits.push(Visit {
            point,
            score,
            moved: false,
        });
    }
    Ok(search)
}

/// A point's score under `--goal throughput`, from its record: its mean throughput
/// if it ran, and settled where it was asked to.
pub(super) fn config_score(record: &super::record::ConfigRecord) -> Measured {
    match (&record.status, record.settled, &record.figures) {
        (Status::Ok, None | Some(true), Some(f)) => {
            Measured::Score(f.throughput_samples_per_s.mean)
        }
        _ => Measured::NoScore,
    }
}

/// A point's score under a latency budget, from its rate search's record: samples/s
/// at the highest rate within the budget (`batch` samples a request).
pub(super) fn max_rate_score(record: &super::record::MaxRateRecord, batch: f64) -> Measured {
    match (record.max_rps, record.bar_rps) {
        (Some(r), _) => Measured::Score(r * batch),
        (None, Some(_)) => Measured::CannotBeat,
        (None, None) => Measured::NoScore,
    }
}

/// What measuring a point gave.
pub(super) enum Measured {
    /// Its throughput, or its samples/s at the highest rate within the budget.
    Score(f64),
    /// It failed, did not settle, or no rate met the budget.
    NoScore,
    /// With a budget: it cannot beat the bar it was given (the search's current point).
    CannotBeat,
}

impl Measured {
    /// The score; none for a point that has none or could not beat its bar.
    pub(super) fn score(&self) -> Option<f64> {
        match self {
            Measured::Score(s) => Some(*s),
            Measured::NoScore | Measured::CannotBeat => None,
        }
    }
}

/// One point's score. With a budget and a `bar` (samples/s), its rate search starts
/// at the bar, and does not run when the burst capacity is below it: a point that
/// cannot beat the bar cannot move the search. A capacity already in `capacities`
/// (the start's screen) is not measured again.
pub(super) fn measure_point(
    spec: &SweepSpec,
    (index, cfg): (usize, &crate::config::RunConfig),
    opts: &TuneOptions,
    (bar, capacities): (Option<f64>, &mut Capacities),
    env: &SweepEnvironment,
    sink: &mut JsonlSink,
    progress: &mut Progress,
) -> Result<Measured> {
    match opts.goal {
        Goal::Throughput => {
            let Some(record) =
                run_config(spec, (index, cfg), env, progress, opts.quiet, opts.limits)?
            else {
                return Err(Error::Interrupted);
            };
            let score = config_score(&record);
            sink.append(&Record::Config(record))?;
            Ok(score)
        }
        Goal::MaxRate(percentile, budget_ms) => {
            let run = point_run(spec, cfg, opts);
            let batch = cfg.load.batch_size as f64;
            let bar_rps = bar.map(|b| b / batch);
            let found = capacities.of(index, &run).and_then(|capacity| {
                let ceiling = capacity * CEILING_OVER_CAPACITY;
                if let Some(bar_rps) = bar_rps.filter(|&b| b >= ceiling) {
                    if !opts.quiet {
                        progress.note(&format!(
                            "[tune] {}: burst capacity {capacity:.1} requests/s; the search could find at most {ceiling:.1}, not above the {bar_rps:.1} it needs to move: not searched",
                            cfg.id()
                        ));
                    }
                    return Ok(cannot_beat(&run, (percentile, budget_ms), bar_rps, env));
                }
                let mut append =
                    |p: &super::record::RatePoint| sink.append(&Record::Rate(p.clone()));
                max_rate(
                    &run,
                    (ceiling, bar_rps),
                    (percentile, budget_ms),
                    env,
                    &mut append,
                )
                .map(|(record, _)| record)
            });
            match found {
                Ok(record) => {
                    let score = max_rate_score(&record, batch);
                    sink.append(&Record::MaxRate(record))?;
                    Ok(score)
                }
                Err(Error::Interrupted) => Err(Error::Interrupted),
                Err(e) => {
                    if !opts.quiet {
                        progress.note(&format!(
                            "[tune] {} failed: {e}; no score, going on",
                            cfg.id()
                        ));
                    }
                    Ok(Measured::NoScore)
                }
            }
        }
    }
}

/// How far above its burst capacity a point's rate search reaches: a short probe
/// can pass a little past the capacity before its queue grows.
const CEILING_OVER_CAPACITY: f64 = 1.1;

/// The record of a point not searched: even its ceiling is at or below `bar_rps`.
fn cannot_beat(
    run: &CurveRun<'_>,
    (percentile, budget_ms): (super::record::Percentile, f64),
    bar_rps: f64,
    env: &SweepEnvironment,
) -> super::record::MaxRateRecord {
    super::record::MaxRateRecord {
        sweep: run.sweep.to_string(),
        id: run.cfg.id(),
        percentile,
        budget_ms,
        max_rps: None,
        latency_at_max_ms: None,
        first_failing_rps: None,
        probes: 0,
        bar_rps: Some(bar_rps),
        env: env.clone(),
    }
}
