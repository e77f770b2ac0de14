//! `inferbench report`: a sweep's (curve's, tune's) results as report.md with plots and
//! a recommendation, or the results of `inferbench llm` as theirs.

use inferbench::report::sweep::{recommend, shards, write_report};
use inferbench::sweep::record::Percentile;

use crate::args::ReportArgs;

pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    use inferbench::report::llm_file;
    let files = shards::input_files(&args.input)?;
    let llm: Vec<bool> = files
        .iter()
        .map(|f| llm_file::holds_llm_runs(f))
        .collect::<Result<_, _>>()?;
    if llm.iter().any(|&l| l) {
        anyhow::ensure!(
            llm.iter().all(|&l| l),
            "report: the input mixes `inferbench llm` results with sweep results; report on them apart"
        );
        let sweep_only = [
            ("--constraint", args.constraint.is_some()),
            ("--latency-pct", args.latency_pct.is_some()),
            ("--latency-budget-ms", args.latency_budget_ms.is_some()),
            ("--mixed-hardware", args.mixed_hardware),
        ];
        if let Some((flag, _)) = sweep_only.iter().find(|(_, given)| *given) {
            anyhow::bail!("report: {flag} is for sweep results; an LLM report's bounds are --goodput-ttft-ms and --goodput-tpot-ms");
        }
        return llm_report(&files, &args);
    }
    anyhow::ensure!(
        args.goodput_ttft_ms.is_none(),
        "report: --goodput-ttft-ms and --goodput-tpot-ms are for `inferbench llm` results; a sweep's bound is --latency-budget-ms"
    );
    let goal = recommend::Goal {
        constraint: recommend::Constraint::parse(args.constraint.as_deref().unwrap_or("balanced"))?,
        percentile: Percentile::parse_for(
            "--latency-pct",
            args.latency_pct.as_deref().unwrap_or("p95"),
        )?,
        budget_ms: args.latency_budget_ms,
    };
    goal.validate()?;
    let data = shards::load(&args.input, args.mixed_hardware)?;
    let files = write_report(&data, &goal, &args.out_dir)?;
    println!("{}", files.recommendation.text);
    println!(
        "report: {} ({} plots)",
        files.markdown.display(),
        files.plots.len()
    );
    // A report of failures only is written (it lists them) but is no success.
    let measured = data.configs.iter().any(|c| c.figures.is_some()) || !data.rates.is_empty();
    if !measured {
        anyhow::bail!(
            "report: nothing in the input was measured ({} configuration(s), every one failed); the report lists their errors",
            data.configs.len()
        );
    }
    Ok(())
}

fn llm_report(files: &[std::path::PathBuf], args: &ReportArgs) -> anyhow::Result<()> {
    use inferbench::report::llm_file;
    for (flag, v) in [
        ("--goodput-ttft-ms", args.goodput_ttft_ms),
        ("--goodput-tpot-ms", args.goodput_tpot_ms),
    ] {
        if let Some(v) = v {
            anyhow::ensure!(
                v.is_finite() && v > 0.0,
                "{flag} {v}: expected milliseconds above 0"
            );
        }
    }
    let runs = llm_file::load(files)?;
    let bounds = args.goodput_ttft_ms.zip(args.goodput_tpot_ms);
    let written = llm_file::write_report(&runs, bounds, &args.out_dir)?;
    for line in &written.recommendations {
        println!("{line}");
    }
    println!(
        "report: {} ({} windows, {} plot)",
        written.markdown.display(),
        runs.len(),
        usize::from(written.plot.is_some())
    );
    Ok(())
}
