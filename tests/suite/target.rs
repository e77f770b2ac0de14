//! `run --target` against `inferbench serve` started as a user starts it, over REST
//! and gRPC: the report's figures and the server's own agree on what was sent; a
//! target that refuses connections, an unknown model, server settings given with
//! `--target`, and a server killed mid-run each end with a clear error and no hang.

use crate::common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::served::serve;
use common::wire::{get, metric};
use common::{inferbench, s};

fn run_json(target: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let mut args = vec!["run", "-q", "--json", "--target", target, "--out", s(&out)];
    args.extend_from_slice(extra);
    let result = inferbench(&args);
    assert!(
        result.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(common::lines(&out), 1);
    serde_json::from_slice(&result.stdout).unwrap()
}

#[test]
fn a_served_model_is_measured_over_rest_and_grpc_with_the_servers_own_count() {
    let server = serve(&["--model", "spin:2ms", "--image-size", "8"]);
    for (target, extra) in [
        (server.http.as_str(), vec!["--arrival", "concurrency:2"]),
        (server.http.as_str(), vec!["--tensor-encoding", "json"]),
        (
            server.http.as_str(),
            vec!["--http2", "--arrival", "concurrency:3"],
        ),
        (
            server.grpc.as_str(),
            vec!["--arrival", "poisson:100", "--server-metrics", ""],
        ),
    ] {
        let mut extra = extra;
        let metrics = format!("{}/metrics", server.http.split("/v2").next().unwrap());
        if extra.last() == Some(&"") {
            extra.pop();
            extra.push(&metrics);
        }
        let mut args = vec!["--iters", "40"];
        args.extend(extra.iter().copied());
        let r = run_json(target, &args);
        assert_eq!(r["requests"], 40, "{target} {extra:?}");
        assert!(r["bare_forward_samples_per_s"].is_null());
        assert!(r["intra_op_threads"].is_null());
        let stages: Vec<&str> = r["stages_ms"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert!(
            stages.contains(&"round_trip") && !stages.contains(&"compute"),
            "{stages:?}"
        );
        // The server saw exactly the window's requests (the warm-up came before).
        let server_side = &r["target"]["server_metrics"];
        assert_eq!(server_side["requests"], 40.0, "{target}: {}", r["target"]);
        assert_eq!(server_side["failures"], 0.0);
        let compute = server_side["stages_ms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[0] == "compute")
            .map(|s| s[1].as_f64().unwrap())
            .unwrap();
        assert!(
            compute >= 2.0,
            "the spin model computes for 2 ms, the server says {compute}"
        );
    }
}

#[test]
fn a_target_that_is_not_there_or_lacks_the_model_is_named() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nobody = format!("http://127.0.0.1:{port}/v2/models/m");
    common::refused(
        &["run", "--target", &nobody, "--iters", "5"],
        "Connection refused",
    );
    let grpc = format!("grpc://127.0.0.1:{port}/m");
    common::refused(
        &["run", "--target", &grpc, "--iters", "5"],
        "cannot connect",
    );
    let server = serve(&["--model", "spin:1ms", "--image-size", "8"]);
    let wrong = server.http.replace("/models/m", "/models/other");
    common::refused(
        &["run", "--target", &wrong, "--iters", "5"],
        "unknown model 'other'",
    );
}

#[test]
fn the_servers_own_settings_are_refused_with_a_target() {
    let target = "http://127.0.0.1:9/v2/models/m";
    for (flag, value, needle) in [
        ("--workers", "2", "workers"),
        ("--compile", "torchscript", "compile"),
        ("--max-batch-size", "4", "max-batch-size"),
        ("--model", "tiny-cnn", "--model names an in-process model"),
        ("--image-size", "32", "--image-size"),
        ("--precision", "fp16", "precision"),
    ] {
        common::refused(&["run", "--target", target, flag, value], needle);
    }
    common::refused(&["run", "--target", "localhost:8000"], "http:// or grpc://");
    let usage = inferbench(&["run", "--connections", "2"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--target <URL>"));
}

#[test]
fn a_server_killed_mid_run_ends_the_run_with_what_it_measured() {
    let mut server = serve(&["--model", "spin:5ms", "--image-size", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let run = Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args([
            "run",
            "--target",
            &server.http,
            "--iters",
            "5000",
            "--arrival",
            "concurrency:1",
            "--out",
            s(&out),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it measure (the server has answered more than any warm-up), then take
    // the server away; 5,000 requests of 5 ms at concurrency 1 take 25 s at least.
    let addr = server
        .http
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let waited = Instant::now();
    while metric(
        &String::from_utf8_lossy(&get(addr, "/metrics").body),
        "nv_inference_request_success",
        "",
    ) < 100.0
    {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.child.kill().unwrap();
    let start = Instant::now();
    let out_of_run = run.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "the run hung after the server died"
    );
    let stdout = String::from_utf8_lossy(&out_of_run.stdout);
    let stderr = String::from_utf8_lossy(&out_of_run.stderr);
    assert_eq!(out_of_run.status.code(), Some(1), "{stderr}");
    assert!(stdout.starts_with("INCOMPLETE: "), "{stdout}");
    assert!(stderr.contains("of 5000 responses"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        common::lines(&out),
        0,
        "a cut run is not a result without --keep-partial"
    );
}

#[test]
fn a_sweep_a_curve_and_an_ab_job_measure_targets() {
    let server = serve(&[
        "--model",
        "spin:2ms",
        "--image-size",
        "8",
        "--batch-size",
        "2",
    ]);
    let other = serve(&["--model", "spin:2ms", "--image-size", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "name = \"net\"\niters = 20\nrepeats = 1\nbatch_sizes = [1, 2]\narrivals = [\"concurrency:1\", \"concurrency:2\"]\n").unwrap();
    let out = dir.path().join("sweep.jsonl");
    common::inferbench_ok(&[
        "sweep",
        "-q",
        "--config",
        s(&grid),
        "--target",
        &server.http,
        "--out",
        s(&out),
    ]);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["id"].is_string())
        .collect();
    assert_eq!(records.len(), 4, "{records:?}");
    assert!(records
        .iter()
        .all(|r| r["status"] == "ok" && r["id"].as_str().unwrap().starts_with("target/http/m/")));
    let workers = dir.path().join("workers.toml");
    std::fs::write(&workers, "workers = [1, 2]\n").unwrap();
    common::refused(
        &["sweep", "--config", s(&workers), "--target", &server.http],
        "workers",
    );
    let curve = dir.path().join("curve.jsonl");
    let result = common::inferbench_ok(&[
        "curve",
        "-q",
        "--target",
        &server.grpc,
        "--rates",
        "50,100",
        "--iters",
        "30",
        "--out",
        s(&curve),
    ]);
    assert!(
        String::from_utf8_lossy(&result.stdout).contains("100"),
        "a row per rate"
    );
    assert_eq!(common::lines(&curve), 2);
    let ab = inferbench(&[
        "ab",
        "-q",
        "--json",
        "--run",
        "--iters 20",
        "--base-args",
        &format!("--target {}", server.http),
        "--head-args",
        &format!("--target {}", other.http),
        "--block-rounds",
        "2",
        "--min-blocks",
        "6",
        "--max-blocks",
        "6",
        "--figures",
        "throughput",
    ]);
    assert!(
        matches!(ab.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&ab.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ab.stdout).unwrap();
    assert!(report.to_string().contains("throughput"), "{report}");
}

#[test]
fn a_folder_of_images_is_sent_to_a_server_that_decodes_them() {
    let server = serve(&[
        "--model",
        "tiny-cnn",
        "--image-size",
        "16",
        "--batch-size",
        "2",
        "--preprocess",
        "image",
        "--postprocess",
        "topk:3",
    ]);
    let dir = tempfile::tempdir().unwrap();
    for (k, rgb) in [[200u8, 10, 10], [10, 200, 10], [10, 10, 200]]
        .iter()
        .enumerate()
    {
        let img = image::RgbImage::from_pixel(24, 18, image::Rgb(*rgb));
        img.save(dir.path().join(format!("{k}.png"))).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
    let r = run_json(
        &server.http,
        &[
            "--images",
            s(dir.path()),
            "--batch-size",
            "2",
            "--iters",
            "10",
        ],
    );
    assert_eq!(
        (r["requests"].as_u64(), r["samples"].as_u64()),
        (Some(10), Some(20))
    );
    assert_eq!(r["model"]["inputs"][0], "image BYTES (encoded image files)");
    let server_side = &r["target"]["server_metrics"];
    let stages: Vec<&str> = server_side["stages_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert!(
        stages.contains(&"preprocess") && stages.contains(&"postprocess"),
        "{stages:?}"
    );
    let empty = tempfile::tempdir().unwrap();
    common::refused(
        &["run", "--target", &server.http, "--images", s(empty.path())],
        "no .jpg, .jpeg or .png files",
    );
    common::refused(
        &["run", "--target", &server.http, "--iters", "5"],
        "--images DIR",
    );
}

/// Requests in flight reach the server together over one gRPC channel or one HTTP/2
/// connection (they multiplex) and over one HTTP/1.1 connection each: a batcher that
/// waits for 4 requests forms batches of 4, where requests sent one at a time would
/// each wait out its long timeout alone.
#[test]
fn requests_in_flight_reach_the_server_together_on_every_protocol() {
    let server = serve(&[
        "--model",
        "spin:1ms",
        "--image-size",
        "8",
        "--max-batch-size",
        "4",
        "--batch-timeout",
        "2s",
    ]);
    for (target, extra) in [
        (server.grpc.as_str(), vec![]),
        (server.http.as_str(), vec!["--http2"]),
        (server.http.as_str(), vec![]),
    ] {
        let mut args = vec![
            "--iters",
            "8",
            "--arrival",
            "concurrency:4",
            "--warmup",
            "3",
        ];
        args.extend(extra.iter().copied());
        let metrics = format!("{}/metrics", server.http.split("/v2").next().unwrap());
        args.extend(["--server-metrics", metrics.as_str()]);
        let r = run_json(target, &args);
        let m = &r["target"]["server_metrics"];
        let batch = m["samples"].as_f64().unwrap() / m["forwards"].as_f64().unwrap();
        assert!(
            (batch - 4.0).abs() < 1e-9,
            "{target} {extra:?}: mean forward batch {batch}, not 4"
        );
    }
}

#[test]
fn a_polling_server_and_client_answer_every_request_and_still_stop_on_a_signal() {
    // Under --spin-wait each request's network task polls for its answer
    // (serve::polling): every request must still be answered and counted once, and
    // the server must still stop.
    let mut server = serve(&[
        "--model",
        "spin:2ms",
        "--image-size",
        "8",
        "--spin-wait",
        "50ms",
    ]);
    let metrics = format!("{}/metrics", server.http.split("/v2").next().unwrap());
    for target in [server.http.clone(), server.grpc.clone()] {
        #[rustfmt::skip]
        let r = run_json(&target, &["--iters", "40", "--spin-wait", "50ms", "--server-metrics", &metrics]);
        assert_eq!(r["requests"], 40, "{target}");
        assert_eq!(r["target"]["server_metrics"]["requests"], 40.0, "{target}");
        assert_eq!(r["target"]["server_metrics"]["failures"], 0.0, "{target}");
    }
    let pid = server.child.id().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the polling server did not stop within a minute of SIGINT"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
