//! The inferbench command line: parses flags ([`args`]), calls the library, prints.

mod ab_judge_args;
mod args;
mod calibrate;
mod limit_args;
mod llm;
mod llm_ab;
mod llm_window_args;
mod model_args;
mod report_cmd;
mod serve;
mod server_args;
mod server_config;
mod stable_args;
mod stable_run;
mod target_args;
mod tune;
mod tune_rounds;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use inferbench::compare::{self, render, CompareOptions};
use inferbench::config::Arrival;
use inferbench::model::{checkpoint, Architecture};
use inferbench::pipeline::{interrupt, RunOptions};
use inferbench::report::{curve as curve_table, summary, trace};
use inferbench::results::jsonl::JsonlSink;
use inferbench::sweep::curve::{check_budget_ms, Rates};
use inferbench::sweep::environment::default_results_path;
use inferbench::sweep::record::Percentile;
use inferbench::sweep::shard::{self, Shard};
use inferbench::sweep::{curve_run, runner, spec::SweepSpec};

use args::{
    AbArgs, Cli, Command, CompareArgs, CurveArgs, InitArgs, MergeArgs, RunArgs, ServeWindowsArgs,
    SweepArgs,
};

fn run(args: RunArgs) -> anyhow::Result<()> {
    let arrival = Arrival::parse(&args.load.arrival).context("--arrival")?;
    let mut cfg = args
        .server
        .to_config(args.load.iters, arrival, !args.load.no_bare)?;
    args.target.apply(&mut cfg, &args.server)?;
    cfg.validate()?;
    let limits = args.limits.limits()?;
    limits.check(&cfg)?;
    if let Some(until) = args.stable.until(None)? {
        return stable_run::run_until_stable(&args, &cfg, &until, limits);
    }
    // A device that cannot be opened fails before anything is written.
    let device = match cfg.target {
        Some(_) => None,
        None => Some(inferbench::device::open(cfg.backend.device)?),
    };
    // Check the results file next: an unwritable folder fails now, not after the run.
    let mut sink = JsonlSink::open(&args.out)?;
    if let Some(path) = &args.trace {
        trace::check_target(path, &args.out, args.force)?;
    }
    let progress = progress_lines("[inferbench] ", args.quiet);
    let options = RunOptions {
        device,
        progress: Box::new(progress),
        keep_trace: args.trace.is_some(),
        limits,
    };
    interrupt::install().context("cannot install the Ctrl-C handler")?;
    let outcome = inferbench::target::run(&cfg, options)?;
    if let Some(cut) = outcome.cut {
        // What was measured, in the form asked for (its `incomplete` says why).
        if args.json {
            println!("{}", serde_json::to_string_pretty(&outcome.report)?);
        } else {
            print!("{}", summary::render(&outcome.report));
        }
        if args.keep_partial {
            sink.append(&outcome.report)?;
            progress(&format!(
                "appended, marked incomplete, to {}",
                sink.path().display()
            ));
        }
        return Err(anyhow::Error::new(cut.into_error()).context("the run did not finish"));
    }
    if let Some(path) = &args.trace {
        let scheme = match cfg.target {
            Some(_) => inferbench::request::StageScheme::Remote,
            None => inferbench::request::StageScheme::Pipeline,
        };
        trace::write(path, &outcome.trace, scheme)?;
    }
    sink.append(&outcome.report)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome.report)?);
    } else {
        print!("{}", summary::render(&outcome.report));
        progress(&format!("appended to {}", sink.path().display()));
    }
    Ok(())
}

fn init_model(args: InitArgs) -> anyhow::Result<()> {
    let arch = Architecture::parse(&args.model)?;
    let path = checkpoint::write_random(arch, args.seed, &args.out, args.force)?;
    println!(
        "wrote {} ({}, seed {})",
        path.display(),
        arch.name(),
        args.seed
    );
    Ok(())
}

/// A gate's exit status (`compare`, `ab`): 0 when nothing regressed, 1 when something
/// did (or went missing), 2 when the comparison could not be made.
fn gate(result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("inferbench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn compare_results(args: &CompareArgs) -> anyhow::Result<bool> {
    let options = CompareOptions::from_flags(args.threshold, args.sigmas, args.allow_missing)?;
    let root = compare::criterion_dir::home(&args.criterion_dir);
    let comparisons = compare::criterion_dir::load(&root, &args.baseline, &options)?;
    print!("{}", render::table(&comparisons, options.threshold));
    if let Some(dir) = &args.json_dir {
        render::write_github_action_benchmark(dir, &comparisons)?;
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

fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    let mut spec = match &args.config {
        Some(path) => SweepSpec::from_toml_file(path)?,
        None => SweepSpec::preset(&args.preset)?,
    };
    spec.repeats = args.repeats.unwrap_or(spec.repeats);
    spec.iters = args.iters.unwrap_or(spec.iters);
    spec.until_stable = args.stable.until(spec.until_stable.take())?;
    if let Some(target) = args.target.config()? {
        spec.aim_at(target, None);
    }
    let job_index = std::env::var(shard::JOB_INDEX_VAR).ok();
    let part = Shard::resolve(args.shard.as_deref(), args.shards, job_index.as_deref())?;
    let (configs, chosen) = shard::plan(&spec, part)?;
    // Every model loads and every run fits the limits, or the sweep stops before
    // its first measurement.
    inferbench::model::check_grid(&configs)?;
    let limits = args.limits.limits()?;
    configs.iter().try_for_each(|c| limits.check(c))?;
    if args.dry_run {
        print!("{}", shard::render_plan(&spec, &configs, &chosen, part));
        return Ok(());
    }
    // A device that cannot be opened fails before anything is written.
    inferbench::device::check_available(&configs)?;
    let out = shard::sweep_output(args.out, &spec.name, part, || {
        default_results_path("sweeps", &spec.name)
    })?;
    let mut sink = JsonlSink::open(&out)?;
    interrupt::install().context("cannot install the Ctrl-C handler")?;
    let outcome = runner::run_sweep(&spec, part, &mut sink, args.quiet, limits)?;
    let path = sink.path().display();
    if outcome.interrupted {
        let finished = outcome.ok + outcome.failed;
        eprintln!("[sweep] interrupted (Ctrl-C) after {finished} configurations; every finished one is in {path}");
        return Err(inferbench::Error::Interrupted.into());
    }
    let (ok, failed) = (outcome.ok, outcome.failed);
    let allowed = if failed > 0 && ok > 0 && args.allow_failures {
        " (allowed by --allow-failures)"
    } else {
        ""
    };
    eprintln!("[sweep] {ok} configurations ran, {failed} failed{allowed}; results in {path}");
    if outcome.oversubscribed > 0 {
        eprintln!(
            "[sweep] warning: {} configuration(s) ran more compute threads than the {} cores (oversubscribed; marked in their records): their figures measure contention",
            outcome.oversubscribed,
            inferbench::config::cores()
        );
    }
    if ok == 0 && failed > 0 {
        anyhow::bail!("sweep: no configuration ran; each failure is recorded in {path}");
    }
    if failed > 0 && !args.allow_failures {
        anyhow::bail!(
            "sweep: {failed} of {} configurations failed (recorded as failed in {path}); --allow-failures accepts a partial sweep",
            ok + failed
        );
    }
    let input = shard::report_input(sink.path(), part);
    eprintln!(
        "[sweep] next: inferbench report --input {}",
        input.display()
    );
    Ok(())
}

fn curve(args: CurveArgs) -> anyhow::Result<()> {
    let mut cfg = args.server.to_config(args.iters, Arrival::Burst, false)?;
    args.target.apply(&mut cfg, &args.server)?;
    cfg.validate()?;
    let percentile = Percentile::parse_for("--percentile", &args.percentile)?;
    let budget = args.latency_budget_ms.map(check_budget_ms).transpose()?;
    let rates = Rates::parse(&args.rates)?;
    let until = args.stable.until(None)?;
    let limits = args.limits.limits()?;
    limits.check(&cfg)?;
    let out = args
        .out
        .unwrap_or_else(|| default_results_path("curves", &args.name));
    inferbench::device::check_available(std::slice::from_ref(&cfg))?;
    let mut sink = JsonlSink::open(&out)?;
    interrupt::install().context("cannot install the Ctrl-C handler")?;
    let run = curve_run::CurveRun {
        sweep: &args.name,
        cfg: &cfg,
        until: until.as_ref(),
        limits,
        quiet: args.quiet,
    };
    let rates = curve_run::resolve_rates(&run, &rates)?;
    let budget = budget.map(|b| (percentile, b));
    let (points, found) = curve_run::run_curve(&run, &rates, budget, &mut sink)?;
    print!(
        "{}",
        curve_table::render(&points, found.as_ref(), percentile)
    );
    eprintln!("[curve] results in {}", sink.path().display());
    Ok(())
}

fn merge_baselines(args: MergeArgs) -> anyhow::Result<()> {
    let root = compare::criterion_dir::home(&args.criterion_dir);
    let merged = compare::merge::merge_runs(&root, &args.runs, &args.into)?;
    eprintln!(
        "[inferbench] baseline '{}': {merged} benchmarks, each the median of {}",
        args.into,
        args.runs.join(", ")
    );
    Ok(())
}

fn ab_results(args: AbArgs) -> anyhow::Result<bool> {
    use inferbench::ab::{child, program, Figure};
    let options = args.judge.options(&Figure::ALL)?;
    let base = program::Program::new(args.base, &args.base_args)?;
    let head = program::Program::new(args.head, &args.head_args)?;
    let mut progress = progress_lines("", args.quiet);
    let mode = child::RunMode::new(args.process_per_run, args.block_rounds)?;
    args.limits.limits()?;
    let runs = program::with_flags(&args.runs, &args.limits.given())?;
    let report = child::compare_programs(base, head, &runs, mode, &options, &mut progress)?;
    args.judge.report(&report, "ab")
}

fn serve_windows(args: ServeWindowsArgs) -> anyhow::Result<()> {
    let arrival = Arrival::parse(&args.load.arrival).context("--arrival")?;
    let mut cfg = args.server.to_config(args.load.iters, arrival, false)?;
    args.target.apply(&mut cfg, &args.server)?;
    let limits = args.limits.limits()?;
    let mut progress = progress_lines("[serve-windows] ", args.quiet);
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    inferbench::ab::serve::serve_windows(
        &cfg,
        limits,
        &mut stdin.lock(),
        &mut stdout.lock(),
        &mut progress,
    )?;
    Ok(())
}

/// Progress on stderr, each line after `prefix`; nothing when `quiet`.
pub(crate) fn progress_lines(prefix: &'static str, quiet: bool) -> impl Fn(&str) + Copy {
    move |line: &str| {
        if !quiet {
            eprintln!("{prefix}{line}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Hidden switch for tests/docs.rs, which checks every command in the docs:
    // INFERBENCH_PARSE_ONLY=1 stops once clap has accepted the flags (its errors still exit 2).
    if std::env::var_os("INFERBENCH_PARSE_ONLY").is_some_and(|v| v == "1") {
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::InitModel(args) => init_model(args),
        Command::Compare(args) => return gate(compare_results(&args)),
        Command::Ab(args) => return gate(ab_results(args)),
        Command::MergeBaselines(args) => merge_baselines(args),
        Command::Sweep(args) => sweep(args),
        Command::Curve(args) => curve(args),
        Command::Tune(args) => tune::run(args),
        Command::Report(args) => report_cmd::report(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::ServeWindows(args) => serve_windows(args),
        Command::Serve(args) => serve::run(args),
        Command::Llm(args) => llm::run(args),
        Command::LlmAb(args) => return gate(llm_ab::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(&e, cli.verbose),
    }
}

/// Prints the error (libtorch's C++ frames only when verbose); exit 130 for Ctrl-C.
fn failure(e: &anyhow::Error, verbose: bool) -> ExitCode {
    let text = format!("{e:#}");
    let text = if verbose {
        text
    } else {
        inferbench::error::without_cpp_frames(&text)
    };
    eprintln!("inferbench: error: {text}");
    let interrupted = e
        .chain()
        .any(|c| matches!(c.downcast_ref(), Some(inferbench::Error::Interrupted)));
    if interrupted {
        ExitCode::from(interrupt::EXIT_INTERRUPTED)
    } else {
        ExitCode::FAILURE
    }
}
