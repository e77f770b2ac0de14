//! What a documented command must satisfy, by what it runs: `inferbench` arguments
//! parse (the binary with `INFERBENCH_PARSE_ONLY=1`); a `cargo` command names benches,
//! tests, binaries and features that exist; a script exists, is executable and
//! accepts the flags given; a Kubernetes or Docker command names files and objects
//! that are in deploy/.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use super::markdown::root;
use super::shell::{split_words, Command};

/// The binary's paths as the docs write them.
const INFERBENCH: &[&str] = &[
    "inferbench",
    "scripts/inferbench",
    "target/release/inferbench",
    "./target/release/inferbench",
    "./bin/inferbench",
];

/// Commands the docs may use without a rule of their own (not this project's),
/// space-separated.
const OTHER: &str = "git cd cp mkdir ls cat head tail echo export tar scp ssh rsync curl wrk diff \
    grep sort less xdg-open nvidia-smi pip sed awk wc rm mv time chromium valgrind";

/// Environment variables of the system or of tools, not read by this project,
/// space-separated.
const FOREIGN_ENV: &str = "LD_LIBRARY_PATH PYTHONPATH OMP_WAIT_POLICY GOMP_SPINCOUNT RUST_LOG \
    CUDA_VISIBLE_DEVICES CRITERION_HOME XDG_CACHE_HOME";

/// What a check found a command to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Ran through the CLI's parser.
    Parsed,
    Cargo,
    Script,
    Deploy,
    /// Allowed without a check (git, cd, …).
    Other,
    /// Shown failing in the docs (a `console` block with an error), and refused.
    Refused,
}

/// What the checks need to know about the repository and the docs.
pub struct Context {
    pub bin: PathBuf,
    /// Cargo.toml's features.
    pub features: BTreeSet<String>,
    /// File names of the TOML files shown in the docs (`# NAME.toml` on their first line).
    pub toml_names: BTreeSet<String>,
    /// The names given to objects in deploy/k8s/*.yaml (`name: X`).
    pub k8s_names: BTreeSet<String>,
    /// The text of src/, benches/ and scripts/, for environment variables.
    pub source: String,
}

impl Context {
    pub fn new(toml_names: BTreeSet<String>) -> Self {
        let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml parses");
        let features = manifest["features"]
            .as_table()
            .expect("Cargo.toml has features")
            .keys()
            .cloned()
            .collect();
        let mut k8s_names = BTreeSet::new();
        for file in files_under(&root().join("deploy/k8s")) {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for line in text.lines() {
                if let Some(name) = line.trim().strip_prefix("name: ") {
                    k8s_names.insert(name.trim().trim_matches('"').to_string());
                }
            }
        }
        let mut source = String::new();
        for dir in ["src", "benches", "scripts"] {
            for file in files_under(&root().join(dir)) {
                source.push_str(&std::fs::read_to_string(file).unwrap_or_default());
            }
        }
        Context {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_inferbench")),
            features,
            toml_names,
            k8s_names,
            source,
        }
    }

    /// Checks one command; the error says what is wrong with it.
    pub fn check(&self, cmd: &Command) -> Result<Kind, String> {
        self.check_env(cmd)?;
        let words: Vec<&str> = cmd.words.iter().map(String::as_str).collect();
        let (first, args) = words.split_first().expect("a command has a word");
        let first = *first;
        if INFERBENCH.contains(&first) {
            return self.parses(args).map(|()| Kind::Parsed);
        }
        match first {
            "cargo" => self.cargo(args),
            "bash" | "sh" if args.first().is_some_and(|a| a.ends_with(".sh")) => {
                self.script(args[0], &args[1..], false)
            }
            "python3" | "python" | ".venv/bin/python" | ".venv/bin/python3" => self.python(args),
            "docker" | "kubectl" => self.deploy(first, args).map(|()| Kind::Deploy),
            _ if first.starts_with("scripts/") || first.starts_with("./") => {
                self.script(first, args, true)
            }
            _ if words_of(OTHER).any(|w| w == first) => Ok(Kind::Other),
            _ => Err(format!(
                "no rule for the command '{first}': add one to tests/docs/checks.rs"
            )),
        }
    }

    /// The CLI accepts these arguments (clap's parse only: nothing runs).
    pub fn parses(&self, args: &[&str]) -> Result<(), String> {
        let out = Process::new(&self.bin)
            .args(args)
            .env("INFERBENCH_PARSE_ONLY", "1")
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first: Vec<&str> = err
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(3)
                .collect();
            return Err(format!(
                "inferbench refuses the arguments: {}",
                first.join(" / ")
            ));
        }
        match args.first() {
            Some(&"ab") => self.ab_runs(&args[1..]),
            Some(&"sweep") => match flag_values(args, "--config").first() {
                Some(path) => self.known_file(path),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// `ab`'s configurations are `run` flags (`--run`, with `--base-args` or
    /// `--head-args` added): each side's flags must parse as `run`'s.
    fn ab_runs(&self, args: &[&str]) -> Result<(), String> {
        let mut runs = flag_values(args, "--run");
        if runs.is_empty() {
            runs.push(String::new()); // ab's default configuration
        }
        let sides = [
            flag_values(args, "--base-args"),
            flag_values(args, "--head-args"),
        ];
        for run in &runs {
            for side in &sides {
                let mut words = vec!["run".to_string()];
                words.extend(split_words(run)?);
                for extra in side {
                    words.extend(split_words(extra)?);
                }
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                self.parses(&words)
                    .map_err(|e| format!("ab's configuration {words:?}: {e}"))?;
            }
        }
        Ok(())
    }

    /// A file a command reads: in the repository, or shown in the docs.
    fn known_file(&self, path: &str) -> Result<(), String> {
        let name = Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().to_string());
        if root().join(path).exists() || name.is_some_and(|n| self.toml_names.contains(&n)) {
            Ok(())
        } else {
            Err(format!("'{path}' is neither in the repository nor a TOML file shown in the docs (`# {path}` on its first line)"))
        }
    }

    /// The environment prefix: the project's variables exist and hold valid values.
    fn check_env(&self, cmd: &Command) -> Result<(), String> {
        for (name, value) in &cmd.env {
            if words_of(FOREIGN_ENV).any(|w| w == name) {
                continue;
            }
            if !contains_word(&self.source, name) {
                return Err(format!("{name}: no script, bench or source file reads it"));
            }
            match name.as_str() {
                "INFERBENCH_PROFILE"
                    if !root().join(format!("benches/suites/{value}.toml")).exists() =>
                {
                    return Err(format!(
                        "INFERBENCH_PROFILE={value}: no benches/suites/{value}.toml"
                    ));
                }
                "INFERBENCH_SUITE" => self.known_file(value)?,
                "INFERBENCH_PERCENTILE"
                    if !["mean", "p50", "p90", "p95", "p99", "p99.9"].contains(&value.as_str()) =>
                {
                    return Err(format!("INFERBENCH_PERCENTILE={value}: not a percentile"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

pub(crate) fn words_of(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.split_whitespace()
}

/// `word` occurs in `text` with no letter, digit, `-` or `_` right after it.
pub(crate) fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let next = text[i + word.len()..].chars().next();
        !next.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

/// `(flag, value)` for every `--flag value` and `--flag=value` in `args`.
pub(crate) fn flag_pairs<'a>(args: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if let Some((flag, value)) = arg.split_once('=').filter(|(f, _)| f.starts_with('-')) {
            out.push((flag, value));
        } else if arg.starts_with('-') {
            if let Some(value) = args.get(i + 1) {
                out.push((arg, value));
            }
        }
    }
    out
}

/// Every value given to `flag` (repeatable).
pub(crate) fn flag_values(args: &[&str], flag: &str) -> Vec<String> {
    flag_pairs(args)
        .into_iter()
        .filter(|(f, _)| *f == flag)
        .map(|(_, v)| v.to_string())
        .collect()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
