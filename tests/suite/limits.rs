//! `--max-duration` and `--stall-timeout` in every harness that runs the pipeline,
//! not only `run` (tests/suite/faults.rs): `sweep`, `curve`, `calibrate`, `serve-windows`
//! and `ab` each end a hung forward (`fail:spin:1ms@N:hang`) after the stall timeout
//! given, naming it, and refuse a configuration that cannot end within the
//! wall-clock limit before anything runs. The criterion suite's windows take the
//! same limits from the environment (tests/suite/bench_suite.rs).
//!
//! The stall timeout given (300 ms) is told apart from the derived one (at least
//! 2 s) by the error's words, not by a clock, so a slow machine cannot fail these.
//! Every child is killed after [`HANG`]: a harness that ignores the flags shows as a
//! failure, not as a hung test suite.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Far beyond any run here (a few seconds each): only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);

/// What a stall after the given timeout says (the derived one is at least 2 s).
const STALLED: &str = "no response for 300 ms";

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .stdin(Stdio::piped())
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

/// `inferbench args` with `stdin` as its input; its exit code and stderr.
fn inferbench_with(args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = spawn(args);
    let mut input = child.stdin.take().unwrap();
    // A child that exits early closes its end; what it did not read does not matter.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = bounded(child, &format!("{args:?}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn inferbench(args: &[&str]) -> (Option<i32>, String) {
    inferbench_with(args, "")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts the harness exited with `code` and said every one of `needles`.
fn ended(result: (Option<i32>, String), code: i32, needles: &[&str], what: &str) {
    let (status, err) = result;
    assert_eq!(status, Some(code), "{what}:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "{what}: no '{needle}' in:\n{err}");
    }
}

#[test]
fn a_sweep_records_a_stall_after_the_timeout_given_and_refuses_an_overlong_grid() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("hang.toml");
    // Two workers: 5 warm-up + 20 forwards reach the hang at 24.
    std::fs::write(
        &spec,
        "model = \"fail:spin:1ms@24:hang\"\nimage_size = 8\niters = 20\nrepeats = 1\n\
         batch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [2]\n",
    )
    .unwrap();
    let out = dir.path().join("sweep.jsonl");
    let args = ["sweep", "-q", "--config", s(&spec), "--out", s(&out)];
    let stalled = [&args[..], &["--stall-timeout", "300ms"]].concat();
    ended(inferbench(&stalled), 1, &["no configuration ran"], "sweep");
    let record = std::fs::read_to_string(&out).unwrap();
    assert!(record.contains(STALLED), "{record}");
    // 21 forwards of 1 ms cannot end within 10 ms: refused before anything is written.
    let refused = dir.path().join("refused.jsonl");
    let args = ["sweep", "-q", "--config", s(&spec), "--out", s(&refused)];
    let short = [&args[..], &["--max-duration", "10ms"]].concat();
    ended(
        inferbench(&short),
        1,
        &["max-duration", "forwards of"],
        "sweep",
    );
    assert!(!refused.exists(), "nothing is written for a refused sweep");
}

#[test]
fn a_curve_ends_at_the_stall_timeout_given_and_refuses_an_overlong_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("curve.jsonl");
    let curve = |extra: &[&str]| {
        let mut args = vec!["curve", "-q", "--image-size", "8", "--out", s(&out)];
        args.extend_from_slice(extra);
        inferbench(&args)
    };
    ended(
        curve(&[
            "--model",
            "fail:spin:1ms@10:hang",
            "--iters",
            "30",
            "--rates",
            "200",
            "--stall-timeout",
            "300ms",
        ]),
        1,
        &[STALLED],
        "curve",
    );
    ended(
        curve(&[
            "--model",
            "spin:1ms",
            "--iters",
            "1000",
            "--rates",
            "1",
            "--max-duration",
            "10s",
        ]),
        1,
        &["max-duration", "1000 requests at 1 requests/s"],
        "curve",
    );
}

#[test]
fn calibrate_ends_a_stalled_or_overlong_loop_and_refuses_one_that_cannot_fit() {
    // A 5 s forward: the stall timeout given ends the untimed first one.
    ended(
        inferbench(&[
            "calibrate",
            "-q",
            "--model",
            "spin:5s",
            "--iters",
            "1",
            "--turns",
            "1",
            "--threads",
            "1",
            "--stall-timeout",
            "1s",
            "--max-duration",
            "1h",
        ]),
        1,
        &["calibrate stalled: no forward returned for 1.0 s"],
        "calibrate",
    );
    // A million forwards of a real model: the wall-clock limit ends the loop.
    ended(
        inferbench(&[
            "calibrate",
            "-q",
            "--model",
            "tiny-cnn",
            "--image-size",
            "8",
            "--iters",
            "1000000",
            "--turns",
            "1",
            "--threads",
            "1",
            "--max-duration",
            "2s",
        ]),
        1,
        &["calibrate reached its time limit of 2.0 s"],
        "calibrate",
    );
    // Known before it starts: 2 counts × 3 turns × 51 forwards of 100 ms.
    ended(
        inferbench(&[
            "calibrate",
            "-q",
            "--model",
            "spin:100ms",
            "--iters",
            "50",
            "--threads",
            "1,2",
            "--max-duration",
            "2s",
        ]),
        1,
        &["max-duration", "306 forwards of 100 ms"],
        "calibrate",
    );
}

#[test]
fn serve_windows_ends_a_stalled_window_and_refuses_an_overlong_one() {
    let windows = "window\nwindow\nwindow\n";
    ended(
        inferbench_with(
            &[
                "serve-windows",
                "-q",
                "--model",
                "fail:spin:1ms@10:hang",
                "--iters",
                "10",
                "--stall-timeout",
                "300ms",
            ],
            windows,
        ),
        1,
        &[STALLED],
        "serve-windows",
    );
    ended(
        inferbench_with(
            &[
                "serve-windows",
                "-q",
                "--model",
                "spin:20ms",
                "--iters",
                "10",
                "--max-duration",
                "100ms",
            ],
            windows,
        ),
        1,
        &["max-duration", "forwards of 20 ms"],
        "serve-windows",
    );
}

#[test]
fn ab_passes_its_limits_to_every_run_of_both_modes_and_refuses_them_twice() {
    let hang = "--model fail:spin:1ms@8:hang --iters 10";
    for mode in [&[][..], &["--process-per-run"]] {
        let mut args = vec![
            "ab",
            "-q",
            "--run",
            hang,
            "--stall-timeout",
            "300ms",
            "--max-time",
            "60s",
        ];
        args.extend_from_slice(mode);
        ended(inferbench(&args), 2, &[STALLED], &format!("ab {mode:?}"));
    }
    ended(
        inferbench(&[
            "ab",
            "-q",
            "--run",
            "--model spin:20ms --iters 10",
            "--max-duration",
            "100ms",
        ]),
        2,
        &["max-duration", "forwards of 20 ms"],
        "ab",
    );
    ended(
        inferbench(&[
            "ab",
            "-q",
            "--run",
            "--model spin:1ms --stall-timeout 1s",
            "--stall-timeout",
            "300ms",
        ]),
        2,
        &["sets --stall-timeout", "give it once"],
        "ab",
    );
}
