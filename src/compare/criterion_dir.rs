//! Reading criterion's output folder (`target/criterion`, or `$CRITERION_HOME`).
//!
//! Per benchmark criterion keeps a folder (`<group>/<function>/`) holding `new/` (the
//! last run), one folder per saved baseline, and `change/` (the last comparison).
//! Each of `new/` and a baseline folder has `benchmark.json` (ids, throughput) and
//! `estimates.json` (bootstrap estimates); `change/estimates.json` has the relative
//! change of the mean and median.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::noise::{self, RunSpread};
use super::{verdict, CompareOptions, Comparison, Estimate, Quantity, Verdict};
use crate::error::{Error, Result};

/// File name of the spread record inside a baseline folder.
pub const SPREAD_FILE: &str = "spread.json";

/// The files criterion reads for a saved baseline.
pub const BASELINE_FILES: [&str; 4] = [
    "benchmark.json",
    "estimates.json",
    "sample.json",
    "tukey.json",
];

/// Criterion's output folder: `CRITERION_HOME` when set and `flag` is left at its
/// default `target/criterion`, else `flag`.
pub fn home(flag: &Path) -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(home) if flag == Path::new("target/criterion") => PathBuf::from(home),
        _ => flag.to_path_buf(),
    }
}

#[derive(Deserialize)]
struct BenchmarkFile {
    full_id: String,
    function_id: Option<String>,
    throughput: Option<ThroughputFile>,
}

#[derive(Deserialize)]
enum ThroughputFile {
    Elements(u64),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct EstimatesFile {
    mean: EstimateFile,
}

#[derive(Deserialize)]
struct EstimateFile {
    confidence_interval: IntervalFile,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct IntervalFile {
    lower_bound: f64,
    upper_bound: f64,
}

impl From<EstimateFile> for Estimate {
    fn from(e: EstimateFile) -> Self {
        Estimate {
            point: e.point_estimate,
            lower: e.confidence_interval.lower_bound,
            upper: e.confidence_interval.upper_bound,
        }
    }
}

/// Every benchmark under `root` that has a `new/` run or a `baseline` folder,
/// compared, in id order.
pub fn load(root: &Path, baseline: &str, options: &CompareOptions) -> Result<Vec<Comparison>> {
    if !root.is_dir() {
        return Err(Error::Baseline(format!(
            "no criterion results at {}: run `cargo bench --bench pipeline -- --baseline-lenient {baseline}` first (or point --criterion-dir at CRITERION_HOME)",
            root.display()
        )));
    }
    let mut dirs = Vec::new();
    find_benchmark_dirs(root, baseline, 0, &mut dirs)?;
    if dirs.is_empty() {
        return Err(Error::Baseline(format!(
            "no benchmark under {} has a new run or a baseline named '{baseline}'",
            root.display()
        )));
    }
    check_baseline_is_shared(root, &dirs, baseline)?;
    let mut out = dirs
        .iter()
        .map(|dir| compare_one(dir, baseline))
        .collect::<Result<Vec<_>>>()?;
    apply_noise_bands(&mut out, options);
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A comparison needs the baseline to exist and to share a benchmark with the new
/// run: otherwise every benchmark would be "new" (a typo in the name) or "missing"
/// (a run of other benchmarks), and a gate would pass or fail on nothing.
fn check_baseline_is_shared(root: &Path, dirs: &[PathBuf], baseline: &str) -> Result<()> {
    let has = |dir: &Path, run: &str| dir.join(run).join("estimates.json").is_file();
    if !dirs.iter().any(|d| has(d, baseline)) {
        let known = saved_baselines(dirs);
        return Err(Error::Baseline(format!(
            "no baseline named '{baseline}' under {}; saved baselines there: {}. Save one with `cargo bench -- --save-baseline {baseline}` (or scripts/baseline.sh save)",
            root.display(),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )));
    }
    if !dirs.iter().any(|d| has(d, baseline) && has(d, "new")) {
        return Err(Error::Baseline(format!(
            "the last run under {} shares no benchmark with baseline '{baseline}': run the same benchmarks (cargo bench --bench pipeline -- --baseline-lenient {baseline})",
            root.display()
        )));
    }
    Ok(())
}

/// The names of the saved baselines in any of `dirs` (criterion's own folders aside).
pub(crate) fn saved_baselines(dirs: &[PathBuf]) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let criterion_own = ["new", "base", "change", "report"].contains(&name.as_str());
            if !criterion_own && entry.path().join("estimates.json").is_file() {
                names.insert(name);
            }
        }
    }
    names.into_iter().collect()
}

/// Sets each comparison's σ (pooled over its quantity), band and verdict.
fn apply_noise_bands(comparisons: &mut [Comparison], options: &CompareOptions) {
    let own: Vec<_> = comparisons
        .iter()
        .map(|c| (c.quantity, c.run_sigma))
        .collect();
    for (c, sigma) in comparisons.iter_mut().zip(noise::effective_sigmas(&own)) {
        c.run_sigma = sigma;
        c.band = noise::band(options.threshold, options.sigmas, sigma);
        if let Some(change) = &c.change {
            c.verdict = verdict(change, c.band, c.quantity.smaller_is_better());
        }
    }
}

/// Folders holding `new/benchmark.json` or `<baseline>/benchmark.json`. Criterion
/// nests ids with slashes as one folder per group plus one per function; a depth
/// limit keeps a stray symlink loop from hanging the walk.
pub(crate) fn find_benchmark_dirs(
    dir: &Path,
    baseline: &str,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    if depth > 8 {
        return Ok(());
    }
    if ["new", baseline]
        .iter()
        .any(|run| dir.join(run).join("benchmark.json").is_file())
    {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot read criterion folder", dir, e))?;
    for entry in entries {
        let path = entry
            .map_err(|e| Error::io("cannot read criterion folder", dir, e))?
            .path();
        let is_report = path.file_name().is_some_and(|n| n == "report");
        if path.is_dir() && !is_report {
            find_benchmark_dirs(&path, baseline, depth + 1, out)?;
        }
    }
    Ok(())
}

/// One benchmark's files; the verdict of a change is left for [`apply_noise_bands`].
fn compare_one(dir: &Path, baseline: &str) -> Result<Comparison> {
    let new_dir = dir.join("new");
    let base_dir = dir.join(baseline);
    let meta_dir = if new_dir.join("benchmark.json").is_file() {
        &new_dir
    } else {
        &base_dir
    };
    let meta: BenchmarkFile = read_json(&meta_dir.join("benchmark.json"))?;
    let function = meta
        .function_id
        .clone()
        .unwrap_or_else(|| meta.full_id.rsplit('/').next().unwrap_or("").to_string());
    let quantity = Quantity::of_function(&function);
    let baseline_mean = read_mean_if_present(&base_dir)?;
    let new_mean = read_mean_if_present(&new_dir)?;
    let (change, verdict) = match (&baseline_mean, &new_mean) {
        (None, _) => (None, Verdict::New),
        (Some(_), None) => (None, Verdict::Missing),
        (Some(_), Some(_)) => {
            let change_file = dir.join("change").join("estimates.json");
            if !change_file.is_file() {
                return Err(Error::Baseline(format!(
                    "{}: a new run and baseline '{baseline}' but no comparison ({} is missing): run cargo bench with --baseline-lenient {baseline}",
                    meta.full_id,
                    change_file.display()
                )));
            }
            let change: Estimate = read_json::<EstimatesFile>(&change_file)?.mean.into();
            (Some(change), Verdict::WithinNoise)
        }
    };
    Ok(Comparison {
        id: meta.full_id,
        quantity,
        elements: match meta.throughput {
            Some(ThroughputFile::Elements(n)) => Some(n),
            _ => None,
        },
        baseline: baseline_mean,
        new: new_mean,
        change,
        run_sigma: read_spread(&base_dir)?.map(|s| s.relative_std),
        band: 0.0,
        verdict,
    })
}

pub(crate) fn read_mean_if_present(run_dir: &Path) -> Result<Option<Estimate>> {
    let file = run_dir.join("estimates.json");
    if !file.is_file() {
        return Ok(None);
    }
    Ok(Some(read_json::<EstimatesFile>(&file)?.mean.into()))
}

/// Reads a benchmark's spread record from its baseline folder, if the baseline has one.
pub fn read_spread(baseline_dir: &Path) -> Result<Option<RunSpread>> {
    let path = baseline_dir.join(SPREAD_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::io("cannot read spread record", &path, e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Baseline(format!(
            "{} is not a spread record ({e}); save the baseline again with scripts/baseline.sh save",
            path.display()
        ))
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("cannot read criterion file", path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Baseline(format!(
            "{} is not criterion output ({e}); delete it or re-run cargo bench",
            path.display()
        ))
    })
}
