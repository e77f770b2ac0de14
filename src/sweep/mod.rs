//! Sweeps: a grid of configurations ([`spec`]; its `[criterion]` table,
//! [`criterion_settings`], is how `cargo bench` measures the same grid), each run `repeats` times and
//! aggregated to mean ± std ([`record`]), with a progress line ([`progress`]); the
//! latency–throughput curve and the highest-rate-under-a-budget search ([`curve`]);
//! runs measured until stable ([`stable`], `stable_run`);
//! and, with libtorch, the runs themselves, the GEMM peak probe and the environment
//! (`runner`, `environment`).
//!
//! Results are JSON lines ([`record::Record`]) that `inferbench report` turns into
//! markdown, plots and a recommendation (the report module, one layer up).

pub mod criterion_settings;
pub mod curve;
#[cfg(feature = "torch")]
pub mod curve_run;
#[cfg(feature = "torch")]
pub mod environment;
#[cfg(feature = "torch")]
pub mod llm_curve;
pub mod part;
pub mod progress;
pub mod record;
#[cfg(feature = "torch")]
pub mod runner;
pub mod shard;
pub mod spec;
pub mod stable;
#[cfg(feature = "torch")]
pub mod stable_run;
pub mod tune;
#[cfg(feature = "torch")]
pub mod tune_explain;
pub mod tune_options;
#[cfg(feature = "torch")]
mod tune_round_plan;
#[cfg(feature = "torch")]
pub mod tune_round_run;
pub mod tune_rounds;
#[cfg(feature = "torch")]
pub mod tune_run;
#[cfg(feature = "torch")]
pub mod tune_screen;
