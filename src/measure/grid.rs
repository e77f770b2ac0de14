//! Benchmark profiles (which configurations to run) and the loop that turns each
//! configuration into a criterion group.

use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::{Measurement, WallTime};
use criterion::{Criterion, SamplingMode, Throughput};

use super::units::{TailLatency, Utilization};
use crate::config::{CompileMode, RunConfig, StreamLayout};
use crate::device::CpuDevice;
use crate::pipeline::{Server, Window};

/// A grid of configurations and how much to measure each.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Name (`default`, `full`, `ci`).
    pub name: &'static str,
    /// Input side in px.
    pub image_size: u32,
    /// Samples per request.
    pub batch_sizes: Vec<u32>,
    /// Compile modes.
    pub compiles: Vec<CompileMode>,
    /// Worker counts.
    pub workers: Vec<u32>,
    /// Stream layouts.
    pub streams: Vec<StreamLayout>,
    /// Requests in each criterion sample's window.
    pub requests_per_sample: u64,
    /// Criterion samples per benchmark (criterion's minimum is 10).
    pub samples: usize,
}

impl Profile {
    /// `INFERBENCH_PROFILE`: `default` (every axis, small images: minutes on 2 cores),
    /// `full` (the seed's grid at 224 px: hours on a CPU), or `ci` (one small
    /// configuration, for `cargo bench -- --test`).
    pub fn from_env() -> Self {
        match std::env::var("INFERBENCH_PROFILE").as_deref() {
            Ok("full") => Self::full(),
            Ok("ci") => Self::ci(),
            _ => Self::default_profile(),
        }
    }

    /// Every axis at 32 px: 2 batch sizes × 2 compile modes × 1-2 workers × 2 layouts.
    pub fn default_profile() -> Self {
        Self {
            name: "default",
            image_size: 32,
            batch_sizes: vec![1, 4],
            compiles: vec![CompileMode::Eager, CompileMode::Torchscript],
            workers: vec![1, 2],
            streams: vec![StreamLayout::Shared, StreamLayout::Dedicated],
            requests_per_sample: 16,
            samples: 10,
        }
    }

    /// The seed's grid (runner.sh): bs 1-256 × compile × workers 1-4 × layouts, 224 px.
    pub fn full() -> Self {
        Self {
            name: "full",
            image_size: 224,
            batch_sizes: vec![1, 32, 64, 128, 256],
            compiles: vec![CompileMode::Eager, CompileMode::Torchscript],
            workers: vec![1, 2, 3, 4],
            streams: vec![StreamLayout::Shared, StreamLayout::Dedicated],
            requests_per_sample: 20,
            samples: 10,
        }
    }

    /// One small configuration, enough to run every measurement once.
    pub fn ci() -> Self {
        Self {
            name: "ci",
            image_size: 16,
            batch_sizes: vec![1],
            compiles: vec![CompileMode::Eager],
            workers: vec![1],
            streams: vec![StreamLayout::Shared],
            requests_per_sample: 4,
            samples: 10,
        }
    }

    /// Every configuration of the grid, ResNet-18 with generated weights.
    pub fn configs(&self) -> Vec<RunConfig> {
        let mut out = Vec::new();
        for &batch in &self.batch_sizes {
            for &compile in &self.compiles {
                for &workers in &self.workers {
                    for &streams in &self.streams {
                        let mut cfg = RunConfig::default();
                        cfg.model.image_size = self.image_size;
                        cfg.model.compile = compile;
                        cfg.load.batch_size = batch;
                        cfg.load.num_iters = self.requests_per_sample as u32;
                        cfg.backend.workers = workers;
                        cfg.backend.streams = streams;
                        cfg.measure_bare_forward = false;
                        out.push(cfg);
                    }
                }
            }
        }
        out
    }
}

/// Criterion settings for pipeline benchmarks: the server is warmed up before
/// criterion sees it, so criterion's own warm-up only has to be non-zero.
pub fn criterion_config<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    c.warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .noise_threshold(0.05)
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
    /// Whether criterion should also print samples/s.
    fn with_throughput(&self) -> bool {
        false
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
    fn value(&self, window: &Window, iters: u64) -> f64 {
        window.collector.latency.quantile_ns(self.quantile).max(1) as f64 * iters as f64
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
}

/// Runs every configuration of `profile` as a criterion group measured by `c`'s measurement.
pub fn bench_grid<M: PipelineMeasurement>(
    c: &mut Criterion<M>,
    measurement: &M,
    profile: &Profile,
) {
    let configs = profile.configs();
    let total = configs.len();
    for (k, cfg) in configs.into_iter().enumerate() {
        let id = cfg.id();
        eprintln!(
            "[inferbench] {}/{total} {id} ({}, profile {})",
            k + 1,
            measurement.name(),
            profile.name
        );
        let mut server = match Server::start(&cfg, Arc::new(CpuDevice), &mut |_| {}) {
            Ok(server) => server,
            Err(e) => {
                eprintln!("[inferbench] skipping {id}: {e}");
                continue;
            }
        };
        let mut group = c.benchmark_group(&id);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(profile.samples);
        if measurement.with_throughput() {
            group.throughput(Throughput::Elements(cfg.load.batch_size as u64));
        }
        let requests = profile.requests_per_sample;
        group.bench_function(measurement.name(), |b| {
            b.iter_custom(|iters| {
                // A window too short for this measurement is measured again with twice the
                // requests (at most 64×), so every sample carries a real figure.
                let mut n = requests;
                loop {
                    let window = server
                        .measure(n, false)
                        .unwrap_or_else(|e| panic!("{id}: {e}"));
                    if measurement.measured(&window) || n >= requests * 64 {
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
}
