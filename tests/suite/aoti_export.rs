//! `--compile aot-inductor` when its Python or its cache misbehave: an interpreter
//! without torch, or one that fails and prints nothing, is named with where it came
//! from (`INFERBENCH_PYTHON`); Ctrl-C during the export is an interruption (exit
//! 130), not a failed export with pieces of a traceback; a cache entry that does not
//! load is discarded and made again instead of failing every later run.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::s;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// An executable shell script at `dir/name`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `run` of tiny-cnn compiled ahead of time, with its cache in `cache` and the
/// exporting interpreter `python` (the build's venv when `None`).
fn aot_run(cache: &Path, python: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inferbench"));
    cmd.env("INFERBENCH_CACHE_DIR", cache)
        .args([
            "run",
            "-q",
            "--model",
            "tiny-cnn",
            "--image-size",
            "8",
            "--compile",
            "aot-inductor",
            "--iters",
            "5",
            "--no-bare",
            "--json",
            "--out",
        ])
        .arg(cache.join("runs.jsonl"));
    match python {
        Some(p) => cmd.env("INFERBENCH_PYTHON", p),
        None => cmd.env_remove("INFERBENCH_PYTHON"),
    };
    cmd
}

fn failed_with(out: &Output, code: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "no '{needle}' in:\n{err}");
    }
}

#[test]
fn a_python_that_cannot_export_is_named_with_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let no_torch = script(
        dir.path(),
        "no-torch",
        "echo 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1",
    );
    let out = aot_run(dir.path(), Some(&no_torch)).output().unwrap();
    let named = format!("INFERBENCH_PYTHON={}", s(&no_torch));
    failed_with(&out, 1, &[&named, "has no torch"]);
    let silent = script(dir.path(), "silent", "exit 3");
    let out = aot_run(dir.path(), Some(&silent)).output().unwrap();
    let named = format!("INFERBENCH_PYTHON={}", s(&silent));
    failed_with(&out, 1, &[&named, "exit status: 3 and printed nothing"]);
    assert_eq!(common::lines(&dir.path().join("runs.jsonl")), 0);
}

#[test]
fn ctrl_c_during_the_export_is_an_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    // A Python that says it started and then waits as a long export would, so that
    // Ctrl-C lands in it (and raises KeyboardInterrupt there).
    let python = repo().join(".venv/bin/python");
    let slow = script(
        dir.path(),
        "slow-export",
        &format!(
            "exec {} -c \"import time; open('{}', 'w').close(); time.sleep(60)\"",
            python.display(),
            started.display()
        ),
    );
    // Its own process group, as a shell gives a foreground job: Ctrl-C goes to the
    // whole group, inferbench and the Python it started.
    let child = aot_run(dir.path(), Some(&slow))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the export never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200)); // Python reaches its sleep
                                                    // SAFETY: signals the process group just started, whose leader is the child.
    assert_eq!(unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    failed_with(&out, 130, &["interrupted"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("KeyboardInterrupt") && !err.contains("invalid configuration"),
        "{err}"
    );
}

#[test]
fn a_cache_entry_that_does_not_load_is_made_again() {
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        let out = aot_run(cache.path(), None).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (report, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (first, _) = run();
    assert_eq!(first["model"]["compile_cache"]["hit"], false);
    // Cut the cached package short, as a full disk or a crash would have.
    let entries: Vec<PathBuf> = std::fs::read_dir(cache.path().join("aoti"))
        .unwrap()
        .map(|e| e.unwrap().path().join("model.pt2"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let whole = std::fs::read(&entries[0]).unwrap();
    std::fs::write(&entries[0], &whole[..whole.len() / 2]).unwrap();
    // Every later run used to fail, advising to rebuild the package with torch.
    let (again, _) = run();
    assert_eq!(again["model"]["compile_cache"]["hit"], false, "made again");
    let (third, _) = run();
    assert_eq!(third["model"]["compile_cache"]["hit"], true);
}
