//! The command line on good and bad input: each bad input exits non-zero with an
//! error naming the problem, and leaves no line in the results file.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{inferbench, inferbench_ok, lines};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny-cnn")
}

/// A successful `run -q` of the checkpoint in `model_dir` at 16 px with `iters`
/// requests, results appended to `out`, plus `extra` flags.
fn run_checkpoint(model_dir: &Path, out: &Path, iters: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "-q",
        "--model-dir",
        model_dir.to_str().unwrap(),
        "--image-size",
        "16",
        "--iters",
        iters,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    inferbench_ok(&args)
}

/// Runs a tiny fixture run with `extra` flags and asserts it fails naming `needle`,
/// with nothing written to the results file.
fn assert_refused(extra: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let mut args = vec![
        "run",
        "-q",
        "--image-size",
        "16",
        "--iters",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let result = inferbench(&args);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{extra:?} succeeded");
    assert!(
        stderr.contains(needle),
        "{extra:?}: stderr does not name '{needle}':\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{extra:?} panicked:\n{stderr}"
    );
    assert_eq!(lines(&out), 0, "{extra:?} wrote a results line");
}

#[test]
fn good_run_appends_exactly_one_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/runs.jsonl");
    let fixture = fixture();
    for _ in 0..2 {
        let result = run_checkpoint(&fixture, &out, "10", &[]);
        let stdout = String::from_utf8_lossy(&result.stdout);
        for label in [
            "torch load time",
            "Warmup latency",
            "Average latency",
            "Percentiles",
            "Throughput",
            "pipeline efficiency",
        ] {
            assert!(stdout.contains(label), "summary lacks {label}:\n{stdout}");
        }
    }
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2);
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("each line is one JSON record");
        assert_eq!(v["requests"], 10);
    }
}

#[test]
fn missing_model_dir_says_how_to_make_one() {
    assert_refused(&["--model-dir", "/nonexistent/model"], "init-model");
}

#[test]
fn corrupt_checkpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture().join("model.json"), dir.path().join("model.json")).unwrap();
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"not a safetensors file",
    )
    .unwrap();
    assert_refused(
        &["--model-dir", dir.path().to_str().unwrap()],
        "corrupt checkpoint",
    );
}

#[test]
fn checkpoint_of_the_wrong_shape_is_corrupt() {
    // A resnet18 model.json over tiny-cnn weights: the tensors the model needs are missing.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture().join("model.safetensors"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("model.json"),
        r#"{"format":"inferbench-checkpoint-v1","arch":"resnet18","seed":0}"#,
    )
    .unwrap();
    assert_refused(
        &["--model-dir", dir.path().to_str().unwrap()],
        "corrupt checkpoint",
    );
}

#[test]
fn zero_batch_size_and_zero_workers_are_refused() {
    assert_refused(&["--model", "tiny-cnn", "--batch-size", "0"], "batch-size");
    assert_refused(&["--model", "tiny-cnn", "--workers", "0"], "workers");
}

#[test]
fn unknown_compile_mode_and_model_are_refused() {
    assert_refused(
        &["--model", "tiny-cnn", "--compile", "inductor"],
        "inductor",
    );
    assert_refused(&["--model", "resnet1000"], "unknown model 'resnet1000'");
    assert_refused(&["--model", "spin:1ms", "--compile", "torchscript"], "spin");
    assert_refused(
        &["--model", "tiny-cnn", "--arrival", "poisson"],
        "--arrival",
    );
}

#[test]
fn unwritable_results_folder_fails_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let out = blocker.join("runs.jsonl");
    let result = inferbench(&[
        "run",
        "-q",
        "--model",
        "tiny-cnn",
        "--image-size",
        "16",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(
        stderr.contains("cannot") && stderr.contains("runs.jsonl"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("measuring"),
        "it ran before finding the folder unwritable:\n{stderr}"
    );
}

#[test]
fn init_model_writes_a_loadable_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("tiny");
    inferbench_ok(&[
        "init-model",
        "--model",
        "tiny-cnn",
        "--out",
        ckpt.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    let ran = run_checkpoint(&ckpt, &dir.path().join("r.jsonl"), "5", &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert_eq!(v["model"]["weights"], "checkpoint");
    assert_eq!(v["model"]["arch"], "tiny-cnn");
    assert!(
        inferbench(&[
            "init-model",
            "--model",
            "spin:1ms",
            "--out",
            ckpt.to_str().unwrap()
        ])
        .status
        .code()
            != Some(0)
    );
}

#[test]
fn trace_has_a_line_per_measured_request_with_spin_wait_on() {
    let dir = tempfile::tempdir().unwrap();
    let (out, trace) = (
        dir.path().join("runs.jsonl"),
        dir.path().join("trace.jsonl"),
    );
    run_checkpoint(
        &fixture(),
        &out,
        "12",
        &[
            "--arrival",
            "concurrency:2",
            "--spin-wait",
            "2ms",
            "--trace",
            trace.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 12);
    for r in &records {
        let stages = r["stages_ns"].as_object().unwrap();
        let sum: u64 = stages.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(sum, r["latency_ns"].as_u64().unwrap(), "{r}");
        let compute = stages["compute"].as_u64().unwrap();
        assert_eq!(r["overhead_ns"].as_u64().unwrap(), sum - compute);
    }
    let report: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(report["config"]["backend"]["spin_wait_us"], 2000);
}

#[test]
fn bad_spin_wait_and_unwritable_trace_are_refused() {
    assert_refused(&["--spin-wait", "soon"], "spin-wait: 'soon'");
    assert_refused(
        &["--trace", "/proc/inferbench-no-such-dir/trace.jsonl"],
        "cannot write the trace",
    );
}

#[test]
fn bad_poisson_rates_are_refused() {
    assert_refused(&["--arrival", "poisson:fast"], "'fast' is not a rate");
    assert_refused(&["--arrival", "poisson:0"], "poisson rate 0");
    assert_refused(&["--arrival", "poisson:-5"], "poisson rate -5");
}

/// `inferbench calibrate -q` on the tiny CNN at 8 px, plus `extra`.
fn calibrate_tiny(extra: &[&str]) -> Output {
    let mut args = vec![
        "calibrate",
        "-q",
        "--model",
        "tiny-cnn",
        "--image-size",
        "8",
    ];
    args.extend_from_slice(extra);
    inferbench_ok(&args)
}

#[test]
fn calibrate_prints_one_line_per_thread_count_and_refuses_zero_threads() {
    let out = calibrate_tiny(&["--threads", "1,2", "--iters", "3", "--turns", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let first_word_is_a_count = |l: &&str| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.parse::<u32>().is_ok())
    };
    let rows: Vec<&str> = text.lines().filter(first_word_is_a_count).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].trim_start().starts_with('1') && rows[1].trim_start().starts_with('2'));
    // The speed-up is against the 1-thread point wherever it is listed (it was
    // against the first count, scaled as if that count had scaled perfectly).
    let out = calibrate_tiny(&["--threads", "2,1", "--iters", "3", "--turns", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("speed-up: against 1 thread, as measured"),
        "{text}"
    );
    let one = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(one.split_whitespace().rev().nth(1), Some("1.00"), "{text}");
    let out = calibrate_tiny(&["--threads", "3", "--iters", "3", "--turns", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("against 3 threads, the fewest measured"),
        "{text}"
    );
    assert!(!text.contains("3.00"), "not scaled as if perfect: {text}");
    let json = calibrate_tiny(&["--threads", "2", "--iters", "2", "--turns", "1", "--json"]);
    let points: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(points[0]["threads"], 2);
    assert!(points[0]["samples_per_s"].as_f64().unwrap() > 0.0);
    common::refused(
        &["calibrate", "-q", "--model", "tiny-cnn", "--threads", "0"],
        "threads",
    );
}
