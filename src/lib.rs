//! inferbench: a model-inference server pipeline on libtorch, and the harnesses that
//! measure it.
//!
//! A load generator sends pre-built input tensors through crossbeam channels to a
//! backend (batcher, copy-in stage, a pool of workers each with its own stream,
//! copy-out stage); a collector turns the responses into latency percentiles, a
//! per-stage breakdown, throughput and utilisation. Every figure is measured; a
//! figure that cannot be measured on this machine is reported as absent.
//!
//! # Layout
//!
//! Bottom layer first; a module uses only its own layer or those below
//! (`tests/suite/layers.rs` checks it).
//!
//! - Plain types and pure functions: [`config`] (what a run is, with `validate`, and
//!   where it runs: `--device`, `--precision`),
//!   [`request`] (request identity, timestamps, stages, the run clock), [`metrics`]
//!   (latency histograms, stage breakdown, utilisation sampling), [`percentile`]
//!   (the latency statistic, mean or p50 … p99.9, and its one parser), [`results`]
//!   ([`RunReport`] and what it carries, the JSONL results file, atomic writes),
//!   [`error`].
//! - What runs and where: `model` (zoo, checkpoints, compile modes, the spin
//!   model) and `device` (CPU and, with feature `cuda`, GPU buffers, streams, copies).
//! - [`pipeline`]: the load generator, batcher, backend stages and their threads, the
//!   collector, the bare-forward baseline, a long-lived server and one run end to end.
//! - [`llm`]: a client of OpenAI-compatible LLM servers (`inferbench llm`): time to
//!   first token, inter-token latency, time per output token, goodput.
//! - Measurement glue: `measure` (criterion suites, which are sweep files, and the
//!   measurements), [`sweep`] (grids, repeats, the curve and rate search, the GEMM
//!   probe), [`compare`] (criterion results against a saved baseline), [`ab`] (paired
//!   A/B runs of two builds in one job, for CI on shared machines).
//! - [`report`]: what people read: the text summary, the per-request trace, the
//!   sweep report (markdown, SVG plots, recommendation).
//!
//! Feature `torch` (default) brings in everything that needs libtorch (models,
//! devices, the threaded backend, the CLI); without it the hot-path pieces still
//! build, so that instruction-count benches never load libtorch.

#![warn(missing_docs)]

pub mod ab;
pub mod compare;
pub mod config;
#[cfg(feature = "torch")]
pub mod device;
pub mod error;
#[cfg(feature = "torch")]
pub mod llm;
#[cfg(feature = "torch")]
pub mod measure;
pub mod metrics;
#[cfg(feature = "torch")]
pub mod model;
#[cfg(feature = "net")]
pub mod oip;
pub mod percentile;
pub mod pipeline;
pub mod report;
pub mod request;
pub mod results;
#[cfg(feature = "torch")]
pub mod serve;
pub mod sweep;
#[cfg(feature = "torch")]
pub mod target;

pub use config::{
    Arrival, BackendConfig, CompileMode, LoadConfig, ModelConfig, RunConfig, StreamLayout,
};
pub use error::{Error, Result};
#[cfg(feature = "torch")]
pub use pipeline::run;
pub use results::RunReport;
