//! `run --until-stable`: the library's windowed run, its summary, and its exit status.

use anyhow::Context;
use inferbench::pipeline::interrupt;
use inferbench::results::jsonl::JsonlSink;

/// `run --until-stable`: windows until the figures stand; appended either way, and
/// exit 1 when they did not settle.
pub fn run_until_stable(
    args: &crate::args::RunArgs,
    cfg: &inferbench::RunConfig,
    until: &inferbench::sweep::stable::UntilStable,
    limits: inferbench::config::limits::RunLimits,
) -> anyhow::Result<()> {
    let mut sink = JsonlSink::open(&args.out)?;
    let progress = crate::progress_lines("[inferbench] ", args.quiet);
    if !args.load.no_bare {
        progress("until stable: no bare forward is timed (pipeline efficiency absent)");
    }
    interrupt::install().context("cannot install the Ctrl-C handler")?;
    let mut tell = progress;
    let report = inferbench::sweep::stable_run::run_until_stable(cfg, until, limits, &mut tell)?;
    sink.append(&report)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", inferbench::report::summary::render(&report));
        progress(&format!("appended to {}", sink.path().display()));
    }
    match &report.stability {
        Some(s) if !s.settled => anyhow::bail!(
            "the run did not settle in {:.1} s ({}); recorded with \"settled\": false in {}",
            s.elapsed_s,
            s.reason.as_deref().unwrap_or("time up"),
            sink.path().display()
        ),
        _ => Ok(()),
    }
}
