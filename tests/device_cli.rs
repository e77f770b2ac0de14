//! `--device` and `--precision` from the command line. The GPU path is checked for
//! what a machine without a GPU can check: asking for one fails before anything is
//! written, with an error naming the cause (no CUDA build, no driver, no device),
//! and the CPU path runs in every precision libtorch supports there.

use std::path::Path;
use std::process::{Command, Output};

/// The CLI under test: cargo's, or `INFERBENCH_BIN` where the test executable runs
/// away from its build tree (the GPU bundle).
fn inferbench(args: &[&str]) -> Output {
    let bin = std::env::var("INFERBENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_inferbench").to_string());
    Command::new(bin)
        .args(args)
        .output()
        .expect("run the inferbench binary")
}

fn gpu_present() -> bool {
    tch::Cuda::is_available()
}

fn assert_refused_cleanly(result: &Output, out: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{what} succeeded without a GPU");
    assert!(
        stderr.contains("cuda:0"),
        "{what}: names the device: {stderr}"
    );
    let named = if cfg!(feature = "cuda") {
        stderr.contains("driver") || stderr.contains("libtorch")
    } else {
        stderr.contains("--features cuda")
    };
    assert!(named, "{what}: names the cause: {stderr}");
    assert!(!out.exists(), "{what} wrote {}", out.display());
}

#[test]
fn run_on_a_missing_gpu_exits_non_zero_naming_the_cause_and_writes_nothing() {
    if gpu_present() {
        return; // the refusal is what this machine cannot show
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results/runs.jsonl");
    let trace = dir.path().join("trace.jsonl");
    for device in ["cuda", "cuda:0"] {
        let result = inferbench(&[
            "run",
            "-q",
            "--model",
            "spin:1ms",
            "--iters",
            "3",
            "--device",
            device,
            "--out",
            out.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ]);
        assert_refused_cleanly(&result, &out, &format!("run --device {device}"));
        assert!(!trace.exists());
        assert!(
            !dir.path().join("results").exists(),
            "created the results folder"
        );
    }
}

#[test]
fn curve_and_sweep_on_a_missing_gpu_write_nothing() {
    if gpu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("curve.jsonl");
    let result = inferbench(&[
        "curve",
        "-q",
        "--model",
        "spin:1ms",
        "--rates",
        "10",
        "--device",
        "cuda",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused_cleanly(&result, &out, "curve --device cuda");

    let spec = dir.path().join("gpu.toml");
    std::fs::write(
        &spec,
        "model = \"spin:1ms\"\nbatch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\ndevices = [\"cpu\", \"cuda\"]\n",
    )
    .unwrap();
    let out = dir.path().join("sweep.jsonl");
    let result = inferbench(&[
        "sweep",
        "-q",
        "--config",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_refused_cleanly(&result, &out, "sweep with a cuda axis");
}

#[test]
fn bad_device_and_precision_names_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for (flag, value, expected) in [
        ("--device", "gpu", "cuda:N"),
        ("--precision", "fp8", "fp16"),
    ] {
        let result = inferbench(&[
            "run",
            "-q",
            "--model",
            "spin:1ms",
            flag,
            value,
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success());
        assert!(
            stderr.contains(value) && stderr.contains(expected),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

/// CUDA graphs capture GPU kernels: on the CPU the mode is refused by name, for a
/// run and for a sweep whose compile axis names it, before anything is written;
/// without a GPU a cuda-graph run on `--device cuda` fails as any GPU run does.
#[test]
fn cuda_graph_is_refused_on_the_cpu_and_without_a_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    let out_arg = out.to_str().unwrap();
    let base = [
        "-q",
        "--model",
        "tiny-cnn",
        "--image-size",
        "16",
        "--compile",
        "cuda-graph",
    ];
    let result = inferbench(&[&["run"][..], &base, &["--out", out_arg]].concat());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(
        stderr.contains("compile: cuda-graph") && stderr.contains("--device cuda"),
        "{stderr}"
    );
    assert!(!out.exists());
    let grid = dir.path().join("grid.toml");
    std::fs::write(
        &grid,
        "name = \"graphs\"\nmodel = \"tiny-cnn\"\nimage_size = 16\ncompile = [\"eager\", \"cuda-graph\"]\n",
    )
    .unwrap();
    let result = inferbench(&["sweep", "--dry-run", "--config", grid.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "{stderr}");
    assert!(stderr.contains("cuda-graph"), "{stderr}");
    if !gpu_present() {
        let result =
            inferbench(&[&["run", "--device", "cuda"][..], &base, &["--out", out_arg]].concat());
        assert_refused_cleanly(&result, &out, "a cuda-graph run");
    }
}

/// libtorch on this CPU runs tiny-cnn in half and bfloat16: the run reports the
/// precision it ran (never a silent fp32) and the device it ran on.
#[test]
fn the_cpu_runs_every_precision_it_supports_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for precision in ["fp16", "bf16"] {
        let result = inferbench(&[
            "run",
            "-q",
            "--json",
            "--model",
            "tiny-cnn",
            "--image-size",
            "16",
            "--iters",
            "4",
            "--no-bare",
            "--precision",
            precision,
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(result.status.success(), "{precision}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
        assert_eq!(report["config"]["model"]["precision"], precision);
        assert_eq!(report["config"]["backend"]["device"], "cpu");
        assert_eq!(report["device"], "cpu");
        assert!(
            report["device_stages_ms"].is_null(),
            "the CPU has no timing events: absent, not zero"
        );
    }
}

/// On a GPU (the bundle's checks): every layout and precision runs, the responses'
/// device stage times and the limits are reported, and nothing is left absent that a
/// GPU can measure. Without a GPU there is nothing to check here.
#[test]
fn a_gpu_run_reports_device_times_limits_and_nvml_figures() {
    if !gpu_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    for layout in ["shared", "dedicated"] {
        for precision in ["fp32", "fp16"] {
            let result = inferbench(&[
                "run",
                "-q",
                "--json",
                "--device",
                "cuda",
                "--model",
                "resnet18",
                "--image-size",
                "64",
                "--batch-size",
                "8",
                "--workers",
                "2",
                "--iters",
                "40",
                "--streams",
                layout,
                "--precision",
                precision,
                "--out",
                out.to_str().unwrap(),
            ]);
            let stderr = String::from_utf8_lossy(&result.stderr);
            assert!(result.status.success(), "{layout} {precision}: {stderr}");
            let r: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
            assert!(
                r["device"].as_str().unwrap().starts_with("cuda:0"),
                "{}",
                r["device"]
            );
            let d = &r["device_stages_ms"];
            for stage in ["copy_in", "forward", "copy_out"] {
                assert!(
                    d[stage].as_f64().unwrap() > 0.0,
                    "{layout} {precision} {stage}: {d}"
                );
            }
            assert!(
                r["limits"]["h2d_gb_per_s"].as_f64().unwrap() > 0.0,
                "{}",
                r["limits"]
            );
            assert!(
                r["utilization"]["gpu_pct"].is_number(),
                "{}",
                r["utilization"]
            );
        }
    }
}
