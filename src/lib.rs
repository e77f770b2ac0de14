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
//! - [`config`]: what a run is (`RunConfig` and its parts, with `validate`).
//! - [`request`]: what travels: request identity, timestamps, stages, the run clock.
//! - [`model`]: the model zoo, checkpoints, compile modes, the synthetic spin model.
//! - [`device`]: CPU (and, with feature `cuda`, GPU) buffers, streams and copies.
//! - [`pipeline`]: inputs, the batcher, backend stages and their threads, the
//!   collector, the bare-forward baseline, and [`pipeline::run`].
//! - [`metrics`]: latency histograms, stage breakdown, utilisation sampling.
//! - `measure` (feature `torch`): criterion glue: profiles, one group per
//!   configuration, tail-latency and utilisation measurements.
//! - [`sweep`]: grids of configurations from presets or TOML, repeats aggregated to
//!   mean ± std, the latency–throughput curve and the rate search, the GEMM probe.
//! - [`report`]: [`report::RunReport`], its text summary, the JSONL results file, and
//!   the sweep report (markdown, SVG plots, recommendation, theoretical maximum).
//! - [`compare`]: criterion results against a saved baseline: verdicts, a table,
//!   github-action-benchmark JSON.
//! - [`error`]: the crate's error type.
//!
//! Feature `torch` (default) brings in everything that needs libtorch (models,
//! devices, the threaded backend, the CLI); without it the hot-path pieces still
//! build, so that instruction-count benches never load libtorch.

#![warn(missing_docs)]

pub mod compare;
pub mod config;
#[cfg(feature = "torch")]
pub mod device;
pub mod error;
#[cfg(feature = "torch")]
pub mod measure;
pub mod metrics;
#[cfg(feature = "torch")]
pub mod model;
pub mod pipeline;
pub mod report;
pub mod request;
pub mod results;
pub mod sweep;

pub use config::{
    Arrival, BackendConfig, CompileMode, LoadConfig, ModelConfig, RunConfig, StreamLayout,
};
pub use error::{Error, Result};
#[cfg(feature = "torch")]
pub use pipeline::run;
pub use results::RunReport;
