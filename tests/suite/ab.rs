//! `inferbench ab` end to end on the spin model, whose forward busy-waits a known
//! time, so the true ratio of two spins is known.
//!
//! Windows are 10 requests and blocks 2 rounds (`--block-rounds 2`), so that a block
//! of servers taking turns lasts about 2 s and a test settles in well under a minute.
//! The spins are 20 ms rather than 5 ms: on a loaded machine a busy-wait ends late
//! when its thread is off the CPU at the deadline, a delay of a scheduler slice
//! whatever the spin's length; against 20 ms that overshoot blurs the known ratio
//! four times less than against 5 ms. The tests run one at a time (a lock), since
//! two A/B jobs side by side would each be the other's load.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn inferbench() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_inferbench"))
}

fn ab(program: &Path, args: &[&str]) -> Output {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(program)
        .arg("ab")
        .args(args)
        .output()
        .expect("run the inferbench binary")
}

/// An A/B of two spin times on one binary, judged on throughput and mean latency;
/// returns the exit code and the JSON report.
fn spin_ab(base: &str, head: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let base_args = format!("--model spin:{base}");
    let head_args = format!("--model spin:{head}");
    let mut args = vec![
        "--run",
        "--iters 10",
        "--block-rounds",
        "2",
        "--base-args",
        &base_args,
        "--head-args",
        &head_args,
        "--figures",
        "throughput,mean",
        "--json",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let out = ab(&inferbench(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"));
    (out.status.code().expect("exited"), report)
}

/// The change (fraction) of one figure: point, lower, upper, and its verdict.
fn figure(report: &serde_json::Value, name: &str) -> (f64, f64, f64, String) {
    let f = report["configurations"][0]["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["figure"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"));
    let c = &f["change"];
    let num = |k: &str| c[k].as_f64().unwrap_or_else(|| panic!("no interval: {f}"));
    (
        num("point"),
        num("lower"),
        num("upper"),
        f["verdict"].as_str().unwrap().to_string(),
    )
}

/// The known answer of a spin change, as the range of the true relative change of a
/// figure. On a quiet machine it is the spin's ratio. On a loaded one a busy-wait
/// ends late when its thread is off the CPU at the deadline, and a forward that was
/// preempted past its deadline absorbs part or all of a longer spin: the load dilutes
/// the change (it was measured at half its size under a load average of 17), so the
/// true change lies between none and the spin's ratio.
fn truth(base_ms: f64, head_ms: f64, name: &str) -> (f64, f64) {
    let exact = head_ms / base_ms;
    match name {
        // Time per request goes up by the ratio; throughput by its inverse.
        "throughput" => (1.0 / exact - 1.0, 0.0),
        _ => (0.0, exact - 1.0),
    }
}

/// Asserts the interval of `name` reaches the range of true changes. A 95 % interval
/// misses the truth one run in twenty by design (it did once in CI: +3.17 % [+3.02,
/// +3.30] for a 3 % spin), so the tests that check coverage ask for 99 % intervals.
fn assert_holds_truth(report: &serde_json::Value, base_ms: f64, head_ms: f64, name: &str) {
    let (point, lower, upper, _) = figure(report, name);
    let (lo, hi) = truth(base_ms, head_ms, name);
    assert!(
        lower <= hi && lo <= upper,
        "{name}: {point:+.4} [{lower:+.4}, {upper:+.4}] misses the true change [{lo:+.4}, {hi:+.4}]"
    );
}

#[test]
fn the_same_spin_on_both_sides_is_within_noise() {
    // A 5 % threshold: the machine's load, not the tool, decides how small a
    // threshold an A/A run on it can hold (the statistics' false-alarm rate is
    // tested on synthetic data in the library). At 99 % confidence an interval
    // misses the true change of 0 in 1 run of 100, whatever the code does. Missing
    // it by more than the interval's own width is some 7 standard errors off with
    // 8 blocks: not chance but a biased comparison, so that is the bound (two
    // figures asserted to hold 0 at 95 % would fail about 1 run in 10).
    let (code, report) = spin_ab(
        "20ms",
        "20ms",
        &[
            "--threshold",
            "5",
            "--min-blocks",
            "8",
            "--max-blocks",
            "8",
            "--confidence",
            "99",
        ],
    );
    for name in ["throughput", "mean"] {
        let (point, lower, upper, verdict) = figure(&report, name);
        assert_eq!(verdict, "within_noise", "{name}: {report}");
        let width = upper - lower;
        assert!(
            lower <= width && -width <= upper,
            "{name}: {point} [{lower}, {upper}] is further from 0 than its width"
        );
    }
    assert_eq!(code, 0);
}

/// A change that no load dilutes below the threshold. A 10 % slower spin (20 → 22
/// ms) is not one: with a CPU hog on each core the worker runs in scheduler slices,
/// both spins end in the same slice, and the served throughput really was 1.9 %
/// apart (43.2 and 42.5 samples/s); the tool said "within noise", rightly. 50 %
/// is several slices apart; the 3 % test below covers a change the load can hide.
#[test]
fn a_half_again_slower_spin_is_a_regression_of_that_size() {
    let (code, report) = spin_ab(
        "20ms",
        "30ms",
        &[
            "--max-time",
            "120s",
            "--confidence",
            "99",
            "--min-blocks",
            "8",
        ],
    );
    assert_eq!(code, 1, "a regression exits 1: {report}");
    for name in ["throughput", "mean"] {
        let (point, lower, upper, verdict) = figure(&report, name);
        assert_eq!(verdict, "regressed", "{name}: {point} [{lower}, {upper}]");
        assert_holds_truth(&report, 20.0, 30.0, name);
    }
}

/// On a quiet machine this settles as a regression within a minute. On a loaded one
/// (each run's overshoot varying by several %) 90 s may not suffice to call 3 %; the
/// run must then still not call it an improvement, and its interval must hold the
/// truth, which says it could not have called it reliably (a change of threshold +
/// twice the half-width is the one it would catch nearly always).
#[test]
fn a_three_percent_slower_spin_is_a_regression_or_an_interval_that_holds_it() {
    let (code, report) = spin_ab(
        "20ms",
        "20.6ms",
        &[
            "--threshold",
            "1",
            "--max-time",
            "90s",
            "--confidence",
            "99",
            "--min-blocks",
            "8",
        ],
    );
    for name in ["throughput", "mean"] {
        let (point, lower, upper, verdict) = figure(&report, name);
        assert_ne!(verdict, "improved", "{name}: {point} [{lower}, {upper}]");
        assert_holds_truth(&report, 20.0, 20.6, name);
    }
    let regressed = report.to_string().contains("\"regressed\"");
    assert_eq!(code, if regressed { 1 } else { 0 }, "{report}");
}

#[test]
fn two_copies_of_one_binary_compare_as_base_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let (base, head) = (dir.path().join("base"), dir.path().join("head"));
    std::fs::copy(inferbench(), &base).unwrap();
    std::fs::copy(inferbench(), &head).unwrap();
    let json_dir = dir.path().join("gab");
    let out = ab(
        &head,
        &[
            "--base",
            base.to_str().unwrap(),
            "--head",
            head.to_str().unwrap(),
            "--run",
            "--model spin:20ms --iters 10",
            "--block-rounds",
            "1",
            "--threshold",
            "5",
            "--max-blocks",
            "6",
            "--json-dir",
            json_dir.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("spin:20ms-64px/bs1/eager/w1/shared/throughput"),
        "{stdout}"
    );
    assert!(
        stderr.contains("block 6:"),
        "progress per block on stderr: {stderr}"
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(json_dir.join(name)).unwrap()).unwrap()
    };
    let smaller = read("smaller_is_better.json");
    let names: Vec<&str> = smaller
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("/mean")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("/p99")), "{names:?}");
    let bigger = read("bigger_is_better.json");
    assert!(
        bigger[0]["extra"].as_str().unwrap().contains("vs base"),
        "{bigger}"
    );
}

#[test]
fn a_process_per_run_compares_the_same_way() {
    let (code, report) = spin_ab(
        "20ms",
        "20ms",
        &["--process-per-run", "--threshold", "5", "--max-blocks", "6"],
    );
    for name in ["throughput", "mean"] {
        let (point, lower, upper, verdict) = figure(&report, name);
        assert_eq!(
            verdict, "within_noise",
            "{name}: {point} [{lower}, {upper}]"
        );
    }
    // Six blocks of two A B B A rounds (spin_ab's --block-rounds 2).
    assert_eq!(report["configurations"][0]["pairs"], 24, "{report}");
    assert_eq!(code, 0);
}

/// The server side of windowed runs: one report line per "window" line, each a
/// fresh window of `--iters` requests; anything else is refused by name.
#[test]
fn a_window_server_answers_each_request_with_one_report() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut child = Command::new(inferbench())
        .args([
            "serve-windows",
            "--quiet",
            "--model",
            "spin:2ms",
            "--iters",
            "7",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        writeln!(stdin, "window").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let report: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(report["requests"], 7, "{report}");
        let throughput = report["throughput_samples_per_s"].as_f64().unwrap();
        // 7 forwards of at least 2 ms each: at most 500 a second.
        assert!(throughput > 0.0 && throughput <= 500.0, "{report}");
        assert!(report["bare_forward_samples_per_s"].is_null(), "{report}");
    }
    writeln!(stdin, "measure please").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("'measure please' is not a request"),
        "{stderr}"
    );
}

/// A base built before windowed A/B has no `serve-windows`: the error says so and
/// names the flag that compares it anyway.
#[test]
fn a_base_without_window_servers_is_named_with_the_way_out() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old-inferbench");
    std::fs::write(
        &old,
        "#!/bin/sh\necho \"error: unrecognized subcommand '$1'\" >&2\nexit 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ab(
        &inferbench(),
        &[
            "--base",
            old.to_str().unwrap(),
            "--run",
            "--model spin:1ms --iters 3",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no `serve-windows`") && stderr.contains("--process-per-run"),
        "{stderr}"
    );
}

/// Bad input exits 2 (could not compare), naming the problem, before or at the first run.
#[test]
fn bad_input_is_refused_by_name_with_exit_2() {
    let cases: [(&[&str], &str); 6] = [
        (&["--run", "--iters 5 --out x.jsonl"], "--out"),
        (
            &["--base", "/nonexistent/inferbench"],
            "/nonexistent/inferbench",
        ),
        (&["--figures", "p95"], "'p95'"),
        (&["--min-blocks", "3"], "min-blocks"),
        (&["--block-rounds", "0"], "block-rounds"),
        (
            &["--base-args", "--model nonsense", "--run", "--iters 1"],
            "nonsense",
        ),
    ];
    for (args, needle) in cases {
        let out = ab(&inferbench(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?} should name {needle}: {stderr}"
        );
    }
}
