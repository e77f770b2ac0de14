//! The sweep report: sweep and curve records read back ([`SweepData::load`]), a
//! recommendation under a constraint ([`recommend`]), SVG plots ([`plots`]) and the
//! markdown that ties them together ([`markdown`]), all written by [`write_report`].

pub(crate) mod chart;
pub mod gpu_plots;
pub mod markdown;
pub mod plots;
pub mod recommend;
pub mod shards;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sweep::record::{
    ConfigRecord, MaxRateRecord, ProbeRecord, RatePoint, Record, ShardRecord,
};

/// Every record of one or more results files, by kind, in file order.
#[derive(Debug, Clone, Default)]
pub struct SweepData {
    /// GEMM peak probes.
    pub probes: Vec<ProbeRecord>,
    /// Configurations.
    pub configs: Vec<ConfigRecord>,
    /// Latency–throughput points.
    pub rates: Vec<RatePoint>,
    /// Rate searches.
    pub max_rates: Vec<MaxRateRecord>,
    /// What each tune's search did.
    pub tunes: Vec<crate::sweep::record::TuneRecord>,
    /// Shard headers, when the sweep ran in shards ([`shards`]).
    pub shards: Vec<ShardRecord>,
}

impl SweepData {
    /// Reads JSON-lines files written by `inferbench sweep` and `inferbench curve`.
    /// (`inferbench report` reads through [`shards::load`], which also checks that
    /// the shards of a sweep fit together.)
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut records = Vec::new();
        for path in paths {
            records.extend(read_records(path)?);
        }
        Self::from_records(records)
    }

    /// Sorts records by kind, in order; refuses input without configurations or rates.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Result<Self> {
        let mut data = Self::default();
        for record in records {
            data.push(record);
        }
        if data.configs.is_empty() && data.rates.is_empty() {
            return Err(Error::config(
                "input",
                "no configuration or rate records in the input; run `inferbench sweep` or `inferbench curve` first",
            ));
        }
        Ok(data)
    }

    fn push(&mut self, record: Record) {
        match record {
            Record::Probe(p) => self.probes.push(p),
            Record::Config(c) => self.configs.push(c),
            Record::Rate(r) => self.rates.push(r),
            Record::MaxRate(m) => self.max_rates.push(m),
            Record::Shard(s) => self.shards.push(s),
            Record::Tune(t) => self.tunes.push(t),
        }
    }

    /// The GEMM peak to hold a configuration to: the probe of its sweep, else the last.
    pub fn peak_gflops(&self, sweep: &str) -> Option<f64> {
        self.probes
            .iter()
            .rev()
            .find(|p| p.sweep == sweep)
            .or(self.probes.last())
            .map(|p| p.peak_gflops)
    }

    /// The peak of the machine that measured `config`: the probe written with the same
    /// environment (each shard probes its own machine), else [`Self::peak_gflops`].
    fn peak_for(&self, config: &ConfigRecord) -> Option<f64> {
        self.probes
            .iter()
            .rev()
            .find(|p| p.sweep == config.sweep && p.env == config.env)
            .map(|p| p.peak_gflops)
            .or_else(|| self.peak_gflops(&config.sweep))
    }

    /// Samples/s the configuration could reach if its forward ran at the probe's
    /// peak: peak FLOP/s ÷ FLOPs per sample.
    pub fn theoretical_max(&self, config: &ConfigRecord) -> Option<f64> {
        let gflop = config.model_gflop_per_sample?;
        Some(self.peak_for(config)? / gflop)
    }
}

/// Every record of one results file, in order.
///
/// A line cut short by an interrupted write is skipped with a warning on stderr
/// naming the file and line ([`crate::results::jsonl::read_lines`]).
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    crate::results::jsonl::read_records(path, |line_no, line, e| {
        let hint = if line.contains("\"latency_ms\"") && !line.contains("\"kind\"") {
            "it looks like an `inferbench run` result; report reads the files of `inferbench sweep` and `inferbench curve`"
        } else {
            "the file is not a sweep results file, or was cut short"
        };
        Error::config(
            "input",
            format!(
                "{}:{line_no}: not a sweep record ({e}); {hint}",
                path.display()
            ),
        )
    })
}

/// The files a report consists of, written into `dir`.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The markdown.
    pub markdown: PathBuf,
    /// The plots.
    pub plots: Vec<plots::Plot>,
    /// The recommendation the markdown gives.
    pub recommendation: recommend::Recommendation,
}

/// Writes `report.md` and its SVG plots into `dir` (created if needed). Each file is
/// written to a temporary name and renamed, so a failure leaves no half-written file.
pub fn write_report(data: &SweepData, goal: &recommend::Goal, dir: &Path) -> Result<ReportFiles> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create report folder", dir, e))?;
    refuse_other_markdown(&dir.join("report.md"))?;
    let recommendation = recommend::recommend(&data.configs, goal)?;
    let plots = plots::write_all(data, goal, dir)?;
    let text = markdown::render(data, goal, &recommendation, &plots);
    let markdown = dir.join("report.md");
    crate::results::file::write_atomically(&markdown, text.as_bytes())?;
    Ok(ReportFiles {
        markdown,
        plots,
        recommendation,
    })
}

/// Refuses to replace a `report.md` that is not a report written here (a sweep's or
/// an LLM run's: a folder's own notes, given as `--out-dir` by mistake), before
/// anything is written.
pub(crate) fn refuse_other_markdown(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => {}
        _ => return Ok(()),
    }
    let first =
        crate::results::file::first_line(path).map_err(|e| Error::io("cannot read", path, e))?;
    let ours = [markdown::TITLE, super::LLM_TITLE];
    if ours.iter().any(|t| first.trim_end() == t.trim_end()) {
        return Ok(());
    }
    Err(Error::config(
        "out-dir",
        format!(
            "{} exists and is not a report written by inferbench (its first line is not '{}'); the report would replace it: give another --out-dir",
            path.display(),
            markdown::TITLE.trim_end()
        ),
    ))
}
