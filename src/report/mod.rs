//! Reading results to people: a run's seed-style text summary ([`summary`]), the
//! per-request trace file ([`trace`]), the sweep report ([`sweep`]: markdown,
//! plots, recommendation), and the report of `inferbench llm` results
//! ([`llm_file`]). The figures themselves are [`crate::results`].

#[cfg(feature = "torch")]
pub mod calibration;
pub mod curve;
#[cfg(feature = "torch")]
pub mod llm;
#[cfg(feature = "torch")]
pub mod llm_file;
pub mod summary;
mod summary_lines;
pub mod sweep;
mod target_summary;
pub mod trace;

/// The first line of an LLM report ([`llm_file`]), which a sweep's report may replace
/// too.
pub const LLM_TITLE: &str = "# inferbench LLM report";
