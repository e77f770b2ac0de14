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
pub fn merge_runs(root: &Path, runs: &[String], into: &str) -> Result<usize> {
    if runs.len() < 2 {
        return Err(Error::Baseline(format!(
            "merging needs at least 2 runs, got {}: save more with --save-baseline",
            runs.len()
        )));
    }
    let mut dirs = Vec::new();
    find_benchmark_dirs(root, &runs[0], 0, &mut dirs)?;
    let mut merged = 0;
    for dir in dirs {
        if let Some(spread) = spread_of(&dir, runs)? {
            copy_run(&dir.join(&spread.chosen), &dir.join(into))?;
            let path = dir.join(into).join(SPREAD_FILE);
            let text =
                serde_json::to_string_pretty(&spread).expect("spreads serialise; this is a bug");
            std::fs::write(&path, text + "\n")
                .map_err(|e| Error::io("cannot write spread record", &path, e))?;
            merged += 1;
        }
    }
    if merged == 0 {
        return Err(Error::Baseline(format!(
            "no benchmark under {} has all of the runs {}",
            root.display(),
            runs.join(", ")
        )));
    }
    Ok(merged)
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
