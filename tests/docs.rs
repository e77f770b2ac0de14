//! The docs cannot drift from the code: every command in README.md and docs/ is run
//! through the CLI's parser (`INFERBENCH_PARSE_ONLY=1`: clap parses, nothing runs) or
//! checked against what it names (cargo benches, tests and features; scripts and
//! their flags; deploy files); every TOML sweep file shown parses as a sweep
//! (`sweep --config FILE --dry-run`); every relative link resolves; and the README
//! stays short and names the test command CI runs.
//!
//! Conventions the docs follow so that this works: commands are in ```bash (or sh,
//! shell) blocks, one per line (`\` continues, `#` comments); in a ```console block a
//! command starts with `$ `, and one whose output starts with `error` must be refused;
//! a GitHub Actions ```yaml block's `run:` steps are commands too; a TOML file a command
//! reads by name says so on its first line (`# my-suite.toml`). Placeholders are real
//! example values (`--model torchscript:bert.pt`), so that they parse.

#[path = "docs/checks.rs"]
mod checks;
#[path = "docs/markdown.rs"]
mod markdown;
#[path = "docs/shell.rs"]
mod shell;
#[path = "docs/tools.rs"]
mod tools;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use checks::{Context, Kind};
use markdown::{root, Block};

/// The README is the five-minute tour; the rest is in docs/.
const README_MAX_LINES: usize = 250;

/// Fewer than this many checked commands means the extraction broke, not the docs.
const MIN_COMMANDS: usize = 60;

/// A command found in a block: where, its text, and whether the docs show it failing.
struct Found {
    line: usize,
    text: String,
    expect_error: bool,
}

/// The commands of a block, by its language (none for a block that holds no commands).
fn commands_of(block: &Block) -> Vec<Found> {
    let plain = |lines: &[String], offset: usize| -> Vec<Found> {
        shell::logical_lines(lines)
            .into_iter()
            .map(|(i, text)| Found {
                line: offset + i,
                text,
                expect_error: false,
            })
            .collect()
    };
    match block.lang.as_str() {
        "bash" | "sh" | "shell" => plain(&block.lines, block.line),
        "console" => console(block),
        "yaml" | "yml" => yaml_runs(block),
        _ => Vec::new(),
    }
}

/// `$ command` lines (continued by `\`); the lines after one are its output.
fn console(block: &Block) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let mut continuing = false;
    for (i, line) in block.lines.iter().enumerate() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Found {
                line: block.line + i,
                text: String::new(),
                expect_error: false,
            });
            continuing = true;
            append(out.last_mut().expect("pushed"), cmd, &mut continuing);
        } else if continuing {
            append(
                out.last_mut().expect("a command is open"),
                line,
                &mut continuing,
            );
        } else if let Some(last) = out.last_mut() {
            if line.trim_start().to_lowercase().starts_with("error") {
                last.expect_error = true;
            }
        }
    }
    fn append(found: &mut Found, line: &str, continuing: &mut bool) {
        let line = line.trim_end();
        *continuing = line.ends_with('\\');
        found.text.push_str(line.trim_end_matches('\\'));
        found.text.push(' ');
    }
    out
}

/// The `run:` steps of a GitHub Actions job: `run: cmd`, or a block scalar (`>` folds
/// its lines into one, `|` keeps them); `${{ expressions }}` read as one word.
fn yaml_runs(block: &Block) -> Vec<Found> {
    let mut out = Vec::new();
    let lines = &block.lines;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let key = line.trim_start().trim_start_matches("- ");
        let Some(value) = key.strip_prefix("run:") else {
            i += 1;
            continue;
        };
        let value = value.trim();
        let indent = line.len() - line.trim_start().len();
        let mut body = Vec::new();
        if value == ">" || value == "|" {
            while i + 1 < lines.len()
                && lines[i + 1].len() - lines[i + 1].trim_start().len() > indent
            {
                i += 1;
                body.push(lines[i].trim().to_string());
            }
        } else {
            body.push(value.to_string());
        }
        let body: Vec<String> = body.iter().map(|l| github_expressions(l)).collect();
        if value == ">" {
            out.push(Found {
                line: block.line + i,
                text: body.join(" "),
                expect_error: false,
            });
        } else {
            for (k, text) in shell::logical_lines(&body) {
                out.push(Found {
                    line: block.line + i + k,
                    text,
                    expect_error: false,
                });
            }
        }
        i += 1;
    }
    out
}

/// `${{ … }}` becomes `EXPR`, a plain word.
fn github_expressions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        out.push_str("EXPR");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Every page's fenced blocks.
fn all_blocks() -> Vec<Block> {
    markdown::pages()
        .iter()
        .flat_map(|page| markdown::blocks(page, &read(page)))
        .collect()
}

/// The TOML blocks' names (`# NAME.toml` on the first line), if they have one.
fn toml_name(block: &Block) -> Option<String> {
    let first = block.lines.first()?.trim().strip_prefix('#')?.trim();
    (first.ends_with(".toml") && !first.contains(' ')).then(|| first.to_string())
}

fn read(rel: &Path) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

fn context(blocks: &[Block]) -> Context {
    let names = blocks
        .iter()
        .filter(|b| b.lang == "toml")
        .filter_map(toml_name)
        .collect();
    Context::new(names)
}

/// Threads that check commands at once: each check starts the binary, and loading
/// libtorch, not the parse, is what takes the time.
const THREADS: usize = 4;

#[test]
fn every_documented_command_parses() {
    let blocks = all_blocks();
    let ctx = context(&blocks);
    let mut failures = Vec::new();
    // (where, the command, whether the docs show it failing)
    let mut todo = Vec::new();
    for block in &blocks {
        for found in commands_of(block) {
            let at = format!("{}:{}", block.page.display(), found.line);
            match shell::commands(&found.text) {
                Ok(cmds) => todo.extend(
                    cmds.into_iter()
                        .map(|c| (at.clone(), c, found.expect_error)),
                ),
                Err(e) => failures.push(format!("{at}: {}: {e}", found.text.trim())),
            }
        }
    }
    let results: Vec<Result<Kind, String>> = std::thread::scope(|s| {
        let chunks: Vec<_> = todo
            .chunks(todo.len().div_ceil(THREADS).max(1))
            .map(|chunk| {
                s.spawn(|| {
                    chunk
                        .iter()
                        .map(|(_, c, _)| ctx.check(c))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread"))
            .collect()
    });
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    for ((at, cmd, expect_error), result) in todo.iter().zip(results) {
        match (result, expect_error) {
            (Ok(kind), false) => *kinds.entry(kind).or_default() += 1,
            (Err(_), true) => *kinds.entry(Kind::Refused).or_default() += 1,
            (Ok(_), true) => failures.push(format!(
                "{at}: {}: the docs show an error, but the command is accepted",
                cmd.display()
            )),
            (Err(e), false) => failures.push(format!("{at}: {}\n    {e}", cmd.display())),
        }
    }
    let total: usize = kinds.values().sum();
    println!(
        "docs: {total} commands checked in {} pages: {kinds:?}",
        markdown::pages().len()
    );
    assert!(
        failures.is_empty(),
        "documented commands that do not hold:\n{}",
        failures.join("\n")
    );
    assert!(
        total >= MIN_COMMANDS,
        "only {total} commands found: is the extraction broken?"
    );
}

#[test]
fn every_documented_sweep_file_parses() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let bin = env!("CARGO_BIN_EXE_inferbench");
    let mut checked = 0;
    for (k, block) in all_blocks().iter().filter(|b| b.lang == "toml").enumerate() {
        let name = toml_name(block).unwrap_or_else(|| format!("block-{k}.toml"));
        let file = dir.path().join(&name);
        std::fs::write(&file, block.lines.join("\n")).expect("write the sweep file");
        let out = std::process::Command::new(bin)
            .args(["sweep", "--config"])
            .arg(&file)
            .arg("--dry-run")
            .current_dir(root())
            .output()
            .expect("run inferbench");
        assert!(
            out.status.success(),
            "{}:{}: the sweep file {name} does not parse:\n{}",
            block.page.display(),
            block.line,
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    println!("docs: {checked} TOML sweep files parsed (sweep --dry-run)");
    assert!(
        checked >= 2,
        "the sweep and suite files in the docs were not found"
    );
}

#[test]
fn every_relative_link_resolves() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for page in markdown::pages() {
        let text = read(&page);
        let dir = page.parent().unwrap_or(Path::new(""));
        for (line, target) in markdown::links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let at = format!("{}:{line}: ({target})", page.display());
            if !root().join(&file).exists() {
                failures.push(format!("{at}: no such file {}", file.display()));
            } else if !anchor.is_empty()
                && file.extension().is_some_and(|e| e == "md")
                && !markdown::anchors(&read(&file)).iter().any(|a| a == anchor)
            {
                failures.push(format!("{at}: no heading #{anchor} in {}", file.display()));
            }
        }
    }
    println!("docs: {checked} relative links checked");
    assert!(
        failures.is_empty(),
        "broken links:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_readme_is_short_and_its_test_command_is_what_ci_runs() {
    let readme = read(Path::new("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; the limit is {README_MAX_LINES}: move detail into docs/"
    );
    // The two commands at the very top: the main job, then the tests.
    let first = &markdown::blocks(Path::new("README.md"), &readme)[0];
    let words: Vec<String> = first
        .lines
        .iter()
        .flat_map(|l| shell::commands(l).expect("the README's first block parses"))
        .map(|c| c.words.join(" "))
        .collect();
    assert_eq!(
        words,
        ["scripts/bench.sh", "scripts/test.sh"],
        "the README's first block"
    );
    // .ci/run runs exactly the README's test command.
    let ci = read(Path::new(".ci/run"));
    let ci_commands: Vec<String> = ci
        .lines()
        .flat_map(|l| shell::commands(l).expect(".ci/run parses"))
        .map(|c| c.words.join(" "))
        .filter(|c| !c.starts_with("set ") && !c.starts_with("cd "))
        .collect();
    assert_eq!(
        ci_commands,
        ["exec scripts/test.sh"],
        ".ci/run must run the README's test command"
    );
}

#[test]
fn the_checks_can_fail() {
    // Each of these is wrong in one way; the check for that way must say so.
    let ctx = Context::new(BTreeSet::from(["my-suite.toml".to_string()]));
    let wrong = [
        "inferbench run --no-such-flag",
        "inferbench frobnicate",
        "cargo run --release -- run --iters many",
        "inferbench ab --run \"--model spin:5ms --no-such-flag\"",
        "inferbench sweep --config no-such-sweep.toml",
        "cargo bench --bench no_such_bench",
        "cargo test --release --test no_such_test",
        "cargo build --features no-such-feature",
        "cargo bench --bench pipeline -- --no-such-criterion-flag",
        "INFERBENCH_PROFILE=no-such-profile cargo bench --bench pipeline",
        "INFERBENCH_SUITE=other.toml cargo bench --bench pipeline",
        "INFERBENCH_NO_SUCH_VARIABLE=1 cargo bench --bench pipeline",
        "scripts/no-such-script.sh",
        "scripts/setup.sh --no-such-flag",
        "scripts/compare.sh --no-such-flag",
        "scripts/ab.sh main -- --run \"--workers many\"",
        "scripts/robustness.sh no-such-mode 3",
        "scripts/gpu/summarize.py results",
        "kubectl apply -f deploy/k8s/no-such.yaml",
        "kubectl logs job/no-such-job",
        "frobnicate --all",
    ];
    for text in wrong {
        let cmds = shell::commands(text).expect("splits");
        assert!(
            cmds.iter().any(|c| ctx.check(c).is_err()),
            "the check accepts a wrong command: {text}"
        );
    }
    let right = "INFERBENCH_SUITE=my-suite.toml cargo bench --bench pipeline -- --list";
    assert!(ctx
        .check(&shell::commands(right).expect("splits")[0])
        .is_ok());
}
