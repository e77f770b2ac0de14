//! Saved runs into one baseline: per benchmark, the run with the median mean is
//! copied into the baseline and the spread of all runs' means written beside it
//! ([`super::noise::RunSpread`]), so that `compare` can widen its noise band.

use std::path::Path;

use super::criterion_dir::{
    find_benchmark_dirs, read_mean_if_present, BASELINE_FILES, SPREAD_FILE,
};
use super::noise::{median_index, relative_std, RunSpread};
use crate::error::{Error, Result};

/// Makes baseline `into` from several saved runs: for every benchmark folder under
/// `root` that has all of `runs`, copies the run with the median mean into `into`
/// and writes its [`RunSpread`]. Returns how many benchmarks were merged.
///
/// Every input is read and checked before anything is written, so a corrupt run
/// leaves the old baseline as it was; `into` may not be one of `runs` (copying a
/// run over itself would lose the others' record).
pub fn merge_runs(root: &Path, runs: &[String], into: &str) -> Result<usize> {
    check_names(runs, into)?;
    if !root.is_dir() {
        return Err(Error::Baseline(format!(
            "no criterion results at {}: save runs with `cargo bench -- --save-baseline NAME` first",
            root.display()
        )));
    }
    let mut dirs = Vec::new();
    find_benchmark_dirs(root, &runs[0], 0, &mut dirs)?;
    let mut plan = Vec::new();
    for dir in dirs {
        if let Some(spread) = spread_of(&dir, runs)? {
            check_run_files(&dir.join(&spread.chosen))?;
            plan.push((dir, spread));
        }
    }
    if plan.is_empty() {
        return Err(Error::Baseline(format!(
            "no benchmark under {} has all of the runs {}",
            root.display(),
            runs.join(", ")
        )));
    }
    for (dir, spread) in &plan {
        copy_run(&dir.join(&spread.chosen), &dir.join(into))?;
        let path = dir.join(into).join(SPREAD_FILE);
        let text = serde_json::to_string_pretty(spread).expect("spreads serialise; this is a bug");
        crate::results::file::write_atomically(&path, (text + "\n").as_bytes())?;
    }
    Ok(plan.len())
}

/// At least two distinct runs, none of them the target.
fn check_names(runs: &[String], into: &str) -> Result<()> {
    if runs.len() < 2 {
        return Err(Error::Baseline(format!(
            "merging needs at least 2 runs, got {}: save more with --save-baseline",
            runs.len()
        )));
    }
    if runs.iter().any(|r| r == into) {
        return Err(Error::Baseline(format!(
            "--into '{into}' is one of the runs being merged; write the merged baseline under another name"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(twice) = runs.iter().find(|r| !seen.insert(r.as_str())) {
        return Err(Error::Baseline(format!(
            "run '{twice}' is listed twice; each run counts once in the spread"
        )));
    }
    Ok(())
}

/// The chosen run's files parse as criterion output (its estimates were read already).
fn check_run_files(run_dir: &Path) -> Result<()> {
    for file in BASELINE_FILES {
        let path = run_dir.join(file);
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io("cannot read criterion file", &path, e))?;
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
            Error::Baseline(format!(
                "{} is not criterion output ({e}); nothing was written. Save that run again",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// The spread of one benchmark folder over `runs`; `None` if a run is absent there.
fn spread_of(dir: &Path, runs: &[String]) -> Result<Option<RunSpread>> {
    let mut means = Vec::with_capacity(runs.len());
    for run in runs {
        match read_mean_if_present(&dir.join(run))? {
            Some(mean) => means.push(mean.point),
            None => return Ok(None),
        }
    }
    let chosen = median_index(&means).expect("at least two runs; this is a bug");
    Ok(Some(RunSpread {
        runs: runs.to_vec(),
        chosen: runs[chosen].clone(),
        relative_std: relative_std(&means).unwrap_or(0.0),
        means,
    }))
}

fn copy_run(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io("cannot create baseline folder", to, e))?;
    // A run folder always has its estimates; copy whichever of the other files it has.
    for file in BASELINE_FILES {
        let source = from.join(file);
        if source.is_file() || file == "estimates.json" {
            std::fs::copy(&source, to.join(file))
                .map_err(|e| Error::io("cannot copy criterion file", &source, e))?;
        }
    }
    Ok(())
}
