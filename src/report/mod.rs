//! The run report: one serde struct that every printed and written figure comes
//! from ([`RunReport`]), its seed-style text summary ([`summary`]), and the JSON
//! Lines results file ([`jsonl`]).

pub mod jsonl;
pub mod summary;
pub mod sweep;
pub mod trace;

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
#[cfg(feature = "torch")]
use crate::error::{Error, Result};
#[cfg(feature = "torch")]
use crate::metrics::ms;
use crate::metrics::{LatencySummary, StageSummary, UtilizationSummary};
#[cfg(feature = "torch")]
use crate::pipeline::collector::Collector;

/// What a report says about the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Architecture name (`resnet18`, `tiny-cnn`, `spin:2000us`).
    pub arch: String,
    /// Where the weights came from: `checkpoint`, `generated` (random, in memory) or `no`.
    pub weights: String,
    /// Trainable parameters.
    pub parameters: u64,
    /// Input image side, px.
    pub image_size: u32,
    /// Output classes.
    pub num_classes: i64,
}

/// Where and with what a run was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// This tool's version.
    pub inferbench_version: String,
    /// The CPU model, from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// Cores available to the process.
    pub cores: usize,
    /// Whether libtorch sees a CUDA device.
    pub cuda_available: bool,
}

#[cfg(feature = "torch")]
impl Environment {
    /// Reads the environment of this process.
    pub fn detect() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            });
        Self {
            inferbench_version: env!("CARGO_PKG_VERSION").into(),
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cuda_available: tch::Cuda::is_available(),
        }
    }
}

/// Everything one run measured. Times in milliseconds unless the name says otherwise;
/// `None` (JSON `null`) means "not measured here", never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The configuration that ran.
    pub config: RunConfig,
    /// The model that ran.
    pub model: ModelInfo,
    /// The device it ran on.
    pub device: String,
    /// libtorch intra-op threads per worker.
    pub intra_op_threads: u32,
    /// Time to load (or generate) the weights, seconds.
    pub load_time_s: Option<f64>,
    /// Time to trace the model, seconds; `None` in eager mode.
    pub compile_time_s: Option<f64>,
    /// Latency of the cold-start request, sent alone before anything else.
    pub warmup_latency_ms: f64,
    /// End-to-end latency of the measured requests.
    pub latency_ms: LatencySummary,
    /// Mean time per stage of the measured requests.
    pub stages_ms: StageSummary,
    /// Samples / (last response − first measured request).
    pub throughput_samples_per_s: f64,
    /// Measured requests.
    pub requests: u64,
    /// Measured samples.
    pub samples: u64,
    /// First measured request to last response, seconds.
    pub window_s: f64,
    /// Process CPU and GPU utilisation over the measured window.
    pub utilization: UtilizationSummary,
    /// Throughput of the bare forward loop on the same model, inputs and threads.
    pub bare_forward_samples_per_s: Option<f64>,
    /// Pipeline throughput / bare-forward throughput.
    pub pipeline_efficiency: Option<f64>,
    /// Where it ran.
    pub env: Environment,
}

#[cfg(feature = "torch")]
impl RunReport {
    /// Assembles the report from what a run measured.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        cfg: &RunConfig,
        model: ModelInfo,
        load_time: Option<std::time::Duration>,
        compile_time: Option<std::time::Duration>,
        device: String,
        intra_op_threads: u32,
        warmup_ns: u64,
        collector: &Collector,
        utilization: UtilizationSummary,
        bare_forward_samples_per_s: Option<f64>,
        env: Environment,
    ) -> Result<Self> {
        let missing = || Error::Pipeline("no measured responses; nothing to report".into());
        let latency_ms = collector.latency.summary().ok_or_else(missing)?;
        let stages_ms = collector.stages.summary().ok_or_else(missing)?;
        let throughput = collector.throughput().ok_or_else(missing)?;
        let window_ns = collector.window_ns().ok_or_else(missing)?;
        Ok(Self {
            config: cfg.clone(),
            model,
            device,
            intra_op_threads,
            load_time_s: load_time.map(|d| d.as_secs_f64()),
            compile_time_s: compile_time.map(|d| d.as_secs_f64()),
            warmup_latency_ms: ms(warmup_ns as f64),
            latency_ms,
            stages_ms,
            throughput_samples_per_s: throughput,
            requests: collector.latency.count(),
            samples: collector.samples(),
            window_s: window_ns as f64 * 1e-9,
            utilization,
            bare_forward_samples_per_s,
            pipeline_efficiency: bare_forward_samples_per_s.map(|bare| throughput / bare),
            env,
        })
    }
}
