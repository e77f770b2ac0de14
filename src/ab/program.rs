//! The two programs an A/B job compares and the flags each run gets: a side's binary
//! and extra flags ([`Program`]), the configurations as `run` flags (split like a
//! shell, [`split_args`]; [`DEFAULT_RUN`] when none is given; ab's own limits added,
//! [`with_flags`]), and the flags ab sets itself, which a configuration may not.
//! Both ways of running them (a process per run, servers taking turns) start here.

use std::path::{Path, PathBuf};

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
}
