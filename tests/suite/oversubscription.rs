//! More compute threads than cores is said, not run silently: the run's summary
//! warns, its report and a sweep's records carry `oversubscribed: true`, and a
//! sweep's summary counts them. Thread counts are derived from this machine's cores,
//! so the test means the same on any machine.

use crate::common;

use common::{inferbench_ok, s};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn a_run_with_more_compute_threads_than_cores_warns_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let over = (cores() + 1).to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--model",
            "tiny-cnn",
            "--image-size",
            "8",
            "--iters",
            "5",
            "--no-bare",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        inferbench_ok(&args)
    };
    let summary = run(&["--intra-op-threads", &over]);
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains(&format!(
            "WARNING: oversubscribed: {over} compute threads (1 worker(s) × {over} a forward) on {} cores",
            cores()
        )),
        "{text}"
    );
    let json = run(&["--intra-op-threads", &over, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["oversubscribed"], true);
    assert_eq!(report["compute_threads"], cores() + 1);

    // Within the cores: no warning, false. The spin model busy-waits on one thread
    // whatever the intra-op threads, so only its workers count.
    let fits = run(&["--intra-op-threads", "1"]);
    assert!(!String::from_utf8_lossy(&fits.stdout).contains("oversubscribed"));
    let spin = inferbench_ok(&[
        "run",
        "--model",
        "spin:100us",
        "--image-size",
        "8",
        "--iters",
        "5",
        "--no-bare",
        "--intra-op-threads",
        &over,
        "--json",
        "--out",
        s(&out),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&spin.stdout).unwrap();
    assert_eq!(
        (
            report["compute_threads"].as_u64(),
            &report["oversubscribed"]
        ),
        (Some(1), &serde_json::Value::Bool(false))
    );
}

#[test]
fn a_sweep_marks_oversubscribed_configurations_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("threads.toml");
    std::fs::write(
        &spec,
        format!(
            "model = \"tiny-cnn\"\nimage_size = 8\niters = 5\nrepeats = 1\nbatch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\nintra_op_threads = [1, {}]\n",
            cores() + 1
        ),
    )
    .unwrap();
    let results = dir.path().join("sweep.jsonl");
    let out = inferbench_ok(&["sweep", "--config", s(&spec), "--out", s(&results)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 configuration(s) ran more compute threads than the"),
        "{err}"
    );
    let data = inferbench::report::sweep::SweepData::load(std::slice::from_ref(&results)).unwrap();
    let marked: Vec<bool> = data.configs.iter().map(|c| c.oversubscribed).collect();
    assert_eq!(marked, [false, true]);
}
