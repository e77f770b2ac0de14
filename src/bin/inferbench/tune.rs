//! `inferbench tune`: search a sweep's grid for the best configuration instead
//! of running all of it (the library's `sweep::tune_run`), and print the path.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use inferbench::config::limits::parse_limit;
use inferbench::pipeline::interrupt;
use inferbench::results::jsonl::JsonlSink;
use inferbench::sweep::curve::check_budget_ms;
use inferbench::sweep::environment::default_results_path;
use inferbench::sweep::record::Percentile;
use inferbench::sweep::spec::SweepSpec;
use inferbench::sweep::tune_run::{run_tune, Goal, TuneOptions};

#[derive(Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub target: crate::target_args::TargetArgs,
    /// A built-in grid to search: quick or seed.
    #[arg(long, default_value = "quick", conflicts_with = "config")]
    pub preset: String,
    /// A TOML sweep file whose axes are the search space (fields: see docs/sweeps.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// throughput (the highest samples/s) or latency (the highest rate whose
    /// --percentile stays within --latency-budget-ms, searched inside each point).
    #[arg(long, default_value = "throughput")]
    pub goal: String,
    /// The latency budget of --goal latency, ms.
    #[arg(long)]
    pub latency_budget_ms: Option<f64>,
    /// The latency figure the budget holds: mean, p50, p90, p95, p99, p99.9.
    #[arg(long, default_value = "p99")]
    pub percentile: String,
    /// hill (coordinate hill climbing) or grid (every point, in order: the
    /// comparison a search is judged against).
    #[arg(long, default_value = "hill")]
    pub strategy: String,
    /// Picks the start point (0: every axis's first value) and the order the
    /// neighbours are tried in; the same seed takes the same path on the same figures.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Measure at most this many configurations.
    #[arg(long)]
    pub max_runs: Option<usize>,
    /// Start no configuration after this long, e.g. 10m.
    #[arg(long)]
    pub max_time: Option<String>,
    /// A neighbour must beat the current point by more than this % to move there.
    #[arg(long, default_value_t = 2.0)]
    pub min_gain_pct: f64,
    /// Runs per configuration [default: 1; the sweep file's repeats do not apply].
    #[arg(long, default_value_t = 1)]
    pub repeats: u32,
    /// Measured requests per run (until stable: per window) [default: the sweep's].
    #[arg(long)]
    pub iters: Option<u32>,
    #[command(flatten)]
    pub stable: crate::stable_args::StableArgs,
    /// Results file (JSON lines, appended) [default: results/tunes/NAME-TIME.jsonl].
    #[arg(long, conflicts_with = "round_dir")]
    pub out: Option<PathBuf>,
    /// Search in rounds kept in this folder, each round's candidates measured by
    /// shards (--shard I/N, or --shards N in a Kubernetes Indexed Job); without a
    /// shard: say what is pending, or write the finished search to DIR/tune.jsonl.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["max_time", "strategy"])]
    pub round_dir: Option<PathBuf>,
    /// With --round-dir: measure shard I of N (from 0) of the pending round, e.g. 1/4.
    #[arg(long, requires = "round_dir")]
    pub shard: Option<String>,
    /// With --round-dir: measure shard $JOB_COMPLETION_INDEX of N of the pending round.
    #[arg(
        long,
        value_name = "N",
        requires = "round_dir",
        conflicts_with = "shard"
    )]
    pub shards: Option<u32>,
    /// With a shard: measure its part of every round until the search is over,
    /// waiting between rounds for the other shards (one Indexed Job for the search).
    #[arg(long, requires = "round_dir")]
    pub follow: bool,
    /// With --follow: the longest a shard waits for the others to finish a round
    /// [default: 60m].
    #[arg(long, requires = "follow")]
    pub round_wait: Option<String>,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: crate::limit_args::LimitArgs,
}

fn goal(args: &TuneArgs) -> anyhow::Result<Goal> {
    let percentile = Percentile::parse_for("--percentile", &args.percentile)?;
    match (args.goal.as_str(), args.latency_budget_ms) {
        ("throughput", None) => Ok(Goal::Throughput),
        ("throughput", Some(_)) => anyhow::bail!(
            "--latency-budget-ms is for --goal latency; drop it, or add --goal latency"
        ),
        ("latency", Some(b)) => Ok(Goal::MaxRate(percentile, check_budget_ms(b)?)),
        ("latency", None) => {
            anyhow::bail!("--goal latency needs a budget, e.g. --latency-budget-ms 50")
        }
        (other, _) => anyhow::bail!("--goal '{other}': expected throughput or latency"),
    }
}

pub fn run(args: TuneArgs) -> anyhow::Result<()> {
    let mut spec = match &args.config {
        Some(path) => SweepSpec::from_toml_file(path)?,
        None => SweepSpec::preset(&args.preset)?,
    };
    anyhow::ensure!(args.repeats > 0, "--repeats 0: expected at least 1");
    spec.repeats = args.repeats;
    spec.iters = args.iters.unwrap_or(spec.iters);
    spec.until_stable = args.stable.until(spec.until_stable.take())?;
    if let Some(target) = args.target.config()? {
        spec.aim_at(target, None);
    }
    let grid = match args.strategy.as_str() {
        "hill" => false,
        "grid" => true,
        other => anyhow::bail!("--strategy '{other}': expected hill or grid"),
    };
    let max_time = match &args.max_time {
        Some(t) => Some(parse_limit(t).with_context(|| {
            format!("--max-time '{t}': expected a duration such as 90s or 10m")
        })?),
        None => None,
    };
    anyhow::ensure!(
        args.max_runs != Some(0),
        "--max-runs 0 would measure nothing; give at least 1"
    );
    anyhow::ensure!(
        args.min_gain_pct.is_finite() && args.min_gain_pct >= 0.0,
        "--min-gain-pct {}: expected a percentage of 0 or more",
        args.min_gain_pct
    );
    let configs = spec.expand()?;
    inferbench::model::check_grid(&configs)?;
    let limits = args.limits.limits()?;
    configs.iter().try_for_each(|c| limits.check(c))?;
    inferbench::device::check_available(&configs)?;
    let opts = TuneOptions {
        goal: goal(&args)?,
        grid,
        seed: args.seed,
        max_runs: args.max_runs,
        max_time,
        min_gain: args.min_gain_pct / 100.0,
        limits,
        quiet: args.quiet,
    };
    if let Some(dir) = &args.round_dir {
        interrupt::install().context("cannot install the Ctrl-C handler")?;
        let follow = match (args.follow, &args.round_wait) {
            (false, _) => None,
            (true, None) => Some(std::time::Duration::from_secs(3600)),
            (true, Some(t)) => Some(parse_limit(t).with_context(|| {
                format!("--round-wait '{t}': expected a duration such as 90s or 30m")
            })?),
        };
        let shard = (args.shard.as_deref(), args.shards);
        return crate::tune_rounds::run(&spec, &opts, dir, shard, follow);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_results_path("tunes", &spec.name));
    let mut sink = JsonlSink::open(&out)?;
    interrupt::install().context("cannot install the Ctrl-C handler")?;
    let record = run_tune(&spec, &opts, &mut sink)?;
    println!("{}", record.text);
    let path = sink.path().display();
    eprintln!("[tune] every measured point is in {path}; next: inferbench report --input {path}");
    anyhow::ensure!(
        record.best.is_some(),
        "tune: no configuration scored (each failed, did not settle or met no budget); see {path}"
    );
    Ok(())
}
