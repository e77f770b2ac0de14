//! Running a sweep, a latency–throughput curve and the rate search: each point is a
//! full [`crate::target::run`] (a fresh server per repeat, as the seed's
//! runner started a fresh process), and each finished configuration is written as
//! one complete JSON line, so an interrupted sweep leaves every finished record.
//! Ctrl-C stops a sweep between configurations (the one running is not recorded);
//! a run cut short by a stall or the time limit is recorded as failed and the sweep
//! goes on.

use super::curve::{auto_rates, search_max_rate, Rates, SearchLimits, SearchResult};
use super::environment::probe_record;
use super::progress::Progress;
use super::record::{
    ConfigFigures, ConfigRecord, LatencyStats, MaxRateRecord, Percentile, RatePoint, Record, Stat,
    Status, SweepEnvironment,
};
use super::shard::{self, Shard};
use super::spec::SweepSpec;
use crate::config::limits::RunLimits;
use crate::config::{Arrival, RunConfig};
use crate::error::{Error, Result};
use crate::model::Architecture;
use crate::pipeline::RunOptions;
use crate::results::jsonl::JsonlSink;
use crate::results::RunReport;
use crate::target;

/// What a finished sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Configurations whose every repeat ran.
    pub ok: usize,
    /// Configurations with a failed repeat.
    pub failed: usize,
    /// Ctrl-C stopped the sweep before its last configuration.
    pub interrupted: bool,
    /// Configurations that ran more compute threads than the cores.
    pub oversubscribed: usize,
}

/// Runs every configuration of `spec` (or, with `shard`, that shard's part of the
/// grid) `spec.repeats` times and appends a probe record and one record per
/// configuration to `sink`; a shard's file starts with its header
/// ([`ShardRecord`](super::record::ShardRecord)). A configuration that fails is recorded as failed (with the
/// error) and the sweep goes on; so is one that stalls or outlasts `limits`.
pub fn run_sweep(
    spec: &SweepSpec,
    shard: Option<Shard>,
    sink: &mut JsonlSink,
    quiet: bool,
    limits: RunLimits,
) -> Result<SweepOutcome> {
    let (configs, chosen) = shard::plan(spec, shard)?;
    let env = SweepEnvironment::detect();
    if let Some(s) = shard {
        sink.append(&Record::Shard(shard::header(
            spec, &configs, s, &chosen, &env,
        )))?;
    }
    let probe = probe_record(&spec.name, &env)?;
    if !quiet {
        let part = shard.map_or_else(String::new, |s| format!(" shard {s}: {} of", chosen.len()));
        eprintln!(
            "[sweep] '{}':{part} {} configurations × {} repeats; GEMM peak {:.1} GFLOP/s on {} threads",
            spec.name,
            configs.len(),
            spec.repeats,
            probe.peak_gflops,
            probe.threads
        );
    }
    sink.append(&Record::Probe(probe))?;
    let mut progress = Progress::start("sweep", chosen.len() * spec.repeats as usize);
    let mut outcome = SweepOutcome {
        ok: 0,
        failed: 0,
        interrupted: false,
        oversubscribed: 0,
    };
    for index in chosen {
        let config = (index, &configs[index]);
        let Some(record) = run_config(spec, config, &env, &mut progress, quiet, limits)? else {
            outcome.interrupted = true;
            break;
        };
        match record.status {
            Status::Ok => outcome.ok += 1,
            Status::Failed => outcome.failed += 1,
        }
        outcome.oversubscribed += usize::from(record.oversubscribed);
        sink.append(&Record::Config(record))?;
    }
    if !quiet {
        progress.end();
    }
    Ok(outcome)
}

/// One run of a sweep: its report, the error that failed it, or `None` for Ctrl-C.
fn sweep_run(cfg: &RunConfig, limits: RunLimits) -> Option<std::result::Result<RunReport, String>> {
    if crate::pipeline::interrupt::requested() {
        return None;
    }
    match target::run(cfg, limited(limits)) {
        Ok(outcome) => match outcome.cut {
            None => Some(Ok(outcome.report)),
            Some(cut) if cut.is_interrupt() => None,
            Some(cut) => Some(Err(cut.to_string())),
        },
        Err(Error::Interrupted) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// One run's options: the defaults, within `limits`.
fn limited(limits: RunLimits) -> RunOptions<'static> {
    RunOptions {
        limits,
        ..RunOptions::default()
    }
}

fn run_config(
    spec: &SweepSpec,
    (index, cfg): (usize, &RunConfig),
    env: &SweepEnvironment,
    progress: &mut Progress,
    quiet: bool,
    limits: RunLimits,
) -> Result<Option<ConfigRecord>> {
    let id = cfg.id();
    let mut reports = Vec::new();
    let mut error = None;
    for rep in 0..spec.repeats {
        if !quiet {
            progress.show(&format!("{id} (rep {}/{})", rep + 1, spec.repeats));
        }
        match sweep_run(cfg, limits) {
            None => return Ok(None),
            Some(Ok(report)) => reports.push(report),
            Some(Err(e)) => {
                if !quiet {
                    progress.note(&format!("[sweep] {id} failed: {e}; recorded, going on"));
                }
                error = Some(e);
                // A configuration that failed once fails again (a bad combination, no
                // memory): its remaining repeats are skipped, not retried.
                for _ in rep..spec.repeats {
                    progress.finish_one();
                }
                break;
            }
        }
        progress.finish_one();
    }
    if let Some(r) = reports.iter().find(|r| r.server.oversubscribed) {
        if !quiet {
            progress.note(&format!(
                "[sweep] warning: {id} ran {} compute threads on {} cores (oversubscribed)",
                r.server.compute_threads, r.env.cores
            ));
        }
    }
    let gflop = Architecture::parse(&cfg.model.name)
        .ok()
        .and_then(|a| a.gflop_per_sample(&cfg.model));
    Ok(Some(ConfigRecord {
        sweep: spec.name.clone(),
        index,
        id,
        config: cfg.clone(),
        intra_op_threads: reports
            .first()
            .and_then(|r| r.server.intra_op_threads)
            .unwrap_or_else(|| cfg.intra_op_threads()),
        oversubscribed: reports.iter().any(|r| r.server.oversubscribed),
        repeats: spec.repeats,
        repeats_ok: reports.len() as u32,
        status: if error.is_none() {
            Status::Ok
        } else {
            Status::Failed
        },
        error,
        figures: aggregate(&reports),
        model_gflop_per_sample: gflop,
        env: env.clone(),
    }))
}

/// Mean ± std of each figure over the repeats' reports; `None` without reports.
pub fn aggregate(reports: &[RunReport]) -> Option<ConfigFigures> {
    if reports.is_empty() {
        return None;
    }
    let stat = |f: &dyn Fn(&RunReport) -> f64| {
        Stat::of(reports.iter().map(f).collect()).expect("reports is not empty; this is a bug")
    };
    let latency = |p: Percentile| stat(&|r: &RunReport| p.of_summary(&r.latency_ms));
    let all = |f: &dyn Fn(&RunReport) -> Option<f64>| Stat::of_all(reports.iter().map(f).collect());
    let stages_ms = reports[0]
        .stages_ms
        .named()
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            (
                name.clone(),
                stat(&|r: &RunReport| r.stages_ms.named().get(k).map_or(f64::NAN, |s| s.1)),
            )
        })
        .collect();
    Some(ConfigFigures {
        throughput_samples_per_s: stat(&|r| r.throughput_samples_per_s),
        latency_ms: LatencyStats {
            mean: latency(Percentile::Mean),
            p50: latency(Percentile::P50),
            p90: latency(Percentile::P90),
            p95: latency(Percentile::P95),
            p99: latency(Percentile::P99),
            p999: latency(Percentile::P999),
        },
        stages_ms,
        warmup_latency_ms: stat(&|r| r.server.warmup_latency_ms),
        cpu_util_pct: Stat::of_all(reports.iter().map(|r| r.utilization.cpu_pct).collect()),
        gpu_util_pct: Stat::of_all(reports.iter().map(|r| r.utilization.gpu_pct).collect()),
        pipeline_efficiency: Stat::of_all(reports.iter().map(|r| r.pipeline_efficiency).collect()),
        gpu_memory_used_mib: all(&|r| r.utilization.gpu_memory_used_mib),
        gpu_sm_clock_mhz: all(&|r| r.utilization.gpu_sm_clock_mhz),
        gpu_power_w: all(&|r| r.utilization.gpu_power_w),
        limit_efficiency: all(&|r| r.limits.map(|l| l.efficiency)),
        compile_time_s: all(&|r| r.server.compile_time_s),
        package_compiled_in_s: all(&|r| {
            r.server
                .model
                .compile_cache
                .as_ref()
                .map(|c| c.compiled_in_s)
        }),
    })
}

/// The configuration's capacity in requests/s: its burst throughput.
pub fn capacity_rps(cfg: &RunConfig, limits: RunLimits) -> Result<f64> {
    let mut burst = cfg.clone();
    burst.load.arrival = Arrival::Burst;
    burst.measure_bare_forward = false;
    let report = target::run(&burst, limited(limits))?.into_complete()?;
    Ok(report.throughput_samples_per_s / cfg.load.batch_size as f64)
}

/// The rates a curve runs at: the explicit ones, or fractions of the burst capacity,
/// which is measured first.
pub fn resolve_rates(
    cfg: &RunConfig,
    rates: &Rates,
    quiet: bool,
    limits: RunLimits,
) -> Result<Vec<f64>> {
    match rates {
        Rates::Explicit(r) => Ok(r.clone()),
        Rates::Auto => {
            if !quiet {
                eprintln!("[curve] measuring the burst capacity of {}", cfg.id());
            }
            let capacity = capacity_rps(cfg, limits)?;
            if !quiet {
                eprintln!("[curve] capacity {capacity:.1} requests/s; rates at 20-110 % of it");
            }
            Ok(auto_rates(capacity))
        }
    }
}

/// One open-loop Poisson run at `rate` requests/s, within `limits`.
pub fn rate_point(
    (sweep, cfg): (&str, &RunConfig),
    rate: f64,
    env: &SweepEnvironment,
    limits: RunLimits,
) -> Result<RatePoint> {
    let mut at_rate = cfg.clone();
    at_rate.load.arrival = Arrival::Poisson(rate);
    at_rate.measure_bare_forward = false;
    let report = target::run(&at_rate, limited(limits))?.into_complete()?;
    Ok(RatePoint {
        sweep: sweep.to_string(),
        id: cfg.id(),
        offered_rps: rate,
        achieved_rps: report.requests as f64 / report.window_s,
        throughput_samples_per_s: report.throughput_samples_per_s,
        latency_ms: report.latency_ms,
        sender_lag_max_ms: report.stages_ms.sender_lag_max,
        config: at_rate,
        env: env.clone(),
    })
}

/// Runs the curve at `rates` (appending each point) and, with a budget, the search,
/// each run within `limits`; returns the points and the search's record.
pub fn run_curve(
    (sweep, cfg): (&str, &RunConfig),
    rates: &[f64],
    budget: Option<(Percentile, f64)>,
    sink: &mut JsonlSink,
    quiet: bool,
    limits: RunLimits,
) -> Result<(Vec<RatePoint>, Option<MaxRateRecord>)> {
    let env = SweepEnvironment::detect();
    let mut progress = Progress::start("curve", rates.len());
    let mut points = Vec::new();
    for &rate in rates {
        if !quiet {
            progress.show(&format!("{} at {rate:.1} requests/s", cfg.id()));
        }
        let point = rate_point((sweep, cfg), rate, &env, limits)?;
        sink.append(&Record::Rate(point.clone()))?;
        points.push(point);
        progress.finish_one();
    }
    if !quiet {
        progress.end();
    }
    let Some((percentile, budget_ms)) = budget else {
        return Ok((points, None));
    };
    let ceiling = rates.iter().copied().fold(0.0, f64::max);
    let found = search(
        (sweep, cfg),
        ceiling,
        (percentile, budget_ms),
        &env,
        quiet,
        limits,
    )?;
    let record = MaxRateRecord {
        sweep: sweep.to_string(),
        id: cfg.id(),
        percentile,
        budget_ms,
        max_rps: found.best.map(|b| b.0),
        latency_at_max_ms: found.best.map(|b| b.1),
        first_failing_rps: found.first_failing,
        probes: found.probes.len() as u32,
        env,
    };
    sink.append(&Record::MaxRate(record.clone()))?;
    Ok((points, Some(record)))
}

fn search(
    (sweep, cfg): (&str, &RunConfig),
    ceiling: f64,
    (percentile, budget_ms): (Percentile, f64),
    env: &SweepEnvironment,
    quiet: bool,
    limits: RunLimits,
) -> Result<SearchResult> {
    search_max_rate(ceiling, budget_ms, 0.1, SearchLimits::default(), |rate| {
        let point = rate_point((sweep, cfg), rate, env, limits)?;
        let latency = percentile.of_summary(&point.latency_ms);
        if !quiet {
            eprintln!(
                "[search] {rate:.1} requests/s: {} {latency:.2} ms ({} {budget_ms} ms)",
                percentile.name(),
                if latency <= budget_ms {
                    "within"
                } else {
                    "over"
                }
            );
        }
        Ok(latency)
    })
}
