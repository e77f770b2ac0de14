//! Criterion glue: the pipeline as criterion benchmarks, one group per
//! configuration of a suite ([`Suite`]: a sweep file, or a built-in profile that is
//! one), with three measurements so that criterion's baselines, change detection
//! and HTML reports work for each:
//!
//! - wall time per request (criterion's `WallTime`; with `Throughput::Elements` it
//!   also prints samples/s),
//! - [`TailLatency`]: a latency percentile (p99 by default),
//! - [`Utilization`]: GPU busy % through NVML where a GPU is visible, else process CPU %.
//!
//! Each criterion sample is a real pipeline window of the suite's
//! `requests_per_sample` requests on a server started once per group. Criterion
//! divides every sample by its `iters`, so each measurement returns its figure
//! multiplied by `iters`: a percentile is a statistic of the window, not a sum.

mod groups;
mod suite;
mod units;

pub use groups::{bench_configs, criterion_config, run_suite, PipelineMeasurement};
pub use suite::{
    profile_names, Suite, SuiteChoice, PERCENTILE_VAR, PROFILES, PROFILE_VAR, SUITE_VAR,
};
pub use units::{TailLatency, Utilization, UtilizationSource};

/// The bench's `main`: runs the suite the environment chooses, or says why not and
/// exits with status 2 before anything is measured.
pub fn main_from_env() -> std::process::ExitCode {
    let refuse = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::from(2)
    };
    let choice = match SuiteChoice::from_env() {
        Ok(choice) => choice,
        Err(e) => return refuse(e.to_string()),
    };
    match choice.load() {
        Ok(suite) => {
            run_suite(&suite);
            std::process::ExitCode::SUCCESS
        }
        // Name the file for errors inside it (an axis, a field), not for the conflict.
        Err(e) if choice.file.is_some() && choice.profile.is_none() => {
            refuse(format!("{}: {e}", choice.describe()))
        }
        Err(e) => refuse(e.to_string()),
    }
}
