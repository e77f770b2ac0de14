//! Running `inferbench tune`: the search of [`super::tune`] over a sweep's grid,
//! each point measured as a sweep measures it (its `config` record), or, with a
//! latency budget, by the curve's rate search inside the point (its `rate` and
//! `max_rate` records), all appended to one results file that `inferbench report`
//! reads like a sweep's; a `tune` record at the end says which path the search
//! took and why it stopped.

use std::time::{Duration, Instant};

use super::curve_run::{capacity_rps, max_rate, CurveRun};
use super::environment::probe_record;
use super::progress::Progress;
use super::record::{Percentile, Record, Status, SweepEnvironment, TuneRecord};
use super::runner::run_config;
use super::spec::SweepSpec;
use super::tune::{axes_of, flat_index, hill_climb, point_of, Search, Stop, Visit};
use crate::config::limits::RunLimits;
use crate::error::{Error, Result};
use crate::results::jsonl::JsonlSink;

/// What the search maximises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Samples/s of the configuration as the sweep runs it.
    Throughput,
    /// Samples/s at the highest Poisson rate whose percentile stays within the
    /// budget, ms (the curve's question, asked of each point).
    MaxRate(Percentile, f64),
}

impl Goal {
    fn words(self) -> String {
        match self {
            Goal::Throughput => "maximum throughput".into(),
            Goal::MaxRate(p, b) => format!("maximum rate with {} ≤ {b} ms", p.name()),
        }
    }
}

/// How to search.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// What to maximise.
    pub goal: Goal,
    /// Measure every point (`true`, for comparison) instead of searching.
    pub grid: bool,
    /// Picks the start and the neighbours' order.
    pub seed: u64,
    /// Most points to measure.
    pub max_runs: Option<usize>,
    /// No point starts after this long.
    pub max_time: Option<Duration>,
    /// A neighbour must beat the current point by this fraction to move there.
    pub min_gain: f64,
    /// Each run's limits.
    pub limits: RunLimits,
    /// No progress lines.
    pub quiet: bool,
}

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
    let mut eval = |point: &[usize], bar: Option<f64>| -> Result<Option<f64>> {
        let index = flat_index(&axes, point);
        let cfg = &configs[index];
        if !opts.quiet {
            progress.show(&cfg.id());
        }
        let measured = measure_point(spec, (index, cfg), opts, bar, &env, sink, &mut progress)?;
        progress.finish_one();
        if !opts.quiet {
            let shown = match measured {
                Measured::Score(s) => format!("{s:.1} samples/s"),
                Measured::NoScore => "no score".into(),
                Measured::CannotBeat => "cannot beat the current point".into(),
            };
            progress.note(&format!("[tune] {}: {shown}", cfg.id()));
        }
        Ok(match measured {
            Measured::Score(s) => Some(s),
            Measured::NoScore | Measured::CannotBeat => None,
        })
    };
    let search = if opts.grid {
        every_point(configs.len(), &axes, out_of_budget, &mut eval)?
    } else {
        hill_climb(&axes, opts.seed, opts.min_gain, out_of_budget, &mut eval)?
    };
    if !opts.quiet {
        progress.end();
    }
    let record = tune_record(spec, opts, &search, &configs, started.elapsed(), env);
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

/// What measuring a point gave.
enum Measured {
    /// Its throughput, or its samples/s at the highest rate within the budget.
    Score(f64),
    /// It failed, did not settle, or no rate met the budget.
    NoScore,
    /// With a budget: it cannot beat the bar it was given (the search's current point).
    CannotBeat,
}

/// One point's score. With a budget and a `bar` (samples/s), its rate search starts
/// at the bar, and does not run when the burst capacity is below it: a point that
/// cannot beat the bar cannot move the search.
fn measure_point(
    spec: &SweepSpec,
    (index, cfg): (usize, &crate::config::RunConfig),
    opts: &TuneOptions,
    bar: Option<f64>,
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
            let score = match (&record.status, record.settled, &record.figures) {
                (Status::Ok, None | Some(true), Some(f)) => {
                    Measured::Score(f.throughput_samples_per_s.mean)
                }
                _ => Measured::NoScore,
            };
            sink.append(&Record::Config(record))?;
            Ok(score)
        }
        Goal::MaxRate(percentile, budget_ms) => {
            let run = CurveRun {
                sweep: &spec.name,
                cfg,
                until: spec.until_stable.as_ref(),
                limits: opts.limits,
                quiet: true,
            };
            let batch = cfg.load.batch_size as f64;
            let bar_rps = bar.map(|b| b / batch);
            let found = capacity_rps(&run).and_then(|capacity| {
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
                    let score = match (record.max_rps, record.bar_rps) {
                        (Some(r), _) => Measured::Score(r * batch),
                        (None, Some(_)) => Measured::CannotBeat,
                        (None, None) => Measured::NoScore,
                    };
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

fn tune_record(
    spec: &SweepSpec,
    opts: &TuneOptions,
    search: &Search,
    configs: &[crate::config::RunConfig],
    wall: Duration,
    env: SweepEnvironment,
) -> TuneRecord {
    let axes = axes_of(spec);
    let id = |p: &[usize]| configs[flat_index(&axes, p)].id();
    let path: Vec<(String, Option<f64>, bool)> = search
        .visits
        .iter()
        .map(|v| (id(&v.point), v.score, v.moved))
        .collect();
    let best = search.best.as_ref().map(|(p, s)| (id(p), *s));
    let text = explain(spec, opts, search, &path, &best, wall, configs.len());
    TuneRecord {
        sweep: spec.name.clone(),
        goal: opts.goal.words(),
        strategy: if opts.grid { "grid" } else { "hill" }.into(),
        seed: opts.seed,
        grid_size: configs.len(),
        path,
        best,
        stop: search.stop,
        text,
        wall_s: wall.as_secs_f64(),
        env,
    }
}

/// The search in words: where it started, each move, why it stopped, what it found.
fn explain(
    spec: &SweepSpec,
    opts: &TuneOptions,
    search: &Search,
    path: &[(String, Option<f64>, bool)],
    best: &Option<(String, f64)>,
    wall: Duration,
    grid: usize,
) -> String {
    let score = |s: Option<f64>| s.map_or("no score".into(), |s| format!("{s:.1} samples/s"));
    let mut text = format!("Tune '{}' for {}", spec.name, opts.goal.words());
    if opts.grid {
        text.push_str(": every configuration of the grid, in order.");
    } else {
        let moves: Vec<String> = path
            .iter()
            .filter(|p| p.2)
            .map(|(id, s, _)| format!("`{id}` ({})", score(*s)))
            .collect();
        text.push_str(&format!(
            " (hill climbing, seed {}, a move needs +{} %): {}.",
            opts.seed,
            opts.min_gain * 100.0,
            match moves.split_first() {
                Some((start, rest)) if !rest.is_empty() =>
                    format!("started at {start}, moved to {}", rest.join(", then ")),
                Some((start, _)) => format!("started at {start} and never moved"),
                None => "measured nothing".into(),
            }
        ));
    }
    let why = match search.stop {
        Stop::LocalOptimum => "no neighbour of the best point beats it (a local optimum)",
        Stop::Budget => "the budget ran out",
        Stop::Exhausted => "every configuration was measured",
    };
    text.push_str(&format!(
        " Stopped because {why}, after measuring {} of {grid} configurations in {:.0} s.",
        path.len(),
        wall.as_secs_f64()
    ));
    match best {
        Some((id, s)) => text.push_str(&format!(" **Best: `{id}`, {s:.1} samples/s.**")),
        None => text.push_str(
            " **No configuration scored** (each failed, did not settle or met no budget).",
        ),
    }
    text
}
