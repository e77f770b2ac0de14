//! The instruction-count gate's comparison (scripts/iai_gate.py) on made-up
//! iai-callgrind summaries: it cannot pass on a baseline that says nothing, and it
//! fails when the run and the baseline do not list the same benches.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A summary.json as iai-callgrind 0.16 writes it, reduced to what the gate reads.
fn write_summary(dir: &Path, function: &str, id: &str, ir: u64) {
    let folder = dir.join(function).join(id);
    std::fs::create_dir_all(&folder).unwrap();
    let summary = serde_json::json!({
        "function_name": function,
        "id": id,
        "profiles": [{"summaries": {"total": {"summary": {"Callgrind": {"Ir": {
            "metrics": {"Both": [{"Int": ir}, {"Int": ir}]}
        }}}}}}]
    });
    std::fs::write(folder.join("summary.json"), summary.to_string()).unwrap();
}

fn gate(summaries: &Path, baseline: &Path, extra: &[&str]) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/iai_gate.py");
    Command::new("python3")
        .arg(script)
        .args(["--summaries", summaries.to_str().unwrap()])
        .args(["--baseline", baseline.to_str().unwrap()])
        .args(extra)
        .env_remove("IAI_ALLOW_NEW")
        .output()
        .expect("python3 runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_baseline_that_says_nothing_is_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let summaries = dir.path().join("summaries");
    write_summary(&summaries, "request_hop", "x64", 51_000);
    let baseline = dir.path().join("baseline.json");
    for (content, says) in [
        ("", "is empty"),
        ("{\"benches\": {\"request_hop.x64\": 51", "cut short"),
        ("{\"counts\": {}}", "no 'benches' table"),
        ("[1, 2]", "no 'benches' table"),
        ("{\"benches\": {}}", "lists no benches"),
        (
            "{\"benches\": {\"request_hop.x64\": 0}}",
            "zero or non-integer",
        ),
    ] {
        std::fs::write(&baseline, content).unwrap();
        let out = gate(&summaries, &baseline, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{content:?}: {all}");
        assert!(
            all.contains(says) && !all.contains("Traceback"),
            "{content:?}: {all}"
        );
        assert_eq!(all.trim().lines().count(), 1, "{content:?}: {all}");
    }
}

#[test]
fn the_run_and_the_baseline_must_list_the_same_benches() {
    let dir = tempfile::tempdir().unwrap();
    let summaries = dir.path().join("summaries");
    write_summary(&summaries, "request_hop", "x64", 51_000);
    write_summary(&summaries, "collector_record", "x64", 12_000);
    let baseline = dir.path().join("baseline.json");
    let both = r#"{"benches": {"request_hop.x64": 51000, "collector_record.x64": 12000}}"#;
    std::fs::write(&baseline, both).unwrap();
    assert_eq!(gate(&summaries, &baseline, &[]).status.code(), Some(0));

    // A bench of the baseline that did not run.
    let three = r#"{"benches": {"request_hop.x64": 51000, "collector_record.x64": 12000, "batcher_push.x64": 3000}}"#;
    std::fs::write(&baseline, three).unwrap();
    let missing = gate(&summaries, &baseline, &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("MISSING from the run"));

    // A bench that ran but is not in the baseline: fails unless allowed.
    std::fs::write(&baseline, r#"{"benches": {"request_hop.x64": 51000}}"#).unwrap();
    let new = gate(&summaries, &baseline, &[]);
    assert_eq!(new.status.code(), Some(1), "{}", text(&new));
    assert!(text(&new).contains("NEW: not in baseline"));
    assert_eq!(
        gate(&summaries, &baseline, &["--allow-new"]).status.code(),
        Some(0)
    );

    // And a real regression still fails: +10 % and +5100 instructions.
    write_summary(&summaries, "request_hop", "x64", 56_100);
    std::fs::write(&baseline, both).unwrap();
    let regressed = gate(&summaries, &baseline, &[]);
    assert_eq!(regressed.status.code(), Some(1));
    assert!(text(&regressed).contains("REGRESSED"));
}
