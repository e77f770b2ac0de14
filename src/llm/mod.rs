//! Measuring an LLM server that speaks OpenAI's API (`inferbench llm --target
//! openai://HOST:PORT`): vLLM, TGI, llama.cpp's server, `transformers serve`, …
//! An LLM answer is a stream, not one response, so the figures are those of the
//! stream: time to first token (TTFT), the gaps between tokens (ITL), time per output
//! token after the first (TPOT), end to end, token throughput, and goodput (requests
//! meeting a TTFT and a TPOT bound). The pipeline's harness measures one response
//! per request and cannot see inside a stream, so this is a client of its own, with
//! the crate's rules: requests built before timing, a warm-up left out, latency from
//! the intended send time, HDR percentiles, and every request counted however it ended.
//!
//! - [`url`] parses `openai://HOST:PORT[/PREFIX]`.
//! - [`config`] is what a run is; [`prompts`] reads ShareGPT files and makes synthetic sets.
//! - [`sse`] and [`chunk`] read server-sent events and what each says.
//! - [`client`] sends one request, timed chunk by chunk; [`record`] is what it left.
//! - [`tokens`] counts with a `tokenizer.json`, or takes the server's `usage`.
//! - [`figures`] gives percentiles, throughput, goodput; [`report`] is the record of a run.
//! - [`runner`] runs it end to end; [`server_metrics`] gives the server's Prometheus deltas.

pub mod chunk;
pub mod client;
pub mod config;
pub mod figures;
pub mod prompts;
pub mod record;
pub mod report;
pub mod runner;
pub mod server_metrics;
pub mod sse;
pub mod tokens;
pub mod url;

pub use config::{Api, LlmConfig, ModelShare};
pub use figures::{LlmFigures, Slo};
pub use report::LlmReport;
pub use runner::run;
pub use url::OpenAiUrl;
