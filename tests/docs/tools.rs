//! The checks for what a command runs besides the CLI itself: `cargo` (benches,
//! tests, binaries and features that exist; criterion's flags), this project's
//! scripts (they exist, are executable and take the flags given; the ones that pass
//! flags on to `inferbench` have them parsed), Python scripts, and `docker` /
//! `kubectl` (the files and objects they name are in deploy/).

use std::path::Path;

use super::checks::{contains_word, flag_pairs, words_of, Context, Kind};
use super::markdown::root;

/// The GPU bundle's files (scripts/gpu-bundle.sh), as its docs name them on the GPU
/// machine, and where they come from here.
const BUNDLE: &[(&str, &str)] = &[
    ("./run-gpu-checks.sh", "scripts/gpu/run-gpu-checks.sh"),
    ("run-gpu-checks.sh", "scripts/gpu/run-gpu-checks.sh"),
    ("summarize.py", "scripts/gpu/summarize.py"),
    ("pytorch_reference.py", "scripts/gpu/pytorch_reference.py"),
];

/// Scripts whose first argument is a mode, and the modes they have.
const MODES: &[(&str, &[&str])] = &[
    ("scripts/baseline.sh", &["save", "import", "export"]),
    ("scripts/robustness.sh", &["faults", "kill-appends"]),
];

/// Criterion's own command-line flags (after `cargo bench … --`), space-separated.
const CRITERION_FLAGS: &str =
    "--list --test --bench --save-baseline --baseline --baseline-lenient \
    --load-baseline --discard-baseline --profile-time --noplot --sample-size \
    --warm-up-time --measurement-time --nresamples --noise-threshold \
    --confidence-level --significance-level --quick --exact --ignored --color \
    --verbose --quiet --format --plotting-backend --output-format";

/// The checks by tool (called from [`Context::check`]).
impl Context {
    pub(crate) fn cargo(&self, args: &[&str]) -> Result<Kind, String> {
        let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        let (before, after) = (&args[..split], args.get(split + 1..).unwrap_or(&[]));
        let sub = before
            .iter()
            .find(|a| !a.starts_with('-') && !a.starts_with('+'))
            .ok_or("cargo without a subcommand")?;
        let known = [
            "build", "test", "bench", "run", "check", "clippy", "doc", "fmt", "install", "update",
        ];
        if !known.contains(sub) {
            return Err(format!("cargo {sub}: not a cargo subcommand the docs know"));
        }
        if *sub == "install" {
            return Ok(Kind::Cargo);
        }
        let mut bin = "inferbench".to_string();
        for (flag, value) in flag_pairs(before) {
            let exists = |p: String| root().join(&p).exists();
            let ok = match flag {
                "--bench" => exists(format!("benches/{value}.rs")),
                "--test" => {
                    exists(format!("tests/{value}.rs")) || exists(format!("tests/{value}/main.rs"))
                }
                "--example" => exists(format!("examples/{value}.rs")),
                "--bin" => {
                    bin = value.to_string();
                    value == "inferbench" || exists(format!("src/bin/{value}.rs"))
                }
                "--features" | "-F" => value
                    .split([',', ' '])
                    .filter(|f| !f.is_empty())
                    .all(|f| self.features.contains(f)),
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "cargo {sub} {flag} {value}: no such {}",
                    flag.trim_start_matches('-')
                ));
            }
        }
        match *sub {
            "run" if bin == "inferbench" => self.parses(after).map(|()| Kind::Parsed),
            "bench" => criterion_args(after).map(|()| Kind::Cargo),
            _ => Ok(Kind::Cargo),
        }
    }

    pub(crate) fn script(
        &self,
        path: &str,
        args: &[&str],
        needs_exec: bool,
    ) -> Result<Kind, String> {
        let rel = BUNDLE
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, here)| here.to_string())
            .unwrap_or_else(|| path.trim_start_matches("./").to_string());
        let file = root().join(&rel);
        let text = std::fs::read_to_string(&file).map_err(|_| format!("no script {rel}"))?;
        if needs_exec && !is_executable(&file) {
            return Err(format!("{rel} is not executable"));
        }
        let split = args.iter().position(|a| *a == "--");
        let (before, after) = match split {
            Some(i) => (&args[..i], &args[i + 1..]),
            None => (args, &[][..]),
        };
        match rel.as_str() {
            "scripts/inferbench" => return self.parses(args).map(|()| Kind::Parsed),
            "scripts/ab.sh" | "scripts/ab-calibration.sh" => {
                if split.is_some() {
                    self.parses(&[&["ab"], after].concat())?;
                }
                flags_in(&rel, &text, before)?;
                return Ok(Kind::Parsed);
            }
            "scripts/compare.sh" => {
                let own: Vec<&str> = before
                    .iter()
                    .copied()
                    .filter(|a| *a != "--no-run")
                    .collect();
                self.parses(&[&["compare"], &own[..]].concat())?;
                criterion_args(after)?;
                return Ok(Kind::Parsed);
            }
            "scripts/bench.sh" => return criterion_args(args).map(|()| Kind::Script),
            _ => {}
        }
        if let Some((_, modes)) = MODES.iter().find(|(s, _)| *s == rel) {
            match before.first() {
                Some(mode) if modes.contains(mode) => {}
                other => return Err(format!("{rel}: mode {other:?} is not one of {modes:?}")),
            }
            if rel == "scripts/baseline.sh" {
                return criterion_args(&before[1..]).map(|()| Kind::Script);
            }
        }
        flags_in(&rel, &text, before)?;
        Ok(Kind::Script)
    }

    pub(crate) fn python(&self, args: &[&str]) -> Result<Kind, String> {
        let script = args
            .iter()
            .find(|a| !a.starts_with('-'))
            .ok_or("python without a script")?;
        if matches!(args.first(), Some(&"-c" | &"-m")) {
            return Ok(Kind::Other);
        }
        let at = args.iter().position(|a| a == script).expect("found above");
        self.script(script, &args[at + 1..], false)
    }

    pub(crate) fn deploy(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        for (flag, value) in flag_pairs(args) {
            if flag == "-f" && !root().join(value).exists() {
                return Err(format!("{tool} -f {value}: no such file"));
            }
        }
        if tool == "kubectl" {
            let verb = args.first().copied().unwrap_or("");
            for (i, arg) in args.iter().enumerate() {
                let named = match arg.split_once('/') {
                    Some(("job" | "pod", name)) => Some(name),
                    _ if verb == "delete" && i == 2 && args[1] == "pod" => Some(*arg),
                    _ if verb == "cp" && i == 1 => arg.split_once(':').map(|(pod, _)| pod),
                    _ => None,
                };
                if let Some(name) = named.filter(|n| !self.k8s_names.contains(*n)) {
                    return Err(format!("kubectl: no object named {name} in deploy/k8s/"));
                }
            }
        }
        Ok(())
    }
}

/// Every flag given before `--` appears in the script's text (its option parsing or
/// its documented list).
fn flags_in(rel: &str, text: &str, args: &[&str]) -> Result<(), String> {
    for arg in args.iter().filter(|a| a.starts_with('-') && a.len() > 1) {
        let flag = arg.split('=').next().expect("split has a first part");
        if !contains_word(text, flag) {
            return Err(format!("{rel} does not take {flag}"));
        }
    }
    Ok(())
}

/// Arguments for criterion (after `cargo bench … --`): filters, and flags it has.
fn criterion_args(args: &[&str]) -> Result<(), String> {
    let args = args.strip_prefix(&["--"]).unwrap_or(args);
    match args
        .iter()
        .find(|a| a.starts_with('-') && !words_of(CRITERION_FLAGS).any(|f| f == **a))
    {
        Some(flag) => Err(format!("criterion has no flag {flag}")),
        None => Ok(()),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}
