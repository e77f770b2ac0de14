//! How an A/B job judges and reports, shared by `ab` (two builds) and `llm-ab` (two
//! LLM servers), flattened into both: the threshold and confidence of the verdicts,
//! the blocks and time it may take, the figures judged, and where the results go.

use std::path::PathBuf;

use clap::Args;
use inferbench::ab::{render, AbOptions, AbReport, Figure};

#[derive(Args)]
pub struct JudgeArgs {
    /// Threshold in percent: a change counts only if its whole interval is beyond it.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Confidence of the intervals, percent.
    #[arg(long, default_value_t = 95.0)]
    pub confidence: f64,
    /// Blocks before a verdict may settle (at least 6 at 95 %).
    #[arg(long, default_value_t = 6)]
    pub min_blocks: u32,
    /// Most blocks per configuration.
    #[arg(long, default_value_t = 50)]
    pub max_blocks: u32,
    /// No block starts after this much wall time, e.g. 180s or 3min.
    #[arg(long, default_value = "300s")]
    pub max_time: String,
    /// The figures judged, comma-separated (ab: throughput, mean, p99, cpu-util,
    /// gpu-util; llm-ab: output-tokens, requests, ttft-p50, ttft-p99, tpot-p50,
    /// tpot-p99, e2e-p99, goodput) [default: all that are measured]; only these gate
    /// the exit status and the early stop.
    #[arg(long, value_delimiter = ',')]
    pub figures: Vec<String>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write github-action-benchmark files smaller_is_better.json and bigger_is_better.json here.
    #[arg(long)]
    pub json_dir: Option<PathBuf>,
}

impl JudgeArgs {
    /// The options, with the figures named from `family`.
    pub fn options(&self, family: &[Figure]) -> inferbench::Result<AbOptions> {
        AbOptions::from_flags_in(
            family,
            self.threshold,
            self.confidence,
            (self.min_blocks, self.max_blocks),
            &self.max_time,
            &self.figures,
        )
    }

    /// Writes the benchmark files where asked, prints the table or the JSON, and says
    /// when the head regressed (`command` names the job in that line); whether it passed.
    pub fn report(&self, report: &AbReport, command: &str) -> anyhow::Result<bool> {
        if let Some(dir) = &self.json_dir {
            render::write_github_action_benchmark(report, dir)?;
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(report)?);
        } else {
            print!("{}", render::table(report));
        }
        if !report.passed() {
            eprintln!(
                "inferbench: {command}: the head regressed against the base (threshold ±{}%)",
                self.threshold
            );
        }
        Ok(report.passed())
    }
}
