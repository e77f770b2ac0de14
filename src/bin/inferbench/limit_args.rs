//! `--max-duration` and `--stall-timeout`: the time limits of every subcommand that
//! runs the pipeline (`ab` passes them on to each of its runs), read by one
//! [`RunLimits::from_flags`].

use clap::Args;
use inferbench::config::limits::RunLimits;

/// How long a run may take, and how long it may go without progress.
#[derive(Args, Clone, Default)]
pub struct LimitArgs {
    /// Wall-clock limit of a run, e.g. 30s, 10m, 2h (in a sweep or a curve: of each
    /// run; in serve-windows: of each window); a configuration that cannot end
    /// within it is refused before it starts [default: 10m].
    #[arg(long)]
    pub max_duration: Option<String>,
    /// Time without a response (calibrate: without a forward returning) after which
    /// the pipeline counts as stalled, e.g. 5s [default: 20 × the slowest warm-up
    /// response, at least 2s].
    #[arg(long)]
    pub stall_timeout: Option<String>,
}

impl LimitArgs {
    /// The limits these flags give.
    pub fn limits(&self) -> anyhow::Result<RunLimits> {
        Ok(RunLimits::from_flags(
            self.max_duration.as_deref(),
            self.stall_timeout.as_deref(),
        )?)
    }

    /// The flags as given (none for a default), for a child process's command line.
    pub fn given(&self) -> Vec<String> {
        let flags = [
            ("--max-duration", &self.max_duration),
            ("--stall-timeout", &self.stall_timeout),
        ];
        flags
            .into_iter()
            .filter_map(|(flag, value)| Some([flag.to_string(), value.clone()?]))
            .flatten()
            .collect()
    }
}
