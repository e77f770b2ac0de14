//! Runs as child processes: `PROGRAM run --json --quiet --no-bare --out TMP FLAGS`,
//! one fresh process per run, so that each round starts cold the same way on both
//! sides (allocator, thread pools, page cache of the weights) and neither side
//! inherits the other's state. Only `run --json`'s report is relied on, so the base
//! can be any revision whose `run` has these flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::procedure::{run_ab, Job, MeasureRun, RunBlocks};
use super::{AbOptions, AbReport, Measurement, Side};
use crate::error::{Error, Result};

/// Flags the child gets from this module; a configuration may not set them.
const RESERVED: [&str; 5] = ["--json", "--out", "--quiet", "-q", "--trace"];

/// One side: the program and the flags added to every one of its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The inferbench binary.
    pub path: PathBuf,
    /// Flags appended to every run of this side (e.g. `--model spin:5.15ms`).
    pub extra_args: Vec<String>,
}

impl Program {
    /// A side from the command line: a path (default: this executable) and its
    /// extra flags as one string.
    pub fn new(path: Option<PathBuf>, extra_args: &str) -> Result<Self> {
        Ok(Self {
            path: match path {
                Some(p) => p,
                None => this_program()?,
            },
            extra_args: split_args(extra_args)?,
        })
    }

    /// How the report names it: the path, and the extra flags if any.
    pub fn describe(&self) -> String {
        let mut s = self.path.display().to_string();
        if !self.extra_args.is_empty() {
            s.push(' ');
            s.push_str(&self.extra_args.join(" "));
        }
        s
    }
}

/// Splits a flag string the way a shell would for simple cases: on whitespace,
/// with '…' and "…" quoting (no escapes, no expansion).
pub fn split_args(text: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut quote: Option<char> = None;
    for ch in text.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(ch);
                current.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => args.extend(current.take()),
            (None, c) => current.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(Error::config("run", format!("unclosed {q} in '{text}'")));
    }
    args.extend(current);
    Ok(args)
}

/// Refuses flags that this module sets itself.
pub fn check_not_reserved(args: &[String], flag: &'static str) -> Result<()> {
    for arg in args {
        let name = arg.split('=').next().unwrap_or(arg);
        if RESERVED.contains(&name) {
            return Err(Error::config(
                flag,
                format!("'{arg}' is set by ab itself (each run writes JSON to a temporary file); leave it out"),
            ));
        }
    }
    Ok(())
}

/// `runs` (none given: [`DEFAULT_RUN`]) with `flags` added to each; a run that
/// sets one of those flags itself is refused, as its child would get it twice.
pub fn with_flags(runs: &[String], flags: &[String]) -> Result<Vec<String>> {
    let defaults = [DEFAULT_RUN.to_string()];
    let runs = if runs.is_empty() { &defaults[..] } else { runs };
    let names: Vec<&str> = flags
        .iter()
        .filter(|f| f.starts_with("--"))
        .map(String::as_str)
        .collect();
    let added: Vec<String> = flags
        .iter()
        .map(|f| match f.contains(char::is_whitespace) {
            true => format!("'{f}'"),
            false => f.clone(),
        })
        .collect();
    runs.iter()
        .map(|run| {
            let args = split_args(run)?;
            let name = |a: &String| a.split('=').next().unwrap_or(a).to_string();
            if let Some(dup) = args.iter().find(|a| names.contains(&name(a).as_str())) {
                return Err(Error::config(
                    "run",
                    format!(
                        "'{run}' sets {dup}, which ab's own flag gives every run; give it once"
                    ),
                ));
            }
            Ok([run.clone()]
                .into_iter()
                .chain(added.clone())
                .collect::<Vec<_>>()
                .join(" "))
        })
        .collect()
}

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
                match side {
                    Side::Base => "base",
                    Side::Head => "head",
                },
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

/// Checks that both programs exist and that no side's flags or configuration sets
/// a reserved flag.
pub fn check_job(base: &Program, head: &Program, configs: &[Vec<String>]) -> Result<()> {
    for (program, flag) in [(base, "base"), (head, "head")] {
        if !program.path.is_file() {
            return Err(Error::config(
                flag,
                format!(
                    "{} is not a file; give the path of an inferbench binary",
                    program.path.display()
                ),
            ));
        }
    }
    check_not_reserved(&base.extra_args, "base-args")?;
    check_not_reserved(&head.extra_args, "head-args")?;
    for c in configs {
        check_not_reserved(c, "run")?;
    }
    Ok(())
}

/// A private folder for the children's files, removed when dropped.
pub fn scratch_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("inferbench-ab-")
        .tempdir()
        .map_err(|e| Error::io("cannot create a folder in", std::env::temp_dir(), e))
}

/// The configuration compared when none is given: ResNet-18 at 32 px in windows of
/// 40 requests (0.15-0.3 s on two cores: longer than the CPU sampler's 100 ms
/// period, so every window has a CPU figure), so that a block lasts seconds, not
/// the minutes `run`'s 100 requests at 64 px would make it.
pub const DEFAULT_RUN: &str = "--model resnet18 --image-size 32 --iters 40";

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

/// The path of this executable, the default for both sides.
pub fn this_program() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::io("cannot locate this program", Path::new("."), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_split_like_a_shell_for_simple_cases() {
        assert_eq!(
            split_args("  --model spin:5ms   --iters 40 ").unwrap(),
            ["--model", "spin:5ms", "--iters", "40"]
        );
        assert_eq!(
            split_args("--model-dir 'my models/a' --x=\"b c\" ''").unwrap(),
            ["--model-dir", "my models/a", "--x=b c", ""]
        );
        assert!(split_args("").unwrap().is_empty());
        let err = split_args("--model 'spin").unwrap_err().to_string();
        assert!(err.contains("unclosed '"), "{err}");
    }

    #[test]
    fn reserved_flags_are_refused_by_name() {
        let args = split_args("--iters 5 --out=x.jsonl").unwrap();
        let err = check_not_reserved(&args, "run").unwrap_err().to_string();
        assert!(
            err.contains("--out=x.jsonl") && err.contains("run"),
            "{err}"
        );
        check_not_reserved(&split_args("--iters 5").unwrap(), "run").unwrap();
    }

    #[test]
    fn flags_are_added_to_every_run_and_never_twice() {
        let flags = ["--stall-timeout".to_string(), "5s".to_string()];
        let runs = with_flags(&[], &flags).unwrap();
        assert_eq!(runs, [format!("{DEFAULT_RUN} --stall-timeout 5s")]);
        let given = ["--iters 5".to_string()];
        assert_eq!(with_flags(&given, &[]).unwrap(), given);
        let twice = ["--iters 5 --stall-timeout=2s".to_string()];
        let err = with_flags(&twice, &flags).unwrap_err().to_string();
        assert!(err.contains("--stall-timeout=2s"), "{err}");
    }

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
