//! `inferbench llm`: an OpenAI-compatible LLM server measured by its streams, one
//! window (`--arrival`) or a curve over request rates (`--rates`). Flags become an
//! [`LlmConfig`]; the library runs it; this prints it and appends the records.

use std::path::PathBuf;

use crate::llm_window_args::WindowArgs;
use clap::Args;
use inferbench::llm::{self, config::model_shares, LlmConfig, OpenAiUrl};
use inferbench::report::llm as render;
use inferbench::results::jsonl::JsonlSink;
use inferbench::sweep::curve::{auto_rates, Rates};
use inferbench::sweep::llm_curve::{self, WindowSeeds};
use inferbench::sweep::shard::{report_input, results_path, start_fresh, Shard, JOB_INDEX_VAR};

#[derive(Args)]
pub struct LlmArgs {
    /// The server: openai://HOST:PORT[/PREFIX] (PREFIX defaults to /v1), an
    /// OpenAI-compatible API (vLLM, TGI, llama.cpp's server, transformers serve, …).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// The server's model name; several, comma-separated, with --traffic-split.
    #[arg(long, value_name = "NAME[,NAME…]")]
    pub model: String,
    #[command(flatten)]
    pub window: WindowArgs,
    /// burst, concurrency:N or poisson:RATE (requests/s).
    #[arg(long, default_value = "burst", conflicts_with = "rates")]
    pub arrival: String,
    /// A curve: one Poisson window per rate (requests/s, comma-separated; auto: fractions
    /// of the capacity a burst measures first), then the highest rate within
    /// --goodput-ttft-ms and --goodput-tpot-ms at p99.
    #[arg(long)]
    pub rates: Option<String>,
    /// Send the same requests (the seed's) at every rate of a curve. By default the
    /// window at the k-th rate (lowest: 1) uses seed + k, so that a server caching
    /// prompts (llama.cpp, vLLM's prefix caching) answers no window from an earlier
    /// window's prompts.
    #[arg(long, requires = "rates")]
    pub same_seed_every_rate: bool,
    /// The server's Prometheus endpoint (http://…/metrics), read before and after each window.
    #[arg(long, value_name = "URL")]
    pub scrape_server_metrics: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Results file (JSON lines, appended) [default: results/llm.jsonl]. With a shard,
    /// a folder (llm-shard-I-of-N.jsonl inside, rewritten by a rerun) [default:
    /// results/llm-shards].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Measure only shard I of N (from 0), e.g. 1/4, of the --rates: the curve cut
    /// over server replicas, one server beside each shard; `report` puts the
    /// shards' windows back into one curve.
    #[arg(long, value_name = "I/N", requires = "rates")]
    pub shard: Option<String>,
    /// Measure shard $JOB_COMPLETION_INDEX of N (set by a Kubernetes Indexed Job).
    #[arg(long, value_name = "N", conflicts_with = "shard", requires = "rates")]
    pub shards: Option<u32>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl LlmArgs {
    fn config(&self) -> anyhow::Result<LlmConfig> {
        let url: OpenAiUrl = self.target.parse()?;
        let models = model_shares(&self.model, self.window.traffic_split.as_deref())?;
        let mut cfg = self.window.config(url, models, &self.arrival)?;
        cfg.scrape_metrics = self.scrape_server_metrics.clone();
        cfg.validate()?;
        Ok(cfg)
    }
}

pub fn run(args: LlmArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    let rates = args.rates.as_deref().map(Rates::parse).transpose()?;
    if rates.is_some() {
        anyhow::ensure!(cfg.stream, "--rates with --no-stream: the recommendation is on p99 TTFT and TPOT, which only streams have");
        anyhow::ensure!(
            args.window.goodput_ttft_ms.is_some() && args.window.goodput_tpot_ms.is_some(),
            "--rates needs --goodput-ttft-ms and --goodput-tpot-ms: the bounds of the recommendation"
        );
    }
    let part = Shard::resolve(
        args.shard.as_deref(),
        args.shards,
        std::env::var(JOB_INDEX_VAR).ok().as_deref(),
    )?;
    if part.is_some() {
        anyhow::ensure!(
            matches!(rates, Some(Rates::Explicit(_))),
            "--rates auto with a shard: each shard would measure its own replica's capacity, \
             and their rates would not make one curve; give the rates (e.g. those a \
             `--rates auto` run against one replica printed)"
        );
    }
    let out = match part {
        Some(p) => shard_output(args.out.as_deref(), p)?,
        None => args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results/llm.jsonl")),
    };
    let mut sink = JsonlSink::open(&out)?;
    let quiet = args.quiet;
    let mut progress = move |line: &str| {
        if !quiet {
            eprintln!("[llm] {line}");
        }
    };
    let rates = match rates {
        None => {
            let report = llm::run(&cfg, &mut progress)?;
            sink.append(&report)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::render(&report));
            }
            progress(&format!("appended to {}", sink.path().display()));
            return Ok(());
        }
        Some(Rates::Explicit(rates)) => rates,
        Some(Rates::Auto) => {
            let (capacity, burst) = llm_curve::measure_capacity(&cfg, &mut progress)?;
            sink.append(&burst)?;
            let rates = auto_rates(capacity);
            progress(&format!(
                "rates: {} requests/s",
                rates
                    .iter()
                    .map(|r| format!("{r:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            rates
        }
    };
    let seeds = window_seeds(&args);
    if let Some(p) = part {
        return run_shard(&cfg, (&rates, p, seeds), &mut sink, &mut progress);
    }
    let points = llm_curve::run_curve(&cfg, (&rates, None, seeds), &mut progress, &mut |p| {
        sink.append(&p.report)
    })?;
    let (ttft, tpot) = (
        args.window.goodput_ttft_ms.unwrap_or(f64::INFINITY),
        args.window.goodput_tpot_ms.unwrap_or(f64::INFINITY),
    );
    let rec = llm_curve::recommend(&points, ttft, tpot);
    print!("{}", render::curve(&points, Some(&rec)));
    progress(&format!("results in {}", sink.path().display()));
    Ok(())
}

/// How the curve's windows draw their requests.
fn window_seeds(args: &LlmArgs) -> WindowSeeds {
    if args.same_seed_every_rate {
        WindowSeeds::Same
    } else {
        WindowSeeds::PerRate
    }
}

/// A shard's part of a curve: its rates, each window recording the shard and the whole
/// curve's rates; no recommendation, which needs every shard's windows (`report`).
fn run_shard(
    cfg: &LlmConfig,
    (rates, part, seeds): (&[f64], Shard, WindowSeeds),
    sink: &mut JsonlSink,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let mine = llm_curve::shard_rates(rates, cfg.num_requests, part);
    let shard = llm_curve::curve_shard(rates, part);
    let folder = report_input(sink.path(), Some(part));
    if mine.is_empty() {
        progress(&format!(
            "shard {part}: no rate of the {} falls to this shard (more shards than rates); nothing to measure",
            rates.len()
        ));
        return Ok(());
    }
    progress(&format!(
        "shard {part}: {} of the curve's {} rates: {}",
        mine.len(),
        rates.len(),
        mine.iter()
            .map(|r| format!("{r}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let points = llm_curve::run_curve(cfg, (&mine, Some(&shard), seeds), progress, &mut |p| {
        sink.append(&p.report)
    })?;
    print!("{}", render::curve(&points, None));
    println!(
        "shard {part}: the recommendation needs every shard's windows: inferbench report --input {} --out-dir DIR",
        folder.display()
    );
    progress(&format!("results in {}", sink.path().display()));
    Ok(())
}

/// A shard's results file: `llm-shard-I-of-N.jsonl` in the folder `out` (default
/// `results/llm-shards`), an earlier run of the same shard removed, so that a retried
/// pod replaces its windows instead of doubling them. A `.jsonl` file is refused: the
/// shards of one curve write side by side into one folder.
fn shard_output(out: Option<&std::path::Path>, part: Shard) -> anyhow::Result<PathBuf> {
    if let Some(file) = out.filter(|o| o.extension().is_some_and(|x| x == "jsonl")) {
        anyhow::bail!(
            "--out {} with a shard: give a folder; each shard writes {} inside it, and `report --input FOLDER` reads them together",
            file.display(),
            part.file_name("llm")
        );
    }
    let path = results_path(out, std::path::Path::new("results/llm-shards"), "llm", part);
    start_fresh(&path)?;
    Ok(path)
}
