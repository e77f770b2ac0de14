//! What a sweep writes: one JSON line per record, each tagged by `kind` and carrying
//! the environment it was measured in, so that a line read alone still says where
//! its figures come from.
//!
//! - `probe`: the machine's peak, measured by a GEMM ([`ProbeRecord`]);
//! - `config`: one configuration over its repeats, mean ± std ([`ConfigRecord`]);
//! - `rate`: one point of a latency–throughput curve ([`RatePoint`]);
//! - `max_rate`: the highest rate that kept a percentile under a budget ([`MaxRateRecord`]);
//! - `shard`: a shard's header: its part of the grid and the grid's hash ([`ShardRecord`]);
//! - `tune`: the path a tune's search took and why it stopped ([`TuneRecord`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::part::Shard;
use super::spec::SweepSpec;
use crate::config::RunConfig;
use crate::metrics::stability::Stability;
use crate::metrics::LatencySummary;
pub use crate::percentile::Percentile;

/// Mean and spread of one figure over a configuration's repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (numpy's default, as the seed's process_metrics).
    pub std: f64,
    /// Each repeat's value, in order.
    pub values: Vec<f64>,
}

impl Stat {
    /// Mean and std of `values`; `None` when there are none.
    pub fn of(values: Vec<f64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Some(Self {
            mean,
            std: var.sqrt(),
            values,
        })
    }

    /// Mean and std of the figures that are present; `None` unless every repeat has one
    /// (a figure measured in some repeats only would mix populations).
    pub fn of_all(values: Vec<Option<f64>>) -> Option<Self> {
        values
            .into_iter()
            .collect::<Option<Vec<f64>>>()
            .and_then(Self::of)
    }
}

/// Latency figures over repeats, ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Mean latency.
    pub mean: Stat,
    /// 50th percentile.
    pub p50: Stat,
    /// 90th percentile.
    pub p90: Stat,
    /// 95th percentile.
    pub p95: Stat,
    /// 99th percentile.
    pub p99: Stat,
    /// 99.9th percentile.
    pub p999: Stat,
}

impl LatencyStats {
    /// The statistic of one percentile.
    pub fn get(&self, p: Percentile) -> &Stat {
        match p {
            Percentile::Mean => &self.mean,
            Percentile::P50 => &self.p50,
            Percentile::P90 => &self.p90,
            Percentile::P95 => &self.p95,
            Percentile::P99 => &self.p99,
            Percentile::P999 => &self.p999,
        }
    }
}

/// A configuration's figures over its successful repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigFigures {
    /// Samples per second.
    pub throughput_samples_per_s: Stat,
    /// End-to-end latency, ms.
    pub latency_ms: LatencyStats,
    /// Mean time per stage, ms, by stage name (queue, batch, copy_in, compute,
    /// copy_out, response).
    pub stages_ms: BTreeMap<String, Stat>,
    /// Cold-start latency, ms.
    pub warmup_latency_ms: Stat,
    /// Process CPU utilisation, %; absent where it could not be measured.
    pub cpu_util_pct: Option<Stat>,
    /// GPU utilisation, %; absent without an NVIDIA GPU.
    pub gpu_util_pct: Option<Stat>,
    /// Pipeline throughput over bare-forward throughput; absent unless measured.
    pub pipeline_efficiency: Option<Stat>,
    /// Peak GPU memory used, MiB; absent without NVML.
    #[serde(default)]
    pub gpu_memory_used_mib: Option<Stat>,
    /// Mean SM clock, MHz; absent without NVML.
    #[serde(default)]
    pub gpu_sm_clock_mhz: Option<Stat>,
    /// Mean power draw, W; absent without NVML.
    #[serde(default)]
    pub gpu_power_w: Option<Stat>,
    /// Throughput over the lower of the compute and copy limits (GPU runs with the
    /// bare forward); absent elsewhere.
    #[serde(default)]
    pub limit_efficiency: Option<Stat>,
    /// Time this sweep's runs took to compile the model (trace, freeze; AOTInductor:
    /// export and compile, or only a cache lookup and load), s; absent when nothing
    /// was compiled.
    #[serde(default)]
    pub compile_time_s: Option<Stat>,
    /// AOTInductor: the export and compile time of the package, s, whether this
    /// sweep compiled it or an earlier run did; absent for the other modes.
    #[serde(default)]
    pub package_compiled_in_s: Option<Stat>,
}

/// Whether a configuration ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every repeat ran.
    Ok,
    /// At least one repeat failed; figures cover the repeats that ran, if any.
    Failed,
}

/// Where a sweep ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SweepEnvironment {
    /// This tool's version.
    pub inferbench_version: String,
    /// The tch crate's version.
    pub tch_version: Option<String>,
    /// The libtorch it was built against.
    pub libtorch_version: Option<String>,
    /// CPU model.
    pub cpu_model: Option<String>,
    /// Cores available to the process.
    pub cores: usize,
    /// GPU name, where libtorch or NVML sees one.
    pub gpu: Option<String>,
    /// The NVIDIA driver's version, where NVML reads one (absent in older files).
    #[serde(default)]
    pub driver_version: Option<String>,
    /// The source's git commit (with `-dirty` for uncommitted changes), where known.
    pub git_commit: Option<String>,
    /// When the sweep started, UTC, RFC 3339.
    pub started_utc: Option<String>,
}

/// The machine's measured peak (a square f32 GEMM), for the theoretical maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// Sweep name.
    pub sweep: String,
    /// Side of the square matrices.
    pub gemm_size: u32,
    /// Intra-op threads the probe used.
    pub threads: u32,
    /// Best of the repetitions, GFLOP/s (2·n³ flops a GEMM).
    pub peak_gflops: f64,
    /// Repetitions timed.
    pub reps: u32,
    /// Device the GEMM ran on.
    pub device: String,
    /// Where.
    pub env: SweepEnvironment,
}

/// One configuration over its repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigRecord {
    /// Sweep name.
    pub sweep: String,
    /// Position in the sweep, from 0.
    pub index: usize,
    /// The configuration as a benchmark id: `resnet18-32px/bs4/eager/w2/shared`
    /// (with `/dyn8@5ms` when dynamic batching is on).
    pub id: String,
    /// The configuration.
    pub config: RunConfig,
    /// libtorch intra-op threads per worker.
    pub intra_op_threads: u32,
    /// A repeat ran more compute threads than the machine has cores (see
    /// [`RunReport::oversubscribed`](crate::results::RunReport::oversubscribed)).
    #[serde(default)]
    pub oversubscribed: bool,
    /// Repeats asked for.
    pub repeats: u32,
    /// Repeats that ran.
    pub repeats_ok: u32,
    /// Whether every repeat ran.
    pub status: Status,
    /// The first failure, when one happened.
    pub error: Option<String>,
    /// Figures over the repeats that ran; absent when none did.
    pub figures: Option<ConfigFigures>,
    /// The model's forward cost, GFLOP per sample; absent for models without one (spin).
    pub model_gflop_per_sample: Option<f64>,
    /// Measured until stable: whether every repeat settled (`false`: the figures do
    /// not stand, and the report never ranks them); absent for fixed windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<bool>,
    /// Measured until stable: each repeat's windows, verdict and intervals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stability: Vec<Stability>,
    /// Where.
    pub env: SweepEnvironment,
}

/// One point of a latency–throughput curve: an open-loop Poisson run at a rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    /// Sweep name.
    pub sweep: String,
    /// The configuration's id.
    pub id: String,
    /// The configuration (its arrival is the offered rate).
    pub config: RunConfig,
    /// Requests per second offered.
    pub offered_rps: f64,
    /// Requests per second served (requests / window).
    pub achieved_rps: f64,
    /// Samples per second served.
    pub throughput_samples_per_s: f64,
    /// Latency from intended send times, ms.
    pub latency_ms: LatencySummary,
    /// Longest time the sender fell behind its schedule, ms.
    pub sender_lag_max_ms: f64,
    /// Measured until stable: its windows, verdict and intervals (an unsettled
    /// point counts as over any budget); absent for a fixed window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<Stability>,
    /// Where.
    pub env: SweepEnvironment,
}

/// The highest offered rate whose chosen percentile stayed within a budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxRateRecord {
    /// Sweep name.
    pub sweep: String,
    /// The configuration's id.
    pub id: String,
    /// The percentile held to the budget.
    pub percentile: Percentile,
    /// The budget, ms.
    pub budget_ms: f64,
    /// The highest rate that met it, requests/s; absent if even the lowest probed did not.
    pub max_rps: Option<f64>,
    /// The percentile at that rate, ms.
    pub latency_at_max_ms: Option<f64>,
    /// The lowest probed rate that broke the budget, requests/s, if one did.
    pub first_failing_rps: Option<f64>,
    /// Runs the search took.
    pub probes: u32,
    /// Under `tune`: the rate (requests/s) this configuration had to exceed within the
    /// budget to beat the search's current point. The search started there rather
    /// than low, and did not run at all when the burst capacity (× 1.1, the search's
    /// ceiling) was below it; `max_rps` is then absent because the point cannot win,
    /// not because no rate met the budget. Absent for a whole search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bar_rps: Option<f64>,
    /// Where.
    pub env: SweepEnvironment,
}

/// The first line of a shard's results file: which part of which sweep it holds, so
/// that `inferbench report` can check that the shards of a sweep fit back together
/// (and name a missing one's configurations from the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Sweep name.
    pub sweep: String,
    /// [`crate::sweep::shard::spec_hash`] of the expanded grid.
    pub spec_hash: String,
    /// This shard and the shard count.
    pub shard: Shard,
    /// Positions in the expanded grid of the configurations this shard runs.
    pub configs: Vec<usize>,
    /// Configurations in the whole grid.
    pub grid_size: usize,
    /// The spec as run (after `--repeats` and `--iters`).
    pub spec: SweepSpec,
    /// Where.
    pub env: SweepEnvironment,
}

/// What `inferbench tune` did: the goal, the path its search took through the
/// grid, why it stopped, and the configuration it found. Each measured point is
/// also in the file as a `config` record (or `rate` and `max_rate` records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneRecord {
    /// Sweep name.
    pub sweep: String,
    /// The goal, as words: `maximum throughput`, `maximum rate with p99 ≤ 50 ms`.
    pub goal: String,
    /// `hill` (the search) or `grid` (every point, for comparison).
    pub strategy: String,
    /// The seed that picked the start and the order of the neighbours.
    pub seed: u64,
    /// Configurations in the grid.
    pub grid_size: usize,
    /// Each measured configuration in order: id, score (samples/s; absent: failed,
    /// not settled or over budget) and whether the search moved there.
    pub path: Vec<(String, Option<f64>, bool)>,
    /// The best configuration's id and score; absent when nothing scored.
    pub best: Option<(String, f64)>,
    /// Why it stopped: `local-optimum`, `budget`, `exhausted`.
    pub stop: super::tune::Stop,
    /// The explanation, one paragraph.
    pub text: String,
    /// Wall time of the whole search, s; absent for a search in rounds, whose
    /// shards ran as separate jobs (their own records time each point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    /// Rounds of a search in rounds (`tune --round-dir`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Under a latency budget, the start's screen: the seed's start and its
    /// neighbours with their burst capacity in samples/s (absent: the burst
    /// failed); the search started at the highest. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screen: Vec<(String, Option<f64>)>,
    /// Where.
    pub env: SweepEnvironment,
}

/// One line of a sweep's results file. (A sweep has tens of records, so the size
/// difference between variants costs nothing worth a Box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// The peak probe.
    Probe(ProbeRecord),
    /// A configuration.
    Config(ConfigRecord),
    /// A point of the latency–throughput curve.
    Rate(RatePoint),
    /// The result of the rate search.
    MaxRate(MaxRateRecord),
    /// A shard's header.
    Shard(ShardRecord),
    /// What a tune's search did.
    Tune(TuneRecord),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_uses_the_population_std() {
        let s = Stat::of(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.std, 2.0);
        assert_eq!(Stat::of(vec![]), None);
    }

    #[test]
    fn a_figure_missing_in_one_repeat_is_absent_not_averaged() {
        assert_eq!(Stat::of_all(vec![Some(1.0), None, Some(3.0)]), None);
        assert_eq!(Stat::of_all(vec![Some(1.0), Some(3.0)]).unwrap().mean, 2.0);
    }
}
