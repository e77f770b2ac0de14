//! Faults mid-run end the run, never hang it: the fault-injecting model
//! (`fail:<model>@N[:error|:panic|:hang]`) in `run` (both layouts, with and without
//! dynamic batching), `sweep` (recorded as failed, the sweep goes on) and `curve`;
//! absurd values refused up front; Ctrl-C.
//!
//! Every child is watched by [`bounded`]: one still running after [`HANG`] is killed
//! and the test fails, so a regression shows as a failure, not a hung test suite.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use inferbench::report::sweep::SweepData;

/// Far beyond any run here (a few seconds each): only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the inferbench binary")
}

/// Waits for `child`, killing it (and failing) if it is still running after [`HANG`].
fn bounded(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("poll the child").is_none() {
        if start.elapsed() > HANG {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} hung (killed after {HANG:?}):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn inferbench(args: &[&str]) -> Output {
    bounded(spawn(args), &format!("{args:?}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .map(|l| serde_json::from_str(l).expect("every line parses"))
                .collect()
        })
        .unwrap_or_default()
}

/// What the error of each fault kind says.
fn names_the_fault(kind: &str, err: &str) -> bool {
    match kind {
        "error" => err.contains("injected fault: forward 10 failed"),
        "panic" => err.contains("panicked: injected fault: forward 10"),
        // The worker holding the hung forward is named (after copy-in, in the dedicated
        // layout, which waits for the buffer that worker holds).
        _ => err.contains("stalled: no response") && err.contains("worker-0 (busy"),
    }
}

#[test]
fn each_fault_ends_the_run_in_both_layouts_with_and_without_dynamic_batching() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for kind in ["error", "panic", "hang"] {
        let model = format!("fail:spin:1ms@10:{kind}");
        for streams in ["shared", "dedicated"] {
            for batching in [
                &[][..],
                &["--max-batch-size", "4", "--batch-timeout", "1ms"],
            ] {
                let mut args = vec![
                    "run",
                    "-q",
                    "--model",
                    &model,
                    "--streams",
                    streams,
                    "--iters",
                    "40",
                    "--no-bare",
                    "--stall-timeout",
                    "1s",
                    "--out",
                    s(&out),
                ];
                args.extend_from_slice(batching);
                let result = inferbench(&args);
                let err = stderr(&result);
                assert_eq!(result.status.code(), Some(1), "{args:?}:\n{err}");
                assert!(names_the_fault(kind, &err), "{args:?}:\n{err}");
                if kind == "hang" {
                    let summary = String::from_utf8_lossy(&result.stdout);
                    assert!(
                        summary.starts_with("INCOMPLETE: the pipeline stalled"),
                        "{summary}"
                    );
                }
            }
        }
    }
    assert!(
        !out.exists(),
        "no failed or incomplete run leaves a results file"
    );
}

#[test]
fn keep_partial_appends_a_stalled_run_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let result = inferbench(&[
        "run",
        "-q",
        "--model",
        "fail:spin:1ms@20:hang",
        "--iters",
        "40",
        "--no-bare",
        "--stall-timeout",
        "1s",
        "--keep-partial",
        "--out",
        s(&out),
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    let incomplete = records[0]["incomplete"].as_str().unwrap();
    assert!(incomplete.contains("worker-0"), "{incomplete}");
    // 3 warm-up forwards, then requests up to the 19th forward came back.
    assert_eq!(records[0]["requests"], 16);
    // --json prints the partial report as JSON, as asked (it printed the text summary).
    let result = inferbench(&[
        "run",
        "-q",
        "--model",
        "fail:spin:1ms@20:hang",
        "--iters",
        "40",
        "--no-bare",
        "--stall-timeout",
        "1s",
        "--json",
        "--out",
        s(&out),
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    let report: serde_json::Value = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&result.stdout)));
    assert!(report["incomplete"].as_str().unwrap().contains("stalled"));
    assert_eq!(lines(&out).len(), 1, "not appended without --keep-partial");
}

fn write_sweep(dir: &Path, model: &str) -> std::path::PathBuf {
    let spec = dir.join(format!("{}.toml", model.replace([':', '@'], "-")));
    // One worker: 3 warm-up + 20 forwards, under the fault at 24; two workers: 5 + 20.
    std::fs::write(
        &spec,
        format!(
            "model = \"{model}\"\nimage_size = 8\niters = 20\nrepeats = 1\nbatch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1, 2]\nstreams = [\"shared\", \"dedicated\"]\n"
        ),
    )
    .unwrap();
    spec
}

#[test]
fn a_sweep_records_faulty_configurations_as_failed_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, says) in [
        ("panic", "panicked"),
        ("hang", "stalled"),
        ("error", "failed"),
    ] {
        let spec = write_sweep(dir.path(), &format!("fail:spin:1ms@24:{kind}"));
        let results = dir.path().join(format!("{kind}.jsonl"));
        // Half the grid fails: allowed here, so the sweep exits 0 (without the flag it
        // exits 1 after recording every configuration; tests/suite/cli_sweep.rs).
        let out = inferbench(&[
            "sweep",
            "-q",
            "--config",
            s(&spec),
            "--out",
            s(&results),
            "--allow-failures",
        ]);
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
        let data = SweepData::load(std::slice::from_ref(&results)).unwrap();
        assert_eq!(
            data.configs.len(),
            4,
            "{kind}: every configuration is recorded"
        );
        for c in &data.configs {
            let failed = c.error.as_deref();
            if c.config.backend.workers == 1 {
                assert_eq!(failed, None, "{kind}: {}", c.id);
            } else {
                assert!(
                    failed.is_some_and(|e| e.contains(says)),
                    "{kind}: {}: {failed:?}",
                    c.id
                );
            }
        }
    }
}

#[test]
fn a_curve_ends_with_the_fault_named() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["error", "panic", "hang"] {
        let model = format!("fail:spin:1ms@10:{kind}");
        let results = dir.path().join(format!("{kind}.jsonl"));
        let out = inferbench(&[
            "curve",
            "-q",
            "--model",
            &model,
            "--image-size",
            "8",
            "--iters",
            "30",
            "--rates",
            "200",
            "--max-batch-size",
            "2",
            "--batch-timeout",
            "1ms",
            "--out",
            s(&results),
        ]);
        assert_eq!(out.status.code(), Some(1), "{kind}");
        assert!(
            names_the_fault(kind, &stderr(&out)),
            "{kind}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn absurd_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for (extra, cause) in [
        (
            &["--model", "spin:1ms", "--arrival", "poisson:1e-9"][..],
            "requests/s",
        ),
        (&["--model", "spin:1000s"][..], "forwards of"),
        (
            &[
                "--model",
                "spin:1ms",
                "--max-batch-size",
                "8",
                "--batch-timeout",
                "1000000s",
            ][..],
            "batch timeout",
        ),
    ] {
        let mut args = vec!["run", "-q", "--out", s(&out)];
        args.extend_from_slice(extra);
        let result = inferbench(&args);
        let err = stderr(&result);
        assert_eq!(result.status.code(), Some(1), "{extra:?}");
        assert!(
            err.contains("--max-duration") && err.contains(cause),
            "{extra:?}: {err}"
        );
    }
    // The bound is --max-duration's: what a 1 h limit runs, a 100 ms one refuses.
    let allowed = inferbench(&[
        "run",
        "-q",
        "--model",
        "spin:20ms",
        "--iters",
        "10",
        "--no-bare",
        "--max-duration",
        "1h",
        "--out",
        s(&out),
    ]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    let refused = inferbench(&[
        "run",
        "-q",
        "--model",
        "spin:20ms",
        "--iters",
        "10",
        "--no-bare",
        "--max-duration",
        "100ms",
        "--out",
        s(&out),
    ]);
    assert!(
        stderr(&refused).contains("max-duration"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(lines(&out).len(), 1);
}

/// Starts `args`, waits for a stderr line containing `cue`, then sends SIGINT `times`
/// times, 100 ms apart.
fn interrupt_at(args: &[&str], cue: &str, times: usize) -> (Output, Vec<String>) {
    let mut child = spawn(args);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push(line.clone());
        if line.contains(cue) {
            break;
        }
        line.clear();
    }
    assert!(
        seen.last().is_some_and(|l| l.contains(cue)),
        "no '{cue}' in {seen:?}"
    );
    // Some responses come before the stop, so there is a partial run to show.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..times {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(100));
    }
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        for l in err.lines() {
            rest.push(l.unwrap());
        }
        rest
    });
    let out = bounded(child, &format!("{args:?} after Ctrl-C"));
    (out, reader.join().unwrap())
}

#[test]
fn ctrl_c_prints_the_partial_run_marked_incomplete_and_appends_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    for keep in [false, true] {
        let out = dir.path().join(format!("keep-{keep}.jsonl"));
        let mut args = vec![
            "run",
            "--model",
            "spin:2ms",
            "--iters",
            "100000",
            "--no-bare",
            "--out",
            s(&out),
        ];
        if keep {
            args.push("--keep-partial");
        }
        let (result, _) = interrupt_at(&args, "measuring", 1);
        assert_eq!(result.status.code(), Some(130));
        let summary = String::from_utf8_lossy(&result.stdout);
        assert!(
            summary.starts_with("INCOMPLETE: interrupted (Ctrl-C)"),
            "{summary}"
        );
        let records = lines(&out);
        if keep {
            assert_eq!(records.len(), 1);
            assert!(records[0]["incomplete"]
                .as_str()
                .unwrap()
                .contains("Ctrl-C"));
        } else {
            assert!(!out.exists(), "nothing appended without --keep-partial");
        }
    }
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    // The bare-forward loop (ten 300 ms forwards) does not stop at the first Ctrl-C.
    let (result, rest) = interrupt_at(
        &[
            "run",
            "--model",
            "spin:300ms",
            "--iters",
            "20",
            "--out",
            s(&out),
        ],
        "bare forward (1/2)",
        2,
    );
    assert_eq!(result.status.code(), Some(130));
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted again; exiting at once")),
        "{rest:?}"
    );
    assert!(!out.exists());
}

#[test]
fn ctrl_c_stops_a_sweep_between_configurations_keeping_every_finished_line() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("long.toml");
    std::fs::write(
        &spec,
        "model = \"spin:2ms\"\nimage_size = 8\niters = 150\nrepeats = 1\nbatch_sizes = [1, 2, 3, 4, 5, 6]\ncompile = [\"eager\"]\nworkers = [1]\n",
    )
    .unwrap();
    let results = dir.path().join("sweep.jsonl");
    let (result, rest) = interrupt_at(
        &["sweep", "--config", s(&spec), "--out", s(&results)],
        "configurations ×",
        1,
    );
    assert_eq!(result.status.code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted (Ctrl-C) after")),
        "{rest:?}"
    );
    let records = lines(&results);
    let configs = records.iter().filter(|r| r["kind"] == "config").count();
    assert!(
        configs < 6,
        "the sweep stopped early ({configs} configurations)"
    );
    assert!(
        records.iter().all(|r| r["status"] != "failed"),
        "{records:?}"
    );
}
