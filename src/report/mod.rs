//! Reading results to people: a run's seed-style text summary ([`summary`]), the
//! per-request trace file ([`trace`]), and the sweep report ([`sweep`]: markdown,
//! plots, recommendation). The figures themselves are [`crate::results`].

#[cfg(feature = "torch")]
pub mod calibration;
pub mod curve;
#[cfg(feature = "torch")]
pub mod llm;
pub mod summary;
mod summary_lines;
pub mod sweep;
mod target_summary;
pub mod trace;
