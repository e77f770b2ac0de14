//! What a run produced, as plain data: [`RunReport`] with the [`ModelInfo`] and
//! [`Environment`] it carries, the window's figures ([`WindowFigures`]), the JSON
//! Lines results file they are appended to ([`jsonl`]), and the one way this crate
//! replaces a file ([`file::write_atomically`]).
//!
//! This module sits at the bottom of the crate beside `config` and `metrics`: the
//! model layer fills in a [`ModelInfo`], the pipeline assembles a [`RunReport`], and
//! the report, sweep and measurement layers read it. None of them is imported here.

pub mod file;
pub mod jsonl;
pub mod target;

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::metrics::{
    DeviceStageSummary, LatencySummary, Limits, StageSummary, UtilizationSummary,
};

/// What a report says about the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Architecture name (`resnet18`, `tiny-cnn`, `spin:2000us`).
    pub arch: String,
    /// Where the weights came from: `checkpoint`, `generated` (random, in memory) or `no`.
    pub weights: String,
    /// Trainable parameters; `None` where they cannot be known (a server over the network).
    pub parameters: Option<u64>,
    /// Input image side, px.
    pub image_size: u32,
    /// Output classes (a model file: elements of one sample's response).
    pub num_classes: i64,
    /// A model file's inputs per sample, as `--input` writes them; empty for the
    /// built-in models (one image of `image_size`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// What the response is when the model's output is not a plain tensor, e.g.
    /// `the first tensor of a tuple of 2`; `None` for the built-in models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The origin of a model made with Python (an AOTInductor package, a quantized
    /// TorchScript file): the cache or this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_cache: Option<CompileCache>,
    /// `--compile cuda-graph`: the sizes captured and the padding the run's
    /// batches needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_graph: Option<GraphFacts>,
}

/// What `--compile cuda-graph` captured and how much of its work was padding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphFacts {
    /// Batch sizes captured, ascending: a batch runs in the smallest that holds it.
    pub sizes: Vec<u32>,
    /// One worker's capture of every size (warm-ups included), s; it is the
    /// run's `compile_time_s`.
    pub capture_s: Option<f64>,
    /// Samples the replays answered (every forward: warm-up and bare loop too).
    pub samples: u64,
    /// Rows the replays computed beyond the batches' samples.
    pub padded_samples: u64,
    /// padded / (samples + padded); `None` before any replay.
    pub padding_share: Option<f64>,
}

/// Where a model made with Python came from (`--compile aot-inductor`, `--quantize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompileCache {
    /// What was made: `AOTInductor package` or `dynamic-int8 TorchScript file`.
    pub made: String,
    /// The package was in the cache (compiled by an earlier run); `compile_time_s`
    /// is then only the lookup and load.
    pub hit: bool,
    /// How long the export and compile took when the package was made, s.
    pub compiled_in_s: f64,
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
    /// The OpenMP runtime's settings from the environment that change how the
    /// forward's threads wait between parallel regions, and so the latency at low
    /// load and the CPU it costs: `OMP_WAIT_POLICY`, `GOMP_SPINCOUNT`, as set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub openmp_wait: Vec<(String, String)>,
}

/// The environment variables [`Environment::openmp_wait`] records.
pub const OPENMP_WAIT_VARS: [&str; 2] = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"];

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
            cores: crate::config::cores(),
            cuda_available: tch::Cuda::is_available(),
            openmp_wait: OPENMP_WAIT_VARS
                .iter()
                .filter_map(|&name| Some((name.to_string(), std::env::var(name).ok()?)))
                .collect(),
        }
    }
}

/// The figures of one measured window, read off the collector.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFigures {
    /// End-to-end latency of the measured requests.
    pub latency_ms: LatencySummary,
    /// Mean time per stage.
    pub stages_ms: StageSummary,
    /// Samples / (last response − first measured request).
    pub throughput_samples_per_s: f64,
    /// Measured requests.
    pub requests: u64,
    /// Measured samples.
    pub samples: u64,
    /// First measured request to last response, seconds.
    pub window_s: f64,
}

/// What a started server knew about itself, apart from any window: a part of every
/// [`RunReport`], whose JSON has these fields at its top level (flattened), in this
/// order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// The model that ran.
    pub model: ModelInfo,
    /// The device it ran on.
    pub device: String,
    /// libtorch intra-op threads per worker; `None` for a server over the network.
    pub intra_op_threads: Option<u32>,
    /// Threads the server keeps busy computing: workers × the threads one forward
    /// uses (intra-op threads; one for the spin model; one per worker on a GPU).
    /// 0 where unknown: records older than the field, a server over the network.
    #[serde(default)]
    pub compute_threads: u32,
    /// More compute threads than the cores of the machine: the threads took turns
    /// on the cores, and the figures measure that contention as much as the model.
    /// Set by [`RunReport::new`] against the environment's cores.
    #[serde(default)]
    pub oversubscribed: bool,
    /// Time to load (or generate) the weights, seconds.
    pub load_time_s: Option<f64>,
    /// Time to prepare the forward (trace), seconds; `None` in eager mode.
    pub compile_time_s: Option<f64>,
    /// Latency of the cold-start request, sent alone before anything else, ms.
    pub warmup_latency_ms: f64,
}

/// How the load generator's client thread waited for responses while requests were
/// in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pickup {
    /// Polled the response queue: no wake-up in the latency, a core's worth of CPU
    /// while requests are in flight.
    Spin,
    /// Parked until a response came: each response's wake-up is in its latency.
    Park,
}

/// What the load generator itself did in an open-loop window on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadGenerator {
    /// How it waited for responses while requests were in flight.
    pub pickup: Pickup,
    /// Why that way (the cores it saw and the server's compute threads).
    pub why: String,
    /// The client thread's CPU time over the window, in cores (1.0 = one core all
    /// the time); part of the process CPU utilisation. `None` where the thread's
    /// CPU clock could not be read.
    pub client_cpu_cores: Option<f64>,
}

/// Everything one run measured. Times in milliseconds unless the name says otherwise;
/// `None` (JSON `null`) means "not measured here", never zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The configuration that ran.
    pub config: RunConfig,
    /// The model, device, threads and start-up times of the server that ran.
    #[serde(flatten)]
    pub server: ServerFacts,
    /// End-to-end latency of the measured requests.
    pub latency_ms: LatencySummary,
    /// Mean time per stage of the measured requests.
    pub stages_ms: StageSummary,
    /// Mean device time per batch of each stage, from timing events; `None` where the
    /// device has none (the CPU, whose stage times are the host stamps above).
    #[serde(default)]
    pub device_stages_ms: Option<DeviceStageSummary>,
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
    /// GPU runs: the compute and host-to-device copy limits, which one binds, and the
    /// efficiency against it; `None` on the CPU or without the bare forward.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Open loop on a schedule: how the load generator waited and what it cost; its
    /// sender lag and response pickup are `stages_ms.sender_lag_*` and `stages_ms.response`.
    /// `None` for a burst or a closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_generator: Option<LoadGenerator>,
    /// Where it ran.
    pub env: Environment,
    /// Why the measured window ended before its last response (a stall, the time
    /// limit, Ctrl-C); absent for a whole run. The figures then cover only the
    /// responses that came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// A server measured over the network: what the client knows of it. Its
    /// `stages_ms` are then the client's stages (queue, connection, round_trip,
    /// check, response), and the figures only a server knows are absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<target::TargetFacts>,
    /// A run measured until stable: its windows, whether it settled, and the
    /// interval of each figure; absent for a run of one fixed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<crate::metrics::stability::Stability>,
}

impl RunReport {
    /// Assembles the report; the efficiency follows from the two throughputs.
    pub fn new(
        config: RunConfig,
        server: ServerFacts,
        window: WindowFigures,
        utilization: UtilizationSummary,
        bare_forward_samples_per_s: Option<f64>,
        env: Environment,
    ) -> Self {
        let throughput = window.throughput_samples_per_s;
        let server = ServerFacts {
            oversubscribed: server.compute_threads as usize > env.cores,
            ..server
        };
        Self {
            config,
            server,
            latency_ms: window.latency_ms,
            stages_ms: window.stages_ms,
            device_stages_ms: None,
            throughput_samples_per_s: throughput,
            requests: window.requests,
            samples: window.samples,
            window_s: window.window_s,
            utilization,
            bare_forward_samples_per_s,
            pipeline_efficiency: bare_forward_samples_per_s.map(|bare| throughput / bare),
            limits: None,
            load_generator: None,
            env,
            incomplete: None,
            target: None,
            stability: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level keys of a JSON object, in their order.
    fn keys(line: &str) -> Vec<String> {
        struct Keys(Vec<String>);
        impl<'de> Deserialize<'de> for Keys {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visit;
                impl<'de> serde::de::Visitor<'de> for Visit {
                    type Value = Keys;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<Keys, A::Error> {
                        let mut keys = Vec::new();
                        while let Some((k, _)) =
                            map.next_entry::<String, serde::de::IgnoredAny>()?
                        {
                            keys.push(k);
                        }
                        Ok(Keys(keys))
                    }
                }
                d.deserialize_map(Visit)
            }
        }
        serde_json::from_str::<Keys>(line).unwrap().0
    }

    /// Lines `inferbench run` wrote before the server's facts became one struct
    /// (a whole run, one cut short with batching in the dedicated layout, and an
    /// open loop): each parses, and is written again with the same fields in the
    /// same order (the facts at the top level) and the same values.
    #[test]
    fn run_lines_read_and_write_as_they_were_written() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/runs/runs.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines() {
            let report: RunReport = serde_json::from_str(line).unwrap();
            let written = serde_json::to_string(&report).unwrap();
            assert_eq!(keys(&written), keys(line));
            // Values as parsed (serde_json's float parsing is not exact both ways).
            let before: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_value(&report).unwrap(), before);
            assert_eq!(report.server.device, "cpu");
        }
        // A record older than compute_threads and oversubscribed still reads.
        let first = text.lines().next().unwrap();
        let mut old: serde_json::Value = serde_json::from_str(first).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("compute_threads");
        fields.remove("oversubscribed");
        let report: RunReport = serde_json::from_value(old).unwrap();
        assert_eq!(
            (report.server.compute_threads, report.server.oversubscribed),
            (0, false)
        );
    }
}
