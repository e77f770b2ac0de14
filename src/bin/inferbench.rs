//! The inferbench command line: thin over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use inferbench::config::BatchPolicy;
use inferbench::config::{
    Arrival, BackendConfig, CompileMode, LoadConfig, ModelConfig, RunConfig, StreamLayout,
};
use inferbench::model::{checkpoint, Architecture};
use inferbench::pipeline::RunOptions;
use inferbench::report::summary;
use inferbench::results::jsonl::JsonlSink;

#[derive(Parser)]
#[command(
    name = "inferbench",
    version,
    about = "Measure a model-inference server pipeline on libtorch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Markdown report with SVG plots and a recommendation from sweep and curve results.
    Report(ReportArgs),
    /// Make one baseline from several saved runs: per benchmark the run with the median
    /// mean, plus a record of the run-to-run spread that widens `compare`'s noise band.
    MergeBaselines(MergeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum CompileArg {
    Eager,
    Torchscript,
}

#[derive(Clone, Copy, ValueEnum)]
enum StreamsArg {
    Shared,
    Dedicated,
}

/// What the server is: model, batch, compile, layout, batching. Shared by `run` and `curve`.
#[derive(Args)]
struct ServerArgs {
    /// Model: resnet18, tiny-cnn, or spin:<duration> (a forward that busy-waits, e.g. spin:2ms).
    #[arg(long, default_value = "resnet18")]
    model: String,
    /// Checkpoint folder from `init-model`; its model.json names the architecture (overrides --model).
    #[arg(long)]
    model_dir: Option<PathBuf>,
    /// Samples per request.
    #[arg(long, default_value_t = 1)]
    batch_size: u32,
    /// How the forward is prepared.
    #[arg(long, value_enum, default_value = "eager")]
    compile: CompileArg,
    /// Compute threads, each with its own model instance and stream.
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// shared: copies inline in each worker; dedicated: separate copy-in and copy-out stages.
    #[arg(long, value_enum, default_value = "shared")]
    streams: StreamsArg,
    /// Input image side in pixels (3 channels).
    #[arg(long, default_value_t = 64)]
    image_size: u32,
    /// libtorch intra-op threads per worker [default: cores / workers].
    #[arg(long)]
    intra_op_threads: Option<u32>,
    /// Warm-up requests after the cold-start one [default: 2 per worker].
    #[arg(long)]
    warmup: Option<u32>,
    /// Dynamic batching: most samples per forward (off unless given).
    #[arg(long)]
    max_batch_size: Option<u32>,
    /// Dynamic batching: longest wait of the oldest queued request, e.g. 5ms.
    #[arg(long, default_value = "10ms", requires = "max_batch_size")]
    batch_timeout: String,
    /// Seed for inputs and generated weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Poll an empty queue this long before parking, e.g. 10ms (each stage and the
    /// client): cuts the wake-up latency of every hop, costs a core while polling.
    #[arg(long, default_value = "0")]
    spin_wait: String,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Measured requests, after the warm-up.
    #[arg(long = "iters", visible_alias = "num-iters", default_value_t = 100)]
    iters: u32,
    /// burst (all requests back to back), concurrency:N (at most N in flight), or
    /// poisson:RATE (open loop, RATE requests/s; poisson:inf is burst).
    #[arg(long, default_value = "burst")]
    arrival: String,
    /// Skip the bare-forward baseline (no pipeline efficiency).
    #[arg(long)]
    no_bare: bool,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    json: bool,
    /// Results file (JSON lines, appended).
    #[arg(long, default_value = "results/runs.jsonl")]
    out: PathBuf,
    /// Also write one JSON line per measured request (latency, stages, overhead) here.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct SweepArgs {
    /// A built-in grid: quick (32 px, bs 1/4/16 × compile × 1-2 workers: minutes on 2
    /// cores) or seed (the seed runner's grid at 224 px: hours on a CPU).
    #[arg(long, default_value = "quick", conflicts_with = "config")]
    preset: String,
    /// A TOML sweep file instead of a preset (fields: see the README).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Runs per configuration [default: the sweep's, 3].
    #[arg(long)]
    repeats: Option<u32>,
    /// Measured requests per run [default: the sweep's, 100].
    #[arg(long)]
    iters: Option<u32>,
    /// Results file (JSON lines, appended) [default: results/sweeps/NAME-TIME.jsonl].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the expanded grid and the run count, run nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct CurveArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Measured requests at each rate.
    #[arg(long = "iters", default_value_t = 200)]
    iters: u32,
    /// Offered rates in requests/s, comma-separated, or auto (20 %-110 % of the burst
    /// capacity, measured first).
    #[arg(long, default_value = "auto")]
    rates: String,
    /// Also search for the highest rate whose --percentile stays within this many ms.
    #[arg(long)]
    latency_budget_ms: Option<f64>,
    /// The latency figure the budget holds: mean, p50, p90, p95, p99, p99.9.
    #[arg(long, default_value = "p99")]
    percentile: String,
    /// Name written into the records.
    #[arg(long, default_value = "curve")]
    name: String,
    /// Results file (JSON lines, appended) [default: results/curves/NAME-TIME.jsonl].
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// Results files of `sweep` and `curve` (repeat the flag for several).
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Folder for report.md and its SVG plots.
    #[arg(long, default_value = "reports/latest")]
    out_dir: PathBuf,
    /// latency (best throughput within --latency-budget-ms), throughput, or balanced
    /// (best throughput per ms of --latency-pct).
    #[arg(long, default_value = "balanced")]
    constraint: String,
    /// The latency figure for the budget and for balanced: mean, p50, p90, p95, p99, p99.9.
    #[arg(long, default_value = "p95")]
    latency_pct: String,
    /// Latency budget in ms (needed by --constraint latency).
    #[arg(long)]
    latency_budget_ms: Option<f64>,
}

#[derive(Args)]
struct InitArgs {
    /// Architecture: resnet18 or tiny-cnn.
    #[arg(long)]
    model: String,
    /// Folder to write model.safetensors and model.json into.
    #[arg(long)]
    out: PathBuf,
    /// Seed for the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
struct CompareArgs {
    /// Criterion's output folder (CRITERION_HOME if set).
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// The saved baseline to compare against (criterion's --baseline NAME).
    #[arg(long, default_value = "committed")]
    baseline: String,
    /// Smallest noise band in percent: a change counts only if its whole 95% interval is beyond it.
    #[arg(long, default_value_t = 5.0)]
    threshold: f64,
    /// When the baseline records its run-to-run spread (scripts/baseline.sh save), the
    /// band widens to this many standard deviations of the difference of two runs.
    #[arg(long, default_value_t = 3.0)]
    sigmas: f64,
    /// Do not fail when a baseline benchmark is absent from the new run (filtered runs).
    #[arg(long)]
    allow_missing: bool,
    /// Write github-action-benchmark files smaller_is_better.json and bigger_is_better.json here.
    #[arg(long)]
    json_dir: Option<PathBuf>,
}

#[derive(Args)]
struct MergeArgs {
    /// Criterion's output folder (CRITERION_HOME if set).
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// The saved runs, comma-separated (criterion's --save-baseline names).
    #[arg(long, value_delimiter = ',', required = true)]
    runs: Vec<String>,
    /// The baseline to write.
    #[arg(long, default_value = "committed")]
    into: String,
}

fn parse_spin_wait(text: &str) -> anyhow::Result<u64> {
    if text == "0" {
        return Ok(0);
    }
    let spin = inferbench::config::parse_duration(text)
        .with_context(|| format!("--spin-wait '{text}': expected 0 or a duration such as 10ms"))?;
    Ok(spin.as_micros() as u64)
}

fn batch_policy(args: &ServerArgs) -> anyhow::Result<BatchPolicy> {
    let Some(max) = args.max_batch_size else {
        return Ok(BatchPolicy::None);
    };
    if max == 0 {
        bail!("--max-batch-size 0: expected at least 1");
    }
    let timeout = inferbench::config::parse_duration(&args.batch_timeout).with_context(|| {
        format!(
            "--batch-timeout '{}': expected a duration such as 5ms or 500us",
            args.batch_timeout
        )
    })?;
    Ok(BatchPolicy::Dynamic {
        max_batch_samples: max,
        timeout_us: timeout.as_micros() as u64,
    })
}

/// The configuration the server flags describe, with the load's size and arrival.
fn server_config(
    args: &ServerArgs,
    iters: u32,
    arrival: Arrival,
    bare: bool,
) -> anyhow::Result<RunConfig> {
    Ok(RunConfig {
        model: ModelConfig {
            name: args.model.clone(),
            dir: args.model_dir.clone(),
            image_size: args.image_size,
            compile: match args.compile {
                CompileArg::Eager => CompileMode::Eager,
                CompileArg::Torchscript => CompileMode::Torchscript,
            },
        },
        load: LoadConfig {
            batch_size: args.batch_size,
            num_iters: iters,
            extra_warmup: args.warmup,
            arrival,
            seed: args.seed,
        },
        backend: BackendConfig {
            workers: args.workers,
            streams: match args.streams {
                StreamsArg::Shared => StreamLayout::Shared,
                StreamsArg::Dedicated => StreamLayout::Dedicated,
            },
            intra_op_threads: args.intra_op_threads,
            spin_wait_us: parse_spin_wait(&args.spin_wait)?,
            batching: batch_policy(args)?,
        },
        measure_bare_forward: bare,
    })
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let arrival = Arrival::parse(&args.arrival).context("--arrival")?;
    let cfg = server_config(&args.server, args.iters, arrival, !args.no_bare)?;
    cfg.validate()?;
    // Open the results file first: an unwritable folder fails now, not after the run.
    let mut sink = JsonlSink::open(&args.out)?;
    if let Some(path) = &args.trace {
        inferbench::report::trace::check_writable(path)?;
    }
    let quiet = args.quiet;
    let progress = move |phase: &str| {
        if !quiet {
            eprintln!("[inferbench] {phase}");
        }
    };
    let options = RunOptions {
        progress: Box::new(progress),
        keep_trace: args.trace.is_some(),
        ..RunOptions::default()
    };
    let outcome = inferbench::pipeline::run_with(&cfg, options)?;
    let report = outcome.report;
    if let Some(path) = &args.trace {
        inferbench::report::trace::write(path, &outcome.trace)?;
    }
    sink.append(&report)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", summary::render(&report));
        progress(&format!("appended to {}", sink.path().display()));
    }
    Ok(())
}

fn init_model(args: InitArgs) -> anyhow::Result<()> {
    let arch = Architecture::parse(&args.model)?;
    let path = checkpoint::write_random(arch, args.seed, &args.out)?;
    println!(
        "wrote {} ({}, seed {})",
        path.display(),
        arch.name(),
        args.seed
    );
    Ok(())
}

/// Exit 0 when nothing regressed, 1 when something did (or went missing), 2 when the
/// comparison could not be made.
fn compare(args: CompareArgs) -> ExitCode {
    match compare_results(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("inferbench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn compare_results(args: &CompareArgs) -> anyhow::Result<bool> {
    use inferbench::compare::{self, render, CompareOptions};
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        bail!(
            "--threshold {}: expected a percentage ≥ 0, e.g. 5",
            args.threshold
        );
    }
    if !(args.sigmas.is_finite() && args.sigmas >= 0.0) {
        bail!("--sigmas {}: expected a number ≥ 0, e.g. 3", args.sigmas);
    }
    let options = CompareOptions {
        threshold: args.threshold / 100.0,
        sigmas: args.sigmas,
        fail_on_missing: !args.allow_missing,
    };
    let criterion_dir = criterion_home(&args.criterion_dir);
    let comparisons = compare::criterion_dir::load(&criterion_dir, &args.baseline, &options)?;
    print!("{}", render::table(&comparisons, options.threshold));
    if let Some(dir) = &args.json_dir {
        let (smaller, bigger) = render::github_action_benchmark(&comparisons);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create --json-dir {}", dir.display()))?;
        for (name, entries) in [
            ("smaller_is_better.json", smaller),
            ("bigger_is_better.json", bigger),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, serde_json::to_string_pretty(&entries)? + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let passed = compare::passed(&comparisons, &options);
    if !passed {
        eprintln!(
            "inferbench: compare: failed against baseline '{}' (threshold ±{}%)",
            args.baseline, args.threshold
        );
    }
    Ok(passed)
}

/// `results/<folder>/<name>-<UTC time>.jsonl`, so that sweeps never mix by accident.
fn default_results_path(folder: &str, name: &str) -> PathBuf {
    let stamp = inferbench::sweep::environment::utc_now().replace(':', "-");
    PathBuf::from("results")
        .join(folder)
        .join(format!("{name}-{stamp}.jsonl"))
}

fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    use inferbench::sweep::spec::SweepSpec;
    let mut spec = match &args.config {
        Some(path) => SweepSpec::from_toml_file(path)?,
        None => SweepSpec::preset(&args.preset)?,
    };
    if let Some(r) = args.repeats {
        spec.repeats = r;
    }
    if let Some(i) = args.iters {
        spec.iters = i;
    }
    let configs = spec.expand()?;
    if args.dry_run {
        for cfg in &configs {
            println!("{}", cfg.id());
        }
        println!(
            "{} configurations × {} repeats = {} runs",
            configs.len(),
            spec.repeats,
            configs.len() * spec.repeats as usize
        );
        return Ok(());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_results_path("sweeps", &spec.name));
    let mut sink = JsonlSink::open(&out)?;
    let outcome = inferbench::sweep::runner::run_sweep(&spec, &mut sink, args.quiet)?;
    eprintln!(
        "[sweep] {} configurations ran, {} failed; results in {}",
        outcome.ok,
        outcome.failed,
        sink.path().display()
    );
    eprintln!(
        "[sweep] next: inferbench report --input {}",
        sink.path().display()
    );
    Ok(())
}

fn parse_rates(text: &str) -> anyhow::Result<Option<Vec<f64>>> {
    if text == "auto" {
        return Ok(None);
    }
    let rates = text
        .split(',')
        .map(|r| {
            let rate: f64 = r
                .trim()
                .parse()
                .with_context(|| format!("--rates: '{r}' is not a number"))?;
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rates: {rate} is not a positive rate in requests/s");
            }
            Ok(rate)
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    Ok(Some(rates))
}

fn curve(args: CurveArgs) -> anyhow::Result<()> {
    use inferbench::sweep::{curve, record::Percentile, runner};
    let cfg = server_config(&args.server, args.iters, Arrival::Burst, false)?;
    cfg.validate()?;
    let percentile = Percentile::parse(&args.percentile).with_context(|| {
        format!(
            "--percentile '{}': expected mean, p50, p90, p95, p99 or p99.9",
            args.percentile
        )
    })?;
    if let Some(b) = args.latency_budget_ms {
        if !(b.is_finite() && b > 0.0) {
            bail!("--latency-budget-ms {b}: expected a positive number of milliseconds");
        }
    }
    let explicit = parse_rates(&args.rates)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_results_path("curves", &args.name));
    let mut sink = JsonlSink::open(&out)?;
    let rates = match explicit {
        Some(r) => r,
        None => {
            if !args.quiet {
                eprintln!("[curve] measuring the burst capacity of {}", cfg.id());
            }
            let capacity = runner::capacity_rps(&cfg)?;
            if !args.quiet {
                eprintln!("[curve] capacity {capacity:.1} requests/s; rates at 20-110 % of it");
            }
            curve::auto_rates(capacity)
        }
    };
    let budget = args.latency_budget_ms.map(|b| (percentile, b));
    let (points, found) =
        runner::run_curve(&args.name, &cfg, &rates, budget, &mut sink, args.quiet)?;
    println!("offered req/s  achieved req/s  p50 ms  p99 ms");
    for p in &points {
        println!(
            "{:>13.1}  {:>14.1}  {:>6.2}  {:>6.2}",
            p.offered_rps, p.achieved_rps, p.latency_ms.p50, p.latency_ms.p99
        );
    }
    if let Some(m) = found {
        match m.max_rps {
            Some(rate) => println!(
                "highest rate with {} <= {} ms: {rate:.1} requests/s ({} runs)",
                percentile.name(),
                m.budget_ms,
                m.probes
            ),
            None => println!(
                "no probed rate kept {} <= {} ms ({} runs)",
                percentile.name(),
                m.budget_ms,
                m.probes
            ),
        }
    }
    eprintln!("[curve] results in {}", sink.path().display());
    Ok(())
}

fn report(args: ReportArgs) -> anyhow::Result<()> {
    use inferbench::report::sweep::{recommend, write_report, SweepData};
    let goal = recommend::Goal {
        constraint: recommend::Constraint::parse(&args.constraint)?,
        percentile: inferbench::sweep::record::Percentile::parse(&args.latency_pct).with_context(
            || {
                format!(
                    "--latency-pct '{}': expected mean, p50, p90, p95, p99 or p99.9",
                    args.latency_pct
                )
            },
        )?,
        budget_ms: args.latency_budget_ms,
    };
    goal.validate()?;
    let data = SweepData::load(&args.input)?;
    let files = write_report(&data, &goal, &args.out_dir)?;
    let recommendation = recommend::recommend(&data.configs, &goal)?;
    println!("{}", recommendation.text);
    println!(
        "report: {} ({} plots)",
        files.markdown.display(),
        files.plots.len()
    );
    Ok(())
}

/// `CRITERION_HOME` when set and the flag was left at its default.
fn criterion_home(flag: &std::path::Path) -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(home) if flag == std::path::Path::new("target/criterion") => PathBuf::from(home),
        _ => flag.to_path_buf(),
    }
}

fn merge_baselines(args: MergeArgs) -> anyhow::Result<()> {
    let root = criterion_home(&args.criterion_dir);
    let merged = inferbench::compare::merge::merge_runs(&root, &args.runs, &args.into)?;
    eprintln!(
        "[inferbench] baseline '{}': {merged} benchmarks, each the median of {}",
        args.into,
        args.runs.join(", ")
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::InitModel(args) => init_model(args),
        Command::Compare(args) => return compare(args),
        Command::MergeBaselines(args) => merge_baselines(args),
        Command::Sweep(args) => sweep(args),
        Command::Curve(args) => curve(args),
        Command::Report(args) => report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("inferbench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
