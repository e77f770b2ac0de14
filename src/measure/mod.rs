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
mod selection;
mod suite;
mod units;

pub use groups::{
    bench_configs, check_selection, criterion_config, run_suite, NotMeasured, PipelineMeasurement,
};
pub use selection::Selection;
pub use suite::{
    limits_from_env, profile_names, Suite, SuiteChoice, MAX_DURATION_VAR, PERCENTILE_VAR, PROFILES,
    PROFILE_VAR, STALL_TIMEOUT_VAR, SUITE_VAR,
};
pub use units::{TailLatency, Utilization, UtilizationSource};

/// Environment variable that lets a suite with some failed configurations exit 0.
pub const ALLOW_FAILURES_VAR: &str = "INFERBENCH_ALLOW_FAILURES";

/// The bench's `main`: runs the suite the environment chooses, or says why not and
/// exits with status 2 before anything is measured. A configuration that could not
/// be measured makes it exit 1 after the others ran, unless
/// `INFERBENCH_ALLOW_FAILURES=1` and at least one was measured.
pub fn main_from_env() -> std::process::ExitCode {
    let refuse = |message: String| {
        eprintln!("error: {message}");
        std::process::ExitCode::from(2)
    };
    let choice = match SuiteChoice::from_env() {
        Ok(choice) => choice,
        Err(e) => return refuse(e.to_string()),
    };
    let allow = match std::env::var(ALLOW_FAILURES_VAR).ok().as_deref() {
        None | Some("") | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return refuse(format!(
                "{ALLOW_FAILURES_VAR}='{other}': expected 1 (or 0, or unset)"
            ))
        }
    };
    let limits = match limits_from_env() {
        Ok(limits) => limits,
        Err(e) => return refuse(e.to_string()),
    };
    match choice.load().and_then(|suite| suite.within(limits)) {
        Ok(suite) => {
            let selection = Selection::from_process_args();
            match check_selection(&suite, &selection) {
                Ok(()) => failures_status(&run_suite(&suite, &selection), &suite, allow),
                Err(e) => refuse(e),
            }
        }
        // Name the file for errors inside it (an axis, a field), not for the conflict.
        Err(e) if choice.file.is_some() && choice.profile.is_none() => {
            refuse(format!("{}: {e}", choice.describe()))
        }
        Err(e) => refuse(e.to_string()),
    }
}

/// The exit status of a suite that ran, from the benchmarks that could not start.
fn failures_status(failed: &[NotMeasured], suite: &Suite, allow: bool) -> std::process::ExitCode {
    if failed.is_empty() {
        return std::process::ExitCode::SUCCESS;
    }
    let configs = suite.configs.len();
    let failed_configs = failed
        .iter()
        .map(|f| f.id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    eprintln!("[inferbench] {} benchmark(s) not measured:", failed.len());
    for f in failed {
        eprintln!("  {}/{}: {}", f.id, f.measurement, f.why);
    }
    if allow && failed_configs < configs {
        eprintln!(
            "[inferbench] {failed_configs} of {configs} configurations failed (allowed by {ALLOW_FAILURES_VAR}=1)"
        );
        return std::process::ExitCode::SUCCESS;
    }
    let hint = match allow {
        true => " (none was measured)",
        false => "; INFERBENCH_ALLOW_FAILURES=1 accepts a partial suite",
    };
    eprintln!(
        "error: {failed_configs} of {configs} configurations of suite '{}' could not be measured{hint}",
        suite.spec.name
    );
    std::process::ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_configurations_fail_the_suite_unless_allowed_and_some_were_measured() {
        let text = "model = \"spin:1ms\"\nimage_size = 8\nbatch_sizes = [1, 2]\nworkers = [1]\n";
        let spec = crate::sweep::spec::SweepSpec::from_toml(text, "test", Some("two")).unwrap();
        let suite = Suite::from_spec(spec).unwrap();
        assert_eq!(suite.configs.len(), 2);
        let failed = |ids: &[&str]| -> Vec<NotMeasured> {
            ids.iter()
                .map(|id| NotMeasured {
                    id: id.to_string(),
                    measurement: "time".into(),
                    why: "no".into(),
                })
                .collect()
        };
        let success = std::process::ExitCode::SUCCESS;
        assert_eq!(failures_status(&[], &suite, false), success);
        let one = failed(&["a"]);
        assert_ne!(failures_status(&one, &suite, false), success);
        assert_eq!(failures_status(&one, &suite, true), success);
        let both = failed(&["a", "b"]);
        assert_ne!(
            failures_status(&both, &suite, true),
            success,
            "nothing measured"
        );
    }
}
