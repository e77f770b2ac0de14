//! The command line's flags (clap definitions); their translation into the
//! library's configuration types is in `server_config`; the flags `run`, `curve` and
//! `serve-windows` share are in `server_args`. No logic beyond that lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::limit_args::LimitArgs;
use crate::server_args::ServerArgs;

#[derive(Parser)]
#[command(
    name = "inferbench",
    version,
    about = "Measure a model-inference server pipeline on libtorch"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show errors whole, with libtorch's C++ frames.
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the pipeline once and print the seed-style summary; appends a JSON line to the results file.
    Run(RunArgs),
    /// Write a checkpoint with random weights from a fixed seed (safetensors + model.json).
    InitModel(InitArgs),
    /// Compare criterion's last run with a saved baseline: a table with verdicts, exit 1
    /// on a regression beyond the threshold (or a missing benchmark).
    Compare(CompareArgs),
    /// Run a grid of configurations (a preset or a TOML file), each repeated, and write
    /// mean ± std per configuration as JSON lines, with the environment.
    Sweep(SweepArgs),
    /// Latency against throughput: open-loop Poisson runs at a list of rates, and
    /// optionally the highest rate that keeps a percentile within a budget.
    Curve(CurveArgs),
    /// Search a sweep's grid for the best configuration (the highest throughput, or
    /// the highest rate within a latency budget) by hill climbing instead of running
    /// all of it; every measured point goes to a results file that `report` reads.
    Tune(crate::tune::TuneArgs),
    /// Markdown report with SVG plots and a recommendation from sweep and curve results.
    Report(ReportArgs),
    /// Make one baseline from several saved runs: per benchmark the run with the median
    /// mean, plus a record of the run-to-run spread that widens `compare`'s noise band.
    MergeBaselines(MergeArgs),
    /// Paired A/B: run the same configurations with a base and a head binary
    /// alternately (A B B A …) and judge the ratio head/base per figure; exit 1 on
    /// a regression beyond the threshold, 2 when the comparison could not be made.
    Ab(AbArgs),
    /// The child side of `ab`'s windowed runs: starts the server once with `run`'s
    /// flags, then measures one window per line "window" read on stdin and prints
    /// each window's report as one JSON line (as `run --json`, without the bare
    /// forward); stops at the end of stdin.
    ServeWindows(ServeWindowsArgs),
    /// Serve the pipeline over the network: the Open Inference Protocol (KServe v2)
    /// over HTTP/1.1, HTTP/2 and gRPC, Prometheus metrics at /metrics, until SIGINT or
    /// SIGTERM (requests in flight are answered first).
    Serve(crate::serve::ServeArgs),
    /// The bare forward at 1, 2, … N intra-op threads on this thread, nothing else
    /// running: how the model scales with threads here (compare PyTorch eager with
    /// scripts/gpu/pytorch_reference.py --device cpu --threads 1,2).
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Measure an OpenAI-compatible LLM server by its streams (--target
    /// openai://HOST:PORT): time to first token, inter-token latency, time per output
    /// token, end to end, token throughput and goodput; one window, or a curve over
    /// --rates with the highest rate within p99 TTFT and TPOT bounds.
    Llm(crate::llm::LlmArgs),
    /// Paired A/B of two OpenAI-compatible LLM servers (--base, --head): `llm` windows
    /// of both, the same requests on each, in the order A B B A …, judged per figure
    /// on the ratio head/base; exit 1 on a regression beyond the threshold, 2 when the
    /// comparison could not be made (a server unreachable, a window losing requests).
    LlmAb(crate::llm_ab::LlmAbArgs),
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub target: crate::target_args::TargetArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub stable: crate::stable_args::StableArgs,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Results file (JSON lines, appended).
    #[arg(long, default_value = "results/runs.jsonl")]
    pub out: PathBuf,
    /// Also write one JSON line per measured request (latency, stages, overhead) here,
    /// replacing the file (never the --out file; a file that is not such a trace only
    /// with --force). Not with --until-stable.
    #[arg(long, conflicts_with = "until_stable")]
    pub trace: Option<PathBuf>,
    /// Let --trace replace an existing file that is not a trace written by inferbench.
    #[arg(long, requires = "trace")]
    pub force: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Append a run cut short (Ctrl-C, a stall, the time limit) to the results file,
    /// marked incomplete; without it only the summary is printed. Not with
    /// --until-stable (a run that does not settle is always appended, marked).
    #[arg(long, conflicts_with = "until_stable")]
    pub keep_partial: bool,
}

/// The load of one measured window, shared by `run` and `serve-windows` (which
/// takes `run`'s flags).
#[derive(Args)]
pub struct LoadArgs {
    /// Measured requests (serve-windows and --until-stable: per window), after the warm-up.
    #[arg(long = "iters", visible_alias = "num-iters", default_value_t = 100)]
    pub iters: u32,
    /// burst (all requests back to back), concurrency:N (at most N in flight), or
    /// poisson:RATE (open loop, RATE requests/s; poisson:inf is burst).
    #[arg(long, default_value = "burst")]
    pub arrival: String,
    /// Skip the bare-forward baseline (no pipeline efficiency); serve-windows accepts
    /// it for `run`'s sake and never times the bare forward.
    #[arg(long)]
    pub no_bare: bool,
}

#[derive(Args)]
pub struct ServeWindowsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub target: crate::target_args::TargetArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub target: crate::target_args::TargetArgs,
    /// A built-in grid: quick (32 px, bs 1/4/16 × compile × 1-2 workers: minutes on 2
    /// cores) or seed (the seed runner's grid at 224 px: hours on a CPU).
    #[arg(long, default_value = "quick", conflicts_with = "config")]
    pub preset: String,
    /// A TOML sweep file instead of a preset (fields: see docs/sweeps.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Runs per configuration [default: the sweep's, 3].
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Measured requests per run (until stable: per window) [default: the sweep's;
    /// quick 200, seed 100].
    #[arg(long)]
    pub iters: Option<u32>,
    #[command(flatten)]
    pub stable: crate::stable_args::StableArgs,
    /// Results file (JSON lines, appended) [default: results/sweeps/NAME-TIME.jsonl].
    /// With a shard: a folder (NAME-shard-I-of-N.jsonl inside, rewritten by a rerun)
    /// unless it ends in .jsonl [default: results/sweeps].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only shard I of N (from 0), e.g. 2/4: a deterministic, cost-balanced part
    /// of the grid, written with a header that `report` uses to merge the shards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run shard $JOB_COMPLETION_INDEX of N (set by a Kubernetes Indexed Job).
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<u32>,
    /// Print the expanded grid (or the shard's part) and the run count, run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit 0 when some configurations failed (recorded as failed) and at least one
    /// ran; without it any failed configuration makes the sweep exit 1.
    #[arg(long)]
    pub allow_failures: bool,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args)]
pub struct CurveArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub target: crate::target_args::TargetArgs,
    /// Measured requests at each rate (until stable: per window).
    #[arg(long = "iters", default_value_t = 200)]
    pub iters: u32,
    #[command(flatten)]
    pub stable: crate::stable_args::StableArgs,
    /// Offered rates in requests/s, comma-separated, or auto (20 %-110 % of the burst
    /// capacity, measured first).
    #[arg(long, default_value = "auto")]
    pub rates: String,
    /// Also search for the highest rate whose --percentile stays within this many ms.
    #[arg(long)]
    pub latency_budget_ms: Option<f64>,
    /// The latency figure the budget holds: mean, p50, p90, p95, p99, p99.9.
    #[arg(long, default_value = "p99")]
    pub percentile: String,
    /// Name written into the records.
    #[arg(long, default_value = "curve")]
    pub name: String,
    /// Results file (JSON lines, appended) [default: results/curves/NAME-TIME.jsonl].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Results files of `sweep`, `curve` and `tune`, or folders of them (repeat the
    /// flag for several); the shards of a sharded sweep are checked and merged. Or the
    /// results of `inferbench llm` (given apart): a table per server and prompt set,
    /// the curve over rates and its recommendation.
    #[arg(long, required = true)]
    pub input: Vec<PathBuf>,
    /// Rank configurations measured on different GPU (or CPU) models together.
    #[arg(long)]
    pub mixed_hardware: bool,
    /// Folder for report.md and its SVG plots.
    #[arg(long, default_value = "reports/latest")]
    pub out_dir: PathBuf,
    /// latency (best throughput within --latency-budget-ms), throughput, or balanced
    /// (best throughput per ms of --latency-pct) [default: balanced].
    #[arg(long)]
    pub constraint: Option<String>,
    /// The latency figure for the budget and for balanced: mean, p50, p90, p95, p99,
    /// p99.9 [default: p95].
    #[arg(long)]
    pub latency_pct: Option<String>,
    /// Latency budget in ms (needed by --constraint latency).
    #[arg(long)]
    pub latency_budget_ms: Option<f64>,
    /// LLM results: the p99 TTFT bound of the recommendation, ms (with
    /// --goodput-tpot-ms; default: the runs' own goodput bounds).
    #[arg(long, requires = "goodput_tpot_ms")]
    pub goodput_ttft_ms: Option<f64>,
    /// LLM results: the p99 TPOT bound of the recommendation, ms.
    #[arg(long, requires = "goodput_ttft_ms")]
    pub goodput_tpot_ms: Option<f64>,
}

#[derive(Args)]
pub struct InitArgs {
    /// Architecture: resnet18, mobilenet_v3_small, tiny-transformer or tiny-cnn.
    #[arg(long)]
    pub model: String,
    /// Folder to write model.safetensors and model.json into.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed for the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Replace a checkpoint of another architecture or seed already in --out.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct CompareArgs {
    /// Criterion's output folder (CRITERION_HOME if set).
    #[arg(long, default_value = "target/criterion")]
    pub criterion_dir: PathBuf,
    /// The saved baseline to compare against (criterion's --baseline NAME).
    #[arg(long, default_value = "committed")]
    pub baseline: String,
    /// Smallest noise band in percent: a change counts only if its whole 95% interval is beyond it.
    #[arg(long, default_value_t = 5.0)]
    pub threshold: f64,
    /// When the baseline records its run-to-run spread (scripts/baseline.sh save), the
    /// band widens to this many standard deviations of the difference of two runs.
    #[arg(long, default_value_t = 3.0)]
    pub sigmas: f64,
    /// Do not fail when a baseline benchmark is absent from the new run (filtered runs).
    #[arg(long)]
    pub allow_missing: bool,
    /// Write github-action-benchmark files smaller_is_better.json and bigger_is_better.json here.
    #[arg(long)]
    pub json_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct AbArgs {
    /// The base (A) inferbench binary [default: this one].
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// The head (B) inferbench binary [default: this one].
    #[arg(long)]
    pub head: Option<PathBuf>,
    /// Flags added to every run of the base only, e.g. "--model spin:20ms" (they
    /// must not repeat a flag of --run).
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub base_args: String,
    /// Flags added to every run of the head only.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub head_args: String,
    /// A configuration as `run` flags, e.g. "--model resnet18 --image-size 64 --iters 10"
    /// (repeat for several) [default: "--model resnet18 --image-size 32 --iters 40"];
    /// ab's own --max-duration and --stall-timeout are added to every one.
    #[arg(long = "run", allow_hyphen_values = true)]
    pub runs: Vec<String>,
    #[command(flatten)]
    pub judge: crate::ab_judge_args::JudgeArgs,
    /// A B B A rounds per block: each block starts both sides' servers, measures
    /// this many rounds of windows and stops them [default: 8; 1 with --process-per-run].
    #[arg(long)]
    pub block_rounds: Option<u32>,
    /// Each run a fresh `run --json` process instead of two servers taking turns
    /// (slower and noisier; for a base binary without `serve-windows`).
    #[arg(long)]
    pub process_per_run: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Args)]
pub struct MergeArgs {
    /// Criterion's output folder (CRITERION_HOME if set).
    #[arg(long, default_value = "target/criterion")]
    pub criterion_dir: PathBuf,
    /// The saved runs, comma-separated (criterion's --save-baseline names).
    #[arg(long, value_delimiter = ',', required = true)]
    pub runs: Vec<String>,
    /// The baseline to write.
    #[arg(long, default_value = "committed")]
    pub into: String,
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (ids, conflicts and
    /// requirements naming flags that exist after flattening, no flag twice).
    #[test]
    fn the_flags_are_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
