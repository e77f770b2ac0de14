//! The flags that say what one `llm` window sends, shared by `llm` and `llm-ab`
//! (flattened into both), and the [`LlmConfig`] they make with a server, its model
//! names and the arrival.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use inferbench::config::Arrival;
use inferbench::llm::prompts::{Lengths, PromptSource};
use inferbench::llm::{config::ModelShare, Api, LlmConfig, OpenAiUrl, Slo};

#[derive(Args)]
pub struct WindowArgs {
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
    /// Measured requests per window (per rate with --rates), after the warm-up.
    #[arg(long = "iters", default_value_t = 100)]
    pub iters: u32,
    /// Seed of the prompts, of each request's model and of Poisson arrivals (a curve:
    /// of its capacity burst, the k-th rate's window uses seed + k; llm-ab: of round 1,
    /// round r uses seed + r − 1, the same on both sides).
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
}

impl WindowArgs {
    /// The prompt set; flags of the other kind of set are refused by name.
    pub fn prompts(&self) -> anyhow::Result<PromptSource> {
        if self.prompts == "synthetic" {
            for (flag, given) in [
                ("--max-input-length", self.max_input_length.is_some()),
                ("--max-output-length", self.max_output_length.is_some()),
            ] {
                anyhow::ensure!(!given, "{flag} filters a ShareGPT file; with --prompts synthetic give --input-len and --output-len");
            }
            return Ok(PromptSource::Synthetic {
                input: Lengths::parse("input-len", self.input_len.as_deref().unwrap_or("128"))?,
                output: Lengths::parse("output-len", self.output_len.as_deref().unwrap_or("64"))?,
            });
        }
        for (flag, given) in [
            ("--input-len", self.input_len.is_some()),
            ("--output-len", self.output_len.is_some()),
        ] {
            anyhow::ensure!(!given, "{flag} sizes synthetic prompts; a ShareGPT file's prompts have their own lengths (filter them with --max-input-length, --max-output-length)");
        }
        Ok(PromptSource::ShareGpt {
            path: PathBuf::from(&self.prompts),
            max_input_length: self.max_input_length.unwrap_or(1024),
            max_output_length: self.max_output_length.unwrap_or(1024),
        })
    }

    /// Goodput's bounds, when either is given.
    pub fn slo(&self) -> Option<Slo> {
        (self.goodput_ttft_ms.is_some() || self.goodput_tpot_ms.is_some()).then_some(Slo {
            ttft_ms: self.goodput_ttft_ms,
            tpot_ms: self.goodput_tpot_ms,
        })
    }

    /// A window of these flags against `url`'s `models` with `arrival` (not yet
    /// validated: the caller adds what it owns, then validates).
    pub fn config(
        &self,
        url: OpenAiUrl,
        models: Vec<ModelShare>,
        arrival: &str,
    ) -> anyhow::Result<LlmConfig> {
        Ok(LlmConfig {
            url,
            models,
            api: Api::parse(&self.api)?,
            stream: !self.no_stream,
            prompts: self.prompts()?,
            tokenizer: self.tokenizer.clone(),
            num_requests: self.iters,
            arrival: Arrival::parse(arrival).context("--arrival")?,
            seed: self.seed,
            window_seed: None,
            warmup: self.warmup,
            request_timeout: humantime::parse_duration(&self.request_timeout).map_err(|e| {
                anyhow::anyhow!(
                    "--request-timeout '{}': {e} (e.g. 60s, 500ms)",
                    self.request_timeout
                )
            })?,
            slo: self.slo(),
            scrape_metrics: None,
        })
    }
}
