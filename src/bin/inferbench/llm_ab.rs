//! `inferbench llm-ab`: two OpenAI-compatible servers compared in one job, as `ab`
//! compares two builds: `llm` windows of both, the same requests on each, in the
//! order A B B A …, judged on the paired ratios head/base. Flags become the two
//! sides' [`LlmConfig`]s and the [`AbOptions`]; the library runs and judges; this
//! prints the table (or JSON) and the benchmark files.

use clap::Args;
use inferbench::ab::llm_runs::{one_sided, LlmSides, LlmWindows};
use inferbench::ab::procedure::{run_ab, Job, RunBlocks};
use inferbench::ab::{Figure, Side};
use inferbench::llm::prompts::PromptSource;
use inferbench::llm::{config::model_shares, LlmConfig, OpenAiUrl};

use crate::ab_judge_args::JudgeArgs;
use crate::llm_window_args::WindowArgs;

#[derive(Args)]
pub struct LlmAbArgs {
    /// The base (A) server: openai://HOST:PORT[/PREFIX] (PREFIX defaults to /v1).
    #[arg(long, value_name = "URL")]
    pub base: String,
    /// The head (B) server, the one under test: openai://HOST:PORT[/PREFIX].
    #[arg(long, value_name = "URL")]
    pub head: String,
    /// The model name on both servers; several, comma-separated, with --traffic-split.
    #[arg(long, value_name = "NAME[,NAME…]")]
    pub model: String,
    /// The head's model name(s) where they differ from --model (same count).
    #[arg(long, value_name = "NAME[,NAME…]")]
    pub head_model: Option<String>,
    /// Allow the same server and model on both sides: an A/A job, which measures the
    /// procedure's own noise.
    #[arg(long)]
    pub allow_same: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    /// burst, concurrency:N or poisson:RATE (requests/s).
    #[arg(long, default_value = "burst")]
    pub arrival: String,
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// A B B A rounds (four windows) per block.
    #[arg(long, default_value_t = 1)]
    pub block_rounds: u32,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl LlmAbArgs {
    /// The two sides' windows: the same but for the URL and the models.
    fn sides(&self) -> anyhow::Result<LlmSides> {
        let base_url = self
            .base
            .parse::<OpenAiUrl>()
            .map_err(|e| refield(e, "base"))?;
        let head_url = self
            .head
            .parse::<OpenAiUrl>()
            .map_err(|e| refield(e, "head"))?;
        let split = self.window.traffic_split.as_deref();
        let head_models = match &self.head_model {
            Some(names) => model_shares(names, split).map_err(|e| refield(e, "head-model"))?,
            None => model_shares(&self.model, split)?,
        };
        let base =
            self.window
                .config(base_url, model_shares(&self.model, split)?, &self.arrival)?;
        let head = LlmConfig {
            url: head_url,
            models: head_models,
            ..base.clone()
        };
        Ok(LlmSides { base, head })
    }
}

/// The error of a shared parser (which names `--target` or `--model`) as the flag
/// of this command that was given.
fn refield(e: inferbench::Error, flag: &'static str) -> inferbench::Error {
    match e {
        inferbench::Error::Config { reason, .. } => inferbench::Error::config(flag, reason),
        other => other,
    }
}

/// What the report says the window is.
fn describe_window(cfg: &LlmConfig) -> String {
    format!(
        "{} requests per window ({}), {} prompts, api {}, seed {} + round",
        cfg.num_requests,
        cfg.arrival.flag(),
        match &cfg.prompts {
            PromptSource::Synthetic { .. } => "synthetic".to_string(),
            PromptSource::ShareGpt { path, .. } => path.display().to_string(),
        },
        cfg.api.path(),
        cfg.seed
    )
}

/// Runs the job; `Ok(false)` when a judged figure regressed (exit 1).
pub fn run(args: LlmAbArgs) -> anyhow::Result<bool> {
    let mut options = args.judge.options(&Figure::LLM)?;
    anyhow::ensure!(
        args.block_rounds >= 1,
        "--block-rounds 0: a block needs at least one A B B A round"
    );
    let sides = args.sides()?;
    let quiet = args.quiet;
    let progress = move |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    if let Some(warning) = sides.check(args.allow_same)? {
        eprintln!("inferbench: llm-ab: warning: {warning}");
    }
    options.figures = sides.judged(&options.figures, !args.judge.figures.is_empty())?;
    options.validate()?;
    progress("[llm-ab] probing both servers (one request each)");
    sides.probe()?;
    let run_args = [describe_window(&sides.base)];
    let job = Job {
        run_args: &run_args,
        base: sides.describe(Side::Base),
        head: sides.describe(Side::Head),
    };
    let mut window_lines = progress;
    let windows = LlmWindows::new(sides.clone(), options.figures.clone(), &mut window_lines);
    let mut blocks = RunBlocks {
        runs: windows,
        rounds: args.block_rounds,
    };
    let mut block_lines = progress;
    let report = run_ab(&job, &mut blocks, &options, &mut block_lines)?;
    for note in one_sided(&report, &sides) {
        eprintln!("inferbench: llm-ab: warning: {note}");
    }
    args.judge.report(&report, "llm-ab")
}
