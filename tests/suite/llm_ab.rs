//! `inferbench llm-ab` end to end against two scripted servers (tests/suite/llm_server)
//! whose token timings are known: the same gaps between tokens, first tokens 30 ms
//! against 60 ms. So the head's TTFT is known to be twice the base's (+100 %) and
//! its TPOT equal; the differences are large against what a busy 2-core machine adds
//! (a few ms of lateness on either side), and the threshold (10 %) is far from both.
//!
//! Windows are 4 streams at a time without a warm-up, about 0.2 s each, so a job of
//! 6 blocks (24 windows) takes a few seconds. The jobs run one at a time (a lock):
//! two side by side would each be the other's load.

use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::llm_server::{Scripted, Timing};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const FAST: Timing = Timing {
    ttft_ms: 30,
    gap_ms: 20,
};
const SLOW_FIRST: Timing = Timing {
    ttft_ms: 60,
    gap_ms: 20,
};

fn llm_ab(args: &[&str]) -> Output {
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .arg("llm-ab")
        .args(args)
        .output()
        .expect("run the inferbench binary")
}

/// The flags of a small, quick job between `base` and `head`, plus `extra`.
fn job(base: &Scripted, head: &Scripted, extra: &[&str]) -> Output {
    let (b, h) = (base.url(), head.url());
    let mut args = vec![
        "--base",
        &b,
        "--head",
        &h,
        "--model",
        "steady",
        "--iters",
        "4",
        "--arrival",
        "concurrency:4",
        "--input-len",
        "8",
        "--output-len",
        "6",
        "--warmup",
        "0",
        "--request-timeout",
        "10s",
        "--threshold",
        "10",
        "--max-blocks",
        "10",
        "--max-time",
        "60s",
    ];
    args.extend_from_slice(extra);
    llm_ab(&args)
}

fn figure<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["configurations"][0]["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .find(|f| f["figure"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn a_head_with_twice_the_ttft_regressed_and_equal_tpot_is_not_called_changed() {
    let (base, head) = (
        Scripted::with_timing(FAST),
        Scripted::with_timing(SLOW_FIRST),
    );
    let out = job(&base, &head, &["--json", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"));
    assert_eq!(out.status.code(), Some(1), "a regression exits 1: {stderr}");
    assert!(stderr.contains("regressed"), "{stderr}");
    for name in ["ttft-p50", "ttft-p99"] {
        let f = figure(&report, name);
        assert_eq!(f["verdict"], "regressed", "{f}");
        let point = f["change"]["point"].as_f64().unwrap();
        // Known: +100 %. Lateness on both sides pulls the ratio toward 1, never past 2.
        assert!(
            (0.5..=1.1).contains(&point),
            "{name}: {point:+.3} is not near +1.0 (60 ms / 30 ms): {f}"
        );
    }
    let tpot = figure(&report, "tpot-p50");
    assert_eq!(
        tpot["verdict"], "within_noise",
        "the gaps are equal: {tpot}"
    );
    let point = tpot["change"]["point"].as_f64().unwrap();
    assert!(point.abs() < 0.1, "TPOT equal on both, got {point:+.3}");
    // Slower first tokens, the same gaps: fewer requests and tokens per second.
    assert_eq!(figure(&report, "requests")["verdict"], "regressed");
    assert_eq!(figure(&report, "output-tokens")["verdict"], "regressed");
    // No goodput without bounds; nothing of the pipeline's.
    let names: Vec<&str> = report["configurations"][0]["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["figure"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "output-tokens",
            "requests",
            "ttft-p50",
            "ttft-p99",
            "tpot-p50",
            "tpot-p99",
            "e2e-p99"
        ]
    );
    assert_eq!(
        report["configurations"][0]["id"],
        "llm/steady/completions/concurrency:4"
    );
    // Both servers got the same requests: the probe's two, then 4 per window, as
    // many windows on each side.
    let (nb, nh) = (
        base.requests.load(Ordering::SeqCst),
        head.requests.load(Ordering::SeqCst),
    );
    assert_eq!(nb, nh);
    assert_eq!((nb - 2) % 8, 0, "{nb}: 2 + 4 per window, 2 windows a round");
}

#[test]
fn a_faster_head_improved_exits_0_and_the_table_says_so() {
    let (base, head) = (
        Scripted::with_timing(SLOW_FIRST),
        Scripted::with_timing(FAST),
    );
    let dir = tempfile::tempdir().unwrap();
    let json_dir = dir.path().join("bench");
    let out = job(
        &base,
        &head,
        &[
            "--goodput-ttft-ms",
            "100",
            "--json-dir",
            json_dir.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("llm/steady/completions/concurrency:4/{name} ")))
            .unwrap_or_else(|| panic!("no {name} row:\n{stdout}"))
            .to_string()
    };
    assert!(row("ttft-p50").ends_with("improved"), "{}", row("ttft-p50"));
    assert!(row("requests").ends_with("improved"), "{}", row("requests"));
    // Both sides meet a 100 ms bound: goodput is judged, as the rate of good requests.
    assert!(row("goodput").ends_with("improved"), "{}", row("goodput"));
    assert!(stderr.contains("[llm-ab] base window 1"), "{stderr}");
    let smaller = std::fs::read_to_string(json_dir.join("smaller_is_better.json")).unwrap();
    assert!(
        smaller.contains("llm/steady/completions/concurrency:4/ttft-p99"),
        "{smaller}"
    );
    let bigger = std::fs::read_to_string(json_dir.join("bigger_is_better.json")).unwrap();
    assert!(bigger.contains("/output-tokens"), "{bigger}");
}

/// The base's first tokens (60 ms) never meet 45 ms: its goodput is 0, which no
/// ratio can compare; the job says so rather than judging it.
#[test]
fn goodput_of_zero_on_one_side_fails_the_job_naming_it() {
    let (base, head) = (
        Scripted::with_timing(SLOW_FIRST),
        Scripted::with_timing(FAST),
    );
    let out = job(&base, &head, &["--goodput-ttft-ms", "45", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the base") && stderr.contains("goodput = 0"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no table for a job that failed");
}

#[test]
fn a_window_that_lost_requests_fails_the_job_naming_the_side_and_the_count() {
    let (base, head) = (Scripted::with_timing(FAST), Scripted::with_timing(FAST));
    // The head's model answers its first two requests (the probe), then fails.
    let out = job(&base, &head, &["--head-model", "fails-late", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "the head",
        &head.url(),
        "lost 4 of 4",
        "window 1",
        "4 failed",
        "HTTP 500",
    ] {
        assert!(stderr.contains(needle), "'{needle}' not in:\n{stderr}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_input_is_refused_naming_the_flag_and_an_unreachable_side_before_measuring() {
    let server = Scripted::with_timing(FAST);
    let url = server.url();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("openai://127.0.0.1:{}/v1", l.local_addr().unwrap().port())
    };
    let refused = |args: &[&str], needles: &[&str]| {
        let out = llm_ab(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: '{n}' not in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    };
    let m = ["--model", "steady", "--iters", "2", "--quiet"];
    let with = |base: &str, head: &str, more: &[&str]| -> Vec<String> {
        ["--base", base, "--head", head]
            .iter()
            .chain(&m)
            .chain(more)
            .map(|s| s.to_string())
            .collect()
    };
    let check = |args: Vec<String>, needles: &[&str]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, needles);
    };
    check(
        with("http://127.0.0.1:1", &url, &[]),
        &["base", "openai://"],
    );
    check(with(&url, "openai://127.0.0.1", &[]), &["head", "port"]);
    check(with(&url, &url, &[]), &["head", "--allow-same"]);
    check(
        with(&url, &closed, &["--head-model", "x,y"]),
        &["head-model"],
    );
    check(
        with(&url, &closed, &["--figures", "throughput"]),
        &["figures", "ttft-p99"],
    );
    check(
        with(&url, &closed, &["--figures", "goodput"]),
        &["figures", "--goodput-ttft-ms"],
    );
    check(
        with(&url, &closed, &["--no-stream", "--figures", "tpot-p99"]),
        &["figures", "--no-stream"],
    );
    check(
        with(&url, &closed, &["--confidence", "40"]),
        &["confidence"],
    );
    // The head is not there: the job fails naming it, after only the base's probe.
    let before = server.requests.load(Ordering::SeqCst);
    check(
        with(&url, &closed, &[]),
        &["head", &closed, "cannot be measured"],
    );
    assert_eq!(
        server.requests.load(Ordering::SeqCst) - before,
        2,
        "the base's probe only"
    );
    // The same server and model is an A/A job only when asked for.
    let out = llm_ab(&[
        "--base",
        &url,
        "--head",
        &url,
        "--model",
        "steady",
        "--iters",
        "2",
        "--warmup",
        "0",
        "--allow-same",
        "--min-blocks",
        "6",
        "--max-blocks",
        "6",
        "--threshold",
        "50",
        "--figures",
        "requests",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning") && err.contains("A/A"), "{err}");
}
