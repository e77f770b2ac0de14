//! `inferbench llm`: an OpenAI-compatible LLM server measured by its streams, one
//! window (`--arrival`) or a curve over request rates (`--rates`). Flags become an
//! [`LlmConfig`]; the library runs it; this prints it and appends the records.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use inferbench::config::Arrival;
use inferbench::llm::prompts::{Lengths, PromptSource};
use inferbench::llm::{self, config::model_shares, Api, LlmConfig, OpenAiUrl, Slo};
use inferbench::report::llm as render;
use inferbench::results::jsonl::JsonlSink;
use inferbench::sweep::curve::{auto_rates, Rates};
use inferbench::sweep::llm_curve;

#[derive(Args)]
pub struct LlmArgs {
    /// The server: openai://HOST:PORT[/PREFIX] (PREFIX defaults to /v1), an
    /// OpenAI-compatible API (vLLM, TGI, llama.cpp's server, transformers serve, …).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// The server's model name; several, comma-separated, with --traffic-split.
    #[arg(long, value_name = "NAME[,NAME…]")]
    pub model: String,
    /// Each model's share of the requests, comma-separated, summing to 1 (e.g. 0.9,0.1).
    #[arg(long, value_name = "SHARES")]
    pub traffic_split: Option<String>,
    /// completions (POST /completions) or chat (POST /chat/completions).
    #[arg(long, default_value = "completions")]
    pub api: String,
    /// Ask for whole answers instead of streams (then only end-to-end latency and
    /// throughput are measured: no token arrives before the last).
    #[arg(long)]
    pub no_stream: bool,
    /// synthetic (see --input-len, --output-len) or a ShareGPT-format JSON file.
    #[arg(long, default_value = "synthetic", value_name = "synthetic|PATH")]
    pub prompts: String,
    /// Synthetic prompt length (tokens with --tokenizer, words without), N or A..B
    /// (uniform) [default: 128].
    #[arg(long, value_name = "N|A..B")]
    pub input_len: Option<String>,
    /// Synthetic output length asked for (max_tokens), N or A..B (uniform) [default: 64].
    #[arg(long, value_name = "N|A..B")]
    pub output_len: Option<String>,
    /// ShareGPT: longest prompt kept (tokens with --tokenizer, words without) [default: 1024].
    #[arg(long)]
    pub max_input_length: Option<u32>,
    /// ShareGPT: longest answer kept, also max_tokens [default: 1024].
    #[arg(long)]
    pub max_output_length: Option<u32>,
    /// The model's tokenizer.json, to count tokens here [default: the server's usage].
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
    /// Measured requests (per rate with --rates), after the warm-up.
    #[arg(long = "iters", default_value_t = 100)]
    pub iters: u32,
    /// burst, concurrency:N or poisson:RATE (requests/s).
    #[arg(long, default_value = "burst", conflicts_with = "rates")]
    pub arrival: String,
    /// A curve: one Poisson window per rate (requests/s, comma-separated; auto: fractions
    /// of the capacity a burst measures first), then the highest rate within
    /// --goodput-ttft-ms and --goodput-tpot-ms at p99.
    #[arg(long)]
    pub rates: Option<String>,
    /// Seed of the prompts, of each request's model and of Poisson arrivals.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Requests sent one by one and awaited before measuring (not counted).
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,
    /// A request not finished this long after its intended send time is counted as timed out.
    #[arg(long, default_value = "60s")]
    pub request_timeout: String,
    /// Goodput's TTFT bound in ms (and the curve's p99 TTFT bound).
    #[arg(long)]
    pub goodput_ttft_ms: Option<f64>,
    /// Goodput's TPOT bound in ms (and the curve's p99 TPOT bound).
    #[arg(long)]
    pub goodput_tpot_ms: Option<f64>,
    /// The server's Prometheus endpoint (http://…/metrics), read before and after each window.
    #[arg(long, value_name = "URL")]
    pub scrape_server_metrics: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Results file (JSON lines, appended).
    #[arg(long, default_value = "results/llm.jsonl")]
    pub out: PathBuf,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl LlmArgs {
    fn config(&self) -> anyhow::Result<LlmConfig> {
        let url: OpenAiUrl = self.target.parse()?;
        let prompts = if self.prompts == "synthetic" {
            for (flag, given) in [
                ("--max-input-length", self.max_input_length.is_some()),
                ("--max-output-length", self.max_output_length.is_some()),
            ] {
                anyhow::ensure!(!given, "{flag} filters a ShareGPT file; with --prompts synthetic give --input-len and --output-len");
            }
            PromptSource::Synthetic {
                input: Lengths::parse("input-len", self.input_len.as_deref().unwrap_or("128"))?,
                output: Lengths::parse("output-len", self.output_len.as_deref().unwrap_or("64"))?,
            }
        } else {
            for (flag, given) in [
                ("--input-len", self.input_len.is_some()),
                ("--output-len", self.output_len.is_some()),
            ] {
                anyhow::ensure!(!given, "{flag} sizes synthetic prompts; a ShareGPT file's prompts have their own lengths (filter them with --max-input-length, --max-output-length)");
            }
            PromptSource::ShareGpt {
                path: PathBuf::from(&self.prompts),
                max_input_length: self.max_input_length.unwrap_or(1024),
                max_output_length: self.max_output_length.unwrap_or(1024),
            }
        };
        let slo =
            (self.goodput_ttft_ms.is_some() || self.goodput_tpot_ms.is_some()).then_some(Slo {
                ttft_ms: self.goodput_ttft_ms,
                tpot_ms: self.goodput_tpot_ms,
            });
        let cfg = LlmConfig {
            url,
            models: model_shares(&self.model, self.traffic_split.as_deref())?,
            api: Api::parse(&self.api)?,
            stream: !self.no_stream,
            prompts,
            tokenizer: self.tokenizer.clone(),
            num_requests: self.iters,
            arrival: Arrival::parse(&self.arrival).context("--arrival")?,
            seed: self.seed,
            warmup: self.warmup,
            request_timeout: humantime::parse_duration(&self.request_timeout).map_err(|e| {
                anyhow::anyhow!(
                    "--request-timeout '{}': {e} (e.g. 60s, 500ms)",
                    self.request_timeout
                )
            })?,
            slo,
            scrape_metrics: self.scrape_server_metrics.clone(),
        };
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
            args.goodput_ttft_ms.is_some() && args.goodput_tpot_ms.is_some(),
            "--rates needs --goodput-ttft-ms and --goodput-tpot-ms: the bounds of the recommendation"
        );
    }
    let mut sink = JsonlSink::open(&args.out)?;
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
    let points =
        llm_curve::run_curve(&cfg, &rates, &mut progress, &mut |p| sink.append(&p.report))?;
    let (ttft, tpot) = (
        args.goodput_ttft_ms.unwrap_or(f64::INFINITY),
        args.goodput_tpot_ms.unwrap_or(f64::INFINITY),
    );
    let rec = llm_curve::recommend(&points, ttft, tpot);
    print!("{}", render::curve(&points, Some(&rec)));
    progress(&format!("results in {}", sink.path().display()));
    Ok(())
}
