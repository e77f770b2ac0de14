//! The loop that turns each configuration of a suite into a criterion group, and
//! the three measurements a suite runs.

use std::time::Duration;

use criterion::measurement::{Measurement, WallTime};
use criterion::{Criterion, SamplingMode, Throughput};

use super::selection::Selection;
use super::suite::Suite;
use super::units::{TailLatency, Utilization};
use crate::config::RunConfig;
use crate::pipeline::Window;
use crate::sweep::stable::UntilStable;
use crate::sweep::stable_run::settle;
use crate::target::Endpoint;

/// A window this long holds several utilisation samples (the sampler's period is
/// 100 ms), whatever the model's speed.
const MEASURABLE_WINDOW: Duration = Duration::from_secs(1);
/// Bootstrap resamples per analysis. Criterion's default, 100,000, is for hundreds of
/// samples; a suite takes about ten, whose resamples number at most C(19, 10) = 92,378
/// distinct ones, so 10,000 leave the intervals' Monte Carlo error far below their
/// width. It also draws the HTML report's density plots from 10× fewer points, which
/// was half a default suite's wall time (docs/criterion.md has the figures).
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Criterion settings for pipeline benchmarks: the server is warmed up before
/// criterion sees it, so criterion's own warm-up only has to be non-zero.
/// `--nresamples` on the command line still overrides the resamples.
pub fn criterion_config<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    c.warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .noise_threshold(0.05)
        .nresamples(BOOTSTRAP_RESAMPLES)
}

/// A benchmark of a suite that could not be measured: its server did not start.
#[derive(Debug, Clone, PartialEq)]
pub struct NotMeasured {
    /// The configuration's id (the criterion group).
    pub id: String,
    /// The measurement (`time`, `p99`, `cpu-util`).
    pub measurement: String,
    /// The error.
    pub why: String,
}

/// A measurement that can be read off a pipeline window.
pub trait PipelineMeasurement: Measurement + Sized {
    /// The benchmark function name (`time`, `p99`, `cpu-util`).
    fn name(&self) -> String;
    /// The sample's value for criterion, which divides it by `iters`.
    fn value(&self, window: &Window, iters: u64) -> Self::Value;
    /// Whether a window gave this measurement a figure (utilisation needs a window of
    /// at least one sampling period).
    fn measured(&self, _window: &Window) -> bool {
        true
    }
    /// The configuration a sample's windows run (its `num_iters` is the requests in
    /// a window): the suite's, by default.
    fn window_config(&self, cfg: &RunConfig) -> RunConfig {
        cfg.clone()
    }
    /// Whether criterion should also print samples/s.
    fn with_throughput(&self) -> bool {
        false
    }
    /// Whether this measurement has a figure for `cfg` at all (GPU utilisation has none
    /// for a CPU configuration); one that has not is skipped without starting a server.
    fn applies_to(&self, _cfg: &RunConfig) -> bool {
        true
    }
}

impl PipelineMeasurement for WallTime {
    fn name(&self) -> String {
        "time".into()
    }
    /// Time per request: the window over the requests in it, so samples/s follows.
    fn value(&self, window: &Window, iters: u64) -> Duration {
        let c = &window.collector;
        let per_request = c.window_ns().unwrap_or(1) as f64 / c.latency.count().max(1) as f64;
        Duration::from_nanos((per_request * iters as f64).round().max(1.0) as u64)
    }
    fn with_throughput(&self) -> bool {
        true
    }
}

impl PipelineMeasurement for TailLatency {
    fn name(&self) -> String {
        TailLatency::name(self)
    }
    /// The window's statistic in ns; floored at 1 ns because criterion skips a
    /// benchmark whose sample is exactly 0.
    fn value(&self, window: &Window, iters: u64) -> f64 {
        let latency = &window.collector.latency;
        let ns = match self.percentile.quantile() {
            Some(q) => latency.quantile_ns(q) as f64,
            None => latency.summary().map_or(0.0, |s| s.mean * 1e6),
        };
        ns.max(1.0) * iters as f64
    }
    fn measured(&self, window: &Window) -> bool {
        window.collector.latency.count() > 0
    }
    /// A steady closed loop, whatever the suite's arrival process.
    fn window_config(&self, cfg: &RunConfig) -> RunConfig {
        let mut cfg = cfg.clone();
        cfg.load.arrival = self.arrival(cfg.backend.workers);
        cfg.load.num_iters = self.requests(u64::from(cfg.load.num_iters)) as u32;
        cfg
    }
}

impl PipelineMeasurement for Utilization {
    fn name(&self) -> String {
        Utilization::name(self).into()
    }
    fn measured(&self, window: &Window) -> bool {
        let u = &window.utilization;
        match self.source {
            super::units::UtilizationSource::Gpu => u.gpu_pct.is_some(),
            super::units::UtilizationSource::Cpu => u.cpu_pct.is_some(),
        }
    }
    /// Criterion skips a benchmark whose sample is exactly 0, so an idle window
    /// (which a real pipeline window never is) would be floored at 1e-9 %.
    fn value(&self, window: &Window, iters: u64) -> f64 {
        let u = &window.utilization;
        let pct = match self.source {
            super::units::UtilizationSource::Gpu => u.gpu_pct,
            super::units::UtilizationSource::Cpu => u.cpu_pct,
        };
        let pct = pct.expect("the utilisation source was detected as present; this is a bug");
        pct.max(1e-9) * iters as f64
    }
    fn applies_to(&self, cfg: &RunConfig) -> bool {
        Utilization::applies_to(self, cfg)
    }
}

/// Runs the suite: wall time, the tail-latency statistic and utilisation, each
/// over every configuration `selection` (criterion's command line) selects, then
/// criterion's summary (what `criterion_main!` would do, with the suite chosen at
/// run time). Returns the benchmarks that could not start; the caller decides what
/// that means for the exit status.
pub fn run_suite(suite: &Suite, selection: &Selection) -> Vec<NotMeasured> {
    let (latency, utilization) = measurements(suite);
    let mut failed = Vec::new();
    let mut time = criterion_config(Criterion::default()).configure_from_args();
    failed.extend(bench_configs(&mut time, &WallTime, suite, selection));
    let mut tail =
        criterion_config(Criterion::default().with_measurement(latency)).configure_from_args();
    failed.extend(bench_configs(&mut tail, &latency, suite, selection));
    let mut util =
        criterion_config(Criterion::default().with_measurement(utilization)).configure_from_args();
    failed.extend(bench_configs(&mut util, &utilization, suite, selection));
    Criterion::default().configure_from_args().final_summary();
    failed
}

/// The suite's tail-latency and utilisation measurements (the third is wall time).
fn measurements(suite: &Suite) -> (TailLatency, Utilization) {
    let latency = TailLatency {
        percentile: suite.percentile,
        in_flight_per_worker: suite.spec.criterion.tail_in_flight_per_worker,
    };
    (latency, Utilization::for_suite(&suite.configs))
}

/// Says how many of the suite's benchmarks a filter selects; an error where it
/// selects none and would run (a typo in a filter must not pass for a run that
/// measured the suite). Listing, `--ignored` and no filter are never refused.
pub fn check_selection(suite: &Suite, selection: &Selection) -> Result<(), String> {
    let Some(filter) = selection.describe() else {
        return Ok(());
    };
    let (latency, utilization) = measurements(suite);
    let (selected, total) = [
        selected(&WallTime, suite, selection),
        selected(&latency, suite, selection),
        selected(&utilization, suite, selection),
    ]
    .iter()
    .fold((0, 0), |(s, t), (s1, t1)| (s + s1, t + t1));
    eprintln!(
        "[inferbench] the filter {filter} selects {selected} of suite {}'s {total} benchmarks",
        suite.spec.name
    );
    if selected == 0 && !selection.list_only && !selection.is_ignored() {
        return Err(format!(
            "the filter {filter} selects none of suite {}'s {total} benchmarks, so nothing would be measured; `cargo bench --bench pipeline -- --list` names them",
            suite.spec.name
        ));
    }
    Ok(())
}

/// How many of `suite`'s benchmarks of `measurement` `selection` selects, of how many.
fn selected<M: PipelineMeasurement>(
    measurement: &M,
    suite: &Suite,
    selection: &Selection,
) -> (usize, usize) {
    let ids = suite
        .configs
        .iter()
        .filter(|cfg| measurement.applies_to(cfg))
        .map(|cfg| benchmark_id(&cfg.id(), measurement));
    ids.fold((0, 0), |(s, t), id| {
        (s + usize::from(selection.selects(&id)), t + 1)
    })
}

/// Criterion's id of a configuration's benchmark: `group/function`.
fn benchmark_id<M: PipelineMeasurement>(config_id: &str, measurement: &M) -> String {
    format!("{config_id}/{}", measurement.name())
}

/// Runs every configuration of `suite` as a criterion group measured by `c`'s
/// measurement. A configuration whose server cannot start is not measured and is
/// returned, so that a suite that measured less than it names cannot pass for a
/// whole one. A benchmark `selection` does not run (filtered out, or `--list`)
/// starts no server.
pub fn bench_configs<M: PipelineMeasurement>(
    c: &mut Criterion<M>,
    measurement: &M,
    suite: &Suite,
    selection: &Selection,
) -> Vec<NotMeasured> {
    let mut failed = Vec::new();
    let total = suite.configs.len();
    let settings = &suite.spec.criterion;
    for (k, cfg) in suite.configs.iter().enumerate() {
        let id = cfg.id();
        if !measurement.applies_to(cfg) {
            eprintln!(
                "[inferbench] {}/{total} {id}: no {} on this device, skipped",
                k + 1,
                measurement.name()
            );
            continue;
        }
        if !selection.needs_server(&benchmark_id(&id, measurement)) {
            register_unstarted(c, &id, measurement);
            continue;
        }
        eprintln!(
            "[inferbench] {}/{total} {id} ({}, suite {})",
            k + 1,
            measurement.name(),
            suite.spec.name
        );
        let cfg = &measurement.window_config(cfg);
        let started = Endpoint::start(cfg, suite.limits, None, &mut |_| {});
        let mut server = match started {
            Ok(server) => server,
            Err(e) => {
                eprintln!("[inferbench] {id}: FAILED, not measured: {e}");
                failed.push(NotMeasured {
                    id: id.clone(),
                    measurement: measurement.name(),
                    why: e.to_string(),
                });
                continue;
            }
        };
        if let Some(until) = &suite.spec.until_stable {
            if let Err(why) = settle_first(&mut server, cfg, until, &id) {
                eprintln!("[inferbench] {id}: NOT MEASURED: {why}");
                failed.push(NotMeasured {
                    id: id.clone(),
                    measurement: measurement.name(),
                    why,
                });
                if let Err(e) = server.stop() {
                    eprintln!("[inferbench] {id} did not shut down cleanly: {e}");
                }
                continue;
            }
        }
        let mut group = c.benchmark_group(&id);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(settings.samples);
        if measurement.with_throughput() {
            group.throughput(Throughput::Elements(cfg.load.batch_size as u64));
        }
        // The suite's requests_per_sample, as the measurement's window_config left it.
        let requests = u64::from(cfg.load.num_iters);
        group.bench_function(measurement.name(), |b| {
            b.iter_custom(|iters| {
                // A window too short for this measurement (utilisation needs a sampler
                // period, 100 ms: a fast model's window can be shorter) is measured
                // again with twice the requests, until it lasts a second; so every
                // sample carries a real figure.
                let mut n = requests;
                loop {
                    let started = std::time::Instant::now();
                    let window = server
                        .measure(n, false)
                        .unwrap_or_else(|e| panic!("{id}: {e}"));
                    let long = started.elapsed() >= MEASURABLE_WINDOW;
                    if measurement.measured(&window) || long {
                        break measurement.value(&window, iters);
                    }
                    n *= 2;
                }
            })
        });
        group.finish();
        if let Err(e) = server.stop() {
            eprintln!("[inferbench] {id} did not shut down cleanly: {e}");
        }
    }
    failed
}

/// Registers `id`'s benchmark without starting a server: criterion lists it, or
/// its filter skips it. Should criterion run it after all (its reading of its
/// command line and [`Selection`]'s disagree), it stops with an error that says so
/// rather than going missing.
fn register_unstarted<M: PipelineMeasurement>(c: &mut Criterion<M>, id: &str, measurement: &M) {
    let name = measurement.name();
    let mut group = c.benchmark_group(id);
    group.bench_function(&name, |_| {
        panic!(
            "{id}/{name}: criterion runs this benchmark, but inferbench read the command line as skipping it and started no server; run without the filter, and report the command line as a bug"
        )
    });
    group.finish();
}

/// The suite's `[until_stable]` phase: windows of the suite's size on the started
/// server until the judge says the figures stand, before criterion takes a sample.
/// A server that does not settle is not measured (the error says why), so criterion
/// never averages samples of a server still moving.
fn settle_first(
    server: &mut Endpoint,
    cfg: &RunConfig,
    until: &UntilStable,
    id: &str,
) -> Result<(), String> {
    let stability = settle(server, cfg, until, &mut |_| {}).map_err(|e| e.to_string())?;
    if !stability.settled {
        return Err(format!(
            "did not settle before criterion's samples in {:.1} s ({})",
            stability.elapsed_s,
            stability.reason.unwrap_or_default()
        ));
    }
    eprintln!(
        "[inferbench] {id}: settled after {} windows ({} requests, {:.1} s; {} {:.3} ms); criterion samples from here",
        stability.windows, stability.requests, stability.elapsed_s, stability.figure, stability.latency_ms
    );
    Ok(())
}
