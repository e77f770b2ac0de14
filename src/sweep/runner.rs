//! Running a sweep: each point is a full [`crate::target::run`] (a fresh server per repeat, as the seed's
//! runner started a fresh process), and each finished configuration is written as
//! one complete JSON line, so an interrupted sweep leaves every finished record.
//! Ctrl-C stops a sweep between configurations (the one running is not recorded);
//! a run cut short by a stall or the time limit is recorded as failed and the sweep
//! goes on.

use super::curve_run::limited;
use super::environment::probe_record;
use super::progress::Progress;
use super::record::{
    ConfigFigures, ConfigRecord, LatencyStats, Percentile, Record, Stat, Status, SweepEnvironment,
};
use super::shard::{self, Shard};
use super::spec::SweepSpec;
use super::stable::UntilStable;
use super::stable_run::run_until_stable;
use crate::config::limits::RunLimits;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::model::Architecture;
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

/// One run of a sweep (until stable, with `until`): its report, the error that
/// failed it, or `None` for Ctrl-C.
fn sweep_run(
    cfg: &RunConfig,
    until: Option<&UntilStable>,
    limits: RunLimits,
) -> Option<std::result::Result<RunReport, String>> {
    if crate::pipeline::interrupt::requested() {
        return None;
    }
    if let Some(until) = until {
        return match run_until_stable(cfg, until, limits, &mut |_| {}) {
            Ok(report) => Some(Ok(report)),
            Err(Error::Interrupted) => None,
            Err(e) => Some(Err(e.to_string())),
        };
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

/// Runs one configuration `spec.repeats` times into its record; `None` for Ctrl-C.
pub fn run_config(
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
        match sweep_run(cfg, spec.until_stable.as_ref(), limits) {
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
        settled: spec.until_stable.as_ref().map(|_| {
            reports
                .iter()
                .all(|r| r.stability.as_ref().is_some_and(|s| s.settled))
        }),
        stability: reports.iter().filter_map(|r| r.stability.clone()).collect(),
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
