//! Runs as child processes: `PROGRAM run --json --quiet --no-bare --out TMP FLAGS`,
//! one fresh process per run, so that each round starts cold the same way on both
//! sides (allocator, thread pools, page cache of the weights) and neither side
//! inherits the other's state. Only `run --json`'s report is relied on, so the base
//! can be any revision whose `run` has these flags.

use std::process::Command;

use super::procedure::{run_ab, Job, MeasureRun, RunBlocks};
use super::program::{check_job, scratch_dir, split_args, Program, DEFAULT_RUN};
use super::{AbOptions, AbReport, Measurement, Side};
use crate::error::{Error, Result};

/// Runs configurations with two programs as child processes.
pub struct ChildRuns {
    base: Program,
    head: Program,
    configs: Vec<Vec<String>>,
    /// Private folder for the children's results files, removed on drop.
    scratch: tempfile::TempDir,
}

impl ChildRuns {
    /// Checks that both programs exist and no configuration sets a reserved flag.
    pub fn new(base: Program, head: Program, configs: Vec<Vec<String>>) -> Result<Self> {
        check_job(&base, &head, &configs)?;
        Ok(Self {
            base,
            head,
            configs,
            scratch: scratch_dir()?,
        })
    }

    fn command(&self, config: usize, side: Side) -> Command {
        let program = match side {
            Side::Base => &self.base,
            Side::Head => &self.head,
        };
        let mut cmd = Command::new(&program.path);
        cmd.args(["run", "--json", "--quiet", "--no-bare", "--out"])
            .arg(self.scratch.path().join("runs.jsonl"))
            .args(&self.configs[config])
            .args(&program.extra_args);
        cmd
    }
}

impl MeasureRun for ChildRuns {
    fn measure(&mut self, config: usize, side: Side) -> Result<Measurement> {
        let mut cmd = self.command(config, side);
        let shown = format!("{cmd:?}");
        let output = cmd
            .output()
            .map_err(|e| Error::Ab(format!("cannot start {shown}: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(Error::Ab(format!(
                "the {} run failed ({}): {shown}\n{}",
                side.name(),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
            Error::Ab(format!(
                "{shown} printed no JSON report ({e}); is it an inferbench binary with `run --json`?"
            ))
        })?;
        Ok(Measurement::from_report_json(&report))
    }
}

/// How the runs of a job are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Servers taking turns ([`super::windows`]): each block starts both sides'
    /// servers and measures this many A B B A rounds of windows.
    Windows {
        /// A B B A rounds per block.
        rounds: u32,
    },
    /// A fresh `run --json` process per run; a block is this many A B B A rounds.
    Processes {
        /// A B B A rounds per block.
        rounds: u32,
    },
}

impl RunMode {
    /// Rounds per block when none are given: 8 for servers (a block's start-up
    /// costs about two windows' worth, spread over 32 windows), 1 for processes
    /// (each run pays its own start-up anyway).
    pub fn new(process_per_run: bool, rounds: Option<u32>) -> Result<Self> {
        if rounds == Some(0) {
            return Err(Error::config(
                "block-rounds",
                "0: a block needs at least one A B B A round",
            ));
        }
        Ok(if process_per_run {
            RunMode::Processes {
                rounds: rounds.unwrap_or(1),
            }
        } else {
            RunMode::Windows {
                rounds: rounds.unwrap_or(8),
            }
        })
    }
}

/// Compares `head` with `base` on each configuration (`run` flags as one string
/// each; none given means [`DEFAULT_RUN`]), as servers or processes as `mode` says.
pub fn compare_programs(
    base: Program,
    head: Program,
    runs: &[String],
    mode: RunMode,
    options: &AbOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<AbReport> {
    options.validate()?;
    let defaults = [DEFAULT_RUN.to_string()];
    let runs = if runs.is_empty() { &defaults[..] } else { runs };
    let configs = runs
        .iter()
        .map(|r| split_args(r))
        .collect::<Result<Vec<_>>>()?;
    let job = Job {
        run_args: runs,
        base: base.describe(),
        head: head.describe(),
    };
    match mode {
        RunMode::Windows { rounds } => {
            let mut servers = super::windows::WindowServers::new(base, head, configs, rounds)?;
            run_ab(&job, &mut servers, options, progress)
        }
        RunMode::Processes { rounds } => {
            let runs = ChildRuns::new(base, head, configs)?;
            run_ab(&job, &mut RunBlocks { runs, rounds }, options, progress)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_missing_program_is_named() {
        let missing = Program {
            path: PathBuf::from("/nonexistent/inferbench"),
            extra_args: vec![],
        };
        let err = ChildRuns::new(missing.clone(), missing, vec![vec![]])
            .err()
            .expect("a missing program is refused")
            .to_string();
        assert!(err.contains("/nonexistent/inferbench"), "{err}");
    }
}
