//! Output paths never replace or mix into a file they should not: `--trace` over the
//! results file or over a file that is not a trace, `--out` onto a file that is not
//! a results file, and `report` on a full disk (a failed write names the file and
//! the cause and leaves no temporary file behind).

use crate::common;

use std::path::Path;

use common::{inferbench, inferbench_ok, lines, refused, s};

/// A fast run of the spin model writing results to `out`, with `extra` flags.
fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "-q",
        "--model",
        "spin:200us",
        "--image-size",
        "8",
        "--iters",
        "10",
        "--no-bare",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_trace_never_replaces_the_results_file_or_a_file_that_is_not_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let other = dir.path().join("other.jsonl");
    inferbench_ok(&run_args(s(&results), &[]));
    assert_eq!(lines(&results), 1);
    let kept = std::fs::read_to_string(&results).unwrap();

    // The results file as the trace of another run: refused, the file untouched.
    refused(
        &run_args(s(&other), &["--trace", s(&results)]),
        "not a trace written by inferbench",
    );
    // The same file for both: refused whatever it holds, even with --force.
    for force in [&[][..], &["--force"][..]] {
        let mut extra = vec!["--trace", s(&results)];
        extra.extend_from_slice(force);
        refused(&run_args(s(&results), &extra), "also the results file");
    }
    let via_dot = dir.path().join(".").join("results.jsonl");
    refused(
        &run_args(s(&results), &["--trace", s(&via_dot)]),
        "also the results file",
    );
    assert_eq!(std::fs::read_to_string(&results).unwrap(), kept);
    assert!(!other.exists(), "a refused run writes no results");

    // A trace replaces a trace; --force replaces anything else.
    let trace = dir.path().join("trace.jsonl");
    inferbench_ok(&run_args(s(&other), &["--trace", s(&trace)]));
    inferbench_ok(&run_args(s(&other), &["--trace", s(&trace)]));
    assert_eq!(lines(&trace), 10);
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "keep me\n").unwrap();
    refused(
        &run_args(s(&other), &["--trace", s(&notes)]),
        "--force to replace it",
    );
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "keep me\n");
    inferbench_ok(&run_args(s(&other), &["--trace", s(&notes), "--force"]));
    let first = std::fs::read_to_string(&notes).unwrap();
    assert!(first.starts_with("{\"id\":"), "{first}");
}

#[test]
fn results_are_never_appended_to_a_file_that_is_not_a_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# notes\n").unwrap();
    refused(&run_args(s(&readme), &[]), "not a results file");
    let sweep = dir.path().join("s.toml");
    std::fs::write(
        &sweep,
        "model = \"spin:200us\"\nimage_size = 8\niters = 5\nrepeats = 1\nbatch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\n",
    )
    .unwrap();
    refused(
        &["sweep", "-q", "--config", s(&sweep), "--out", s(&readme)],
        "not a results file",
    );
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "# notes\n");
}

/// Entries of `dir` whose name marks a temporary file.
fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.starts_with(".inferbench-"))
        .collect()
}

#[test]
fn a_report_on_a_full_disk_names_the_file_and_leaves_nothing_behind() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sweep/known.jsonl");
    // A full disk, without one: each file the report writes, in turn, is a link to
    // /dev/full, which takes no byte (ENOSPC), as a full file system does.
    for file in ["throughput_vs_batch.svg", "stages.svg", "report.md"] {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/full", dir.path().join(file)).unwrap();
        let out = inferbench(&[
            "report",
            "--input",
            fixture,
            "--out-dir",
            s(dir.path()),
            "--constraint",
            "throughput",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.contains(&format!("cannot write {}", s(&dir.path().join(file))))
                && err.contains("No space left on device"),
            "{file}: {err}"
        );
        assert!(!err.contains("pipeline failed"), "{file}: {err}");
        let left = temporary_files(dir.path());
        assert!(left.is_empty(), "{file}: left behind: {left:?}");
    }
}

#[test]
fn a_report_never_replaces_a_markdown_file_it_did_not_write() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sweep/known.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("report.md");
    std::fs::write(&notes, "# Our team's notes\n").unwrap();
    let args = [
        "report",
        "--input",
        fixture,
        "--out-dir",
        s(dir.path()),
        "--constraint",
        "throughput",
    ];
    refused(&args, "not a report written by inferbench");
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "# Our team's notes\n"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );
    // A report replaces a report.
    std::fs::remove_file(&notes).unwrap();
    inferbench_ok(&args);
    inferbench_ok(&args);
}
