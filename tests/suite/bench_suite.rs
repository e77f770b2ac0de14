//! The criterion suite as a user meets it: the bench binary of `cargo bench --bench
//! pipeline` with `INFERBENCH_SUITE`, `INFERBENCH_PROFILE` and `INFERBENCH_PERCENTILE`.
//! Bad values must stop it with a non-zero status and the valid values; a user's
//! own sweep file must run. Cargo builds the bench binary once (normally a no-op
//! after `cargo build --release --all-targets`); the tests then run it directly.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common;

/// The bench executable, from `cargo bench --no-run`'s JSON messages.
fn bench_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let out = Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "bench",
                "--quiet",
                "--bench",
                "pipeline",
                "--no-run",
                "--message-format=json",
            ])
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["target"]["name"] == "pipeline")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the pipeline bench executable")
    })
}

/// The bench binary with `args`, `vars` set and the suite variables otherwise
/// cleared, so the caller's environment cannot leak in.
fn bench(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(bench_binary());
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--bench")
        .args(args);
    for var in [
        "INFERBENCH_SUITE",
        "INFERBENCH_PROFILE",
        "INFERBENCH_PERCENTILE",
        "INFERBENCH_MAX_DURATION",
        "INFERBENCH_STALL_TIMEOUT",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("the bench binary runs")
}

fn refused(vars: &[(&str, &str)], needles: &[&str]) {
    let out = bench(vars, &["--list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{vars:?} should exit 2: {stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{vars:?}: no '{needle}' in: {stderr}"
        );
    }
    assert!(
        out.stdout.is_empty(),
        "nothing may be listed or measured: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unknown_environment_values_stop_the_bench_with_the_valid_ones() {
    refused(
        &[("INFERBENCH_PROFILE", "nope")],
        &["INFERBENCH_PROFILE", "'nope'", "default, full, ci"],
    );
    // p90 used to measure p99 silently.
    refused(
        &[("INFERBENCH_PERCENTILE", "p42")],
        &[
            "INFERBENCH_PERCENTILE",
            "'p42'",
            "mean, p50, p90, p95, p99, p99.9",
        ],
    );
    refused(
        &[
            ("INFERBENCH_PROFILE", "ci"),
            ("INFERBENCH_SUITE", "benches/suites/ci.toml"),
        ],
        &["both set"],
    );
}

#[test]
fn bad_suite_files_stop_the_bench_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let typo = write("typo.toml", "batch_size = [1]\n");
    refused(&[("INFERBENCH_SUITE", &typo)], &["typo.toml", "batch_size"]);
    let few = write("few.toml", "[criterion]\nsamples = 3\n");
    refused(
        &[("INFERBENCH_SUITE", &few)],
        &["few.toml", "criterion.samples", "at least 10"],
    );
    let missing = dir.path().join("missing.toml");
    refused(
        &[("INFERBENCH_SUITE", missing.to_str().unwrap())],
        &["missing.toml"],
    );
}

/// A user's own grid runs under criterion: two spin-model configurations, each
/// benchmark run once by criterion's `--test` mode, with the suite's percentile.
#[test]
fn a_users_suite_file_runs_under_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        r#"
model = "spin:200us"
image_size = 8
batch_sizes = [1, 2]
compile = ["eager"]
workers = [1]
streams = ["shared"]
arrivals = ["concurrency:2"]

[criterion]
requests_per_sample = 8
percentile = "p90"
"#,
    )
    .unwrap();
    let out = bench(
        &[
            ("INFERBENCH_SUITE", path.to_str().unwrap()),
            (
                "CRITERION_HOME",
                dir.path().join("criterion").to_str().unwrap(),
            ),
        ],
        &["--test"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for id in [
        "spin:200us-8px/bs1/eager/w1/shared/concurrency:2",
        "spin:200us-8px/bs2/eager/w1/shared/concurrency:2",
    ] {
        // Utilisation is gpu-util where NVML sees a GPU.
        let util = if stdout.contains("gpu-util") {
            "gpu-util"
        } else {
            "cpu-util"
        };
        // The tail is measured under its own steady load, named in its id.
        for function in ["time", "p90@2-in-flight-per-worker", util] {
            assert!(
                stdout.contains(&format!("Testing {id}/{function}")),
                "{id}/{function} missing:\n{stdout}"
            );
        }
    }
    assert!(stderr.contains("suite mine"), "{stderr}");
}

/// A filter and `--list` are read before any server starts: only the selected
/// configurations start one (each start is a `[inferbench] k/N` line), listing starts
/// none and lists what criterion lists, and a filter that selects nothing is refused
/// rather than passing for a run.
#[test]
fn a_filter_starts_only_the_selected_servers_and_one_that_selects_nothing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    std::fs::write(
        &path,
        "name = \"two\"\nmodel = \"spin:200us\"\nimage_size = 8\nbatch_sizes = [1, 2]\n\
         workers = [1]\narrivals = [\"concurrency:2\"]\n[criterion]\nrequests_per_sample = 8\n",
    )
    .unwrap();
    let home = dir.path().join("criterion");
    let vars = [
        ("INFERBENCH_SUITE", path.to_str().unwrap()),
        ("CRITERION_HOME", home.to_str().unwrap()),
    ];
    let starts = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with("[inferbench] ") && l.contains("/2 spin:"))
            .count()
    };
    let run = |args: &[&str]| {
        let out = bench(&vars, args);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    let (code, stdout, stderr) = run(&["--test", "bs2/eager/w1/shared/concurrency:2/time"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        starts(&stderr),
        1,
        "one server, for the one selected:\n{stderr}"
    );
    assert!(stdout.contains("Testing spin:200us-8px/bs2/eager/w1/shared/concurrency:2/time"));
    assert_eq!(stdout.matches("Testing ").count(), 1, "{stdout}");
    assert!(
        stderr.contains("selects 1 of suite two's 6 benchmarks"),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(&["--list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(starts(&stderr), 0, "listing starts no server:\n{stderr}");
    assert_eq!(stdout.matches(": benchmark").count(), 6, "{stdout}");

    let (code, stdout, stderr) = run(&["--test", "bs3"]);
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the filter 'bs3' selects none of suite two's 6 benchmarks"),
        "{stderr}"
    );
    assert_eq!(starts(&stderr), 0, "{stderr}");
    assert!(!stdout.contains("Testing"), "{stdout}");
}

/// A suite that measured less than it names must not pass: a model file that exists
/// but does not load is refused before anything is measured (it used to print
/// `skipping …` for every group and exit 0), and a configuration whose server cannot
/// start fails the bench after the others ran.
#[test]
fn a_suite_that_cannot_measure_a_configuration_fails() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.pt");
    std::fs::write(&corrupt, b"not a TorchScript file").unwrap();
    let suite = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let corrupt_suite = suite(
        "corrupt.toml",
        format!(
            "model = \"torchscript:{}\"\nbatch_sizes = [1]\nworkers = [1]\n",
            corrupt.display()
        ),
    );
    refused(
        &[("INFERBENCH_SUITE", &corrupt_suite)],
        &["corrupt.pt: not a TorchScript file"],
    );

    // The file loads, but refuses the suite's inputs: every server fails to start.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/models/ids_mask_tuple.pt"
    );
    let refusing = suite(
        "refusing.toml",
        format!(
            "model = \"torchscript:{fixture}\"\ninputs = [\"16:f32\"]\nbatch_sizes = [1]\nworkers = [1]\n\n[criterion]\nrequests_per_sample = 4\n"
        ),
    );
    let home = dir.path().join("criterion");
    for allow in ["0", "1"] {
        let out = bench(
            &[
                ("INFERBENCH_SUITE", &refusing),
                ("CRITERION_HOME", home.to_str().unwrap()),
                ("INFERBENCH_ALLOW_FAILURES", allow),
            ],
            &["--test"],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "allow={allow}: {stderr}");
        assert!(
            stderr.contains("1 of 1 configurations of suite 'refusing' could not be measured"),
            "allow={allow}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("Success"),
            "nothing was measured"
        );
    }
}

/// A suite file with a `[target]` measures a server over the network under criterion.
#[test]
fn a_suite_with_a_target_measures_the_server() {
    let server = common::served::serve(&["--model", "spin:200us", "--image-size", "8"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.toml");
    let suite = format!(
        "batch_sizes = [1]\narrivals = [\"concurrency:2\"]\n\n[target]\nurl = \"{}\"\n\n[criterion]\nrequests_per_sample = 8\n",
        server.http
    );
    std::fs::write(&path, suite).unwrap();
    let home = dir.path().join("criterion");
    let out = bench(
        &[
            ("INFERBENCH_SUITE", path.to_str().unwrap()),
            ("CRITERION_HOME", home.to_str().unwrap()),
        ],
        &["--test"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Testing target/http/m/bs1/concurrency:2/time"),
        "{stdout}"
    );
}

/// The suite's windows keep `run`'s limits, from `INFERBENCH_STALL_TIMEOUT` and
/// `INFERBENCH_MAX_DURATION`: a hung forward ends the bench after the stall timeout
/// given (its words, not a clock, tell it from the derived one of at least 2 s); a
/// window that cannot end within the limit, or a value that is no duration, is
/// refused before anything is measured.
#[test]
fn the_suites_windows_keep_the_time_limits_the_environment_gives() {
    let dir = tempfile::tempdir().unwrap();
    let suite = |name: &str, model: &str| {
        let path = dir.path().join(name);
        let text = format!(
            "model = \"{model}\"\nimage_size = 8\nbatch_sizes = [1]\ncompile = [\"eager\"]\nworkers = [1]\n\n[criterion]\nrequests_per_sample = 16\n"
        );
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let hang = suite("hang.toml", "fail:spin:1ms@10:hang");
    let home = dir.path().join("criterion");
    let out = bench(
        &[
            ("INFERBENCH_SUITE", &hang),
            ("CRITERION_HOME", home.to_str().unwrap()),
            ("INFERBENCH_STALL_TIMEOUT", "300ms"),
        ],
        &["--test"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no response for 300 ms"), "{stderr}");
    let slow = suite("slow.toml", "spin:20ms");
    refused(
        &[
            ("INFERBENCH_SUITE", &slow),
            ("INFERBENCH_MAX_DURATION", "100ms"),
        ],
        &["max-duration", "forwards of 20 ms"],
    );
    refused(
        &[("INFERBENCH_STALL_TIMEOUT", "soon")],
        &["INFERBENCH_STALL_TIMEOUT", "'soon'"],
    );
}

/// A suite file's `[until_stable]` table is honoured, not ignored: each group's server
/// is measured in windows until stable before criterion samples it, and a server that
/// never settles (a spin model whose time grows) is not measured and fails the bench.
#[test]
fn a_suite_measures_until_stable_before_criterion_samples_and_refuses_a_drifting_server() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("criterion");
    // Windows of 200 requests: long enough that the drift (1 ms more each second)
    // moves each window's figures far beyond 10 % of the last ones'.
    let suite = |name: &str, model: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                "model = \"{model}\"\nimage_size = 8\nbatch_sizes = [1]\nworkers = [1]\narrivals = [\"concurrency:2\"]\n\n[criterion]\nrequests_per_sample = 200\n\n[until_stable]\npercentile = \"p90\"\nmin_time = \"0s\"\nmax_time = \"4s\"\n"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let steady = suite("steady.toml", "spin:200us");
    let out = bench(
        &[
            ("INFERBENCH_SUITE", &steady),
            ("CRITERION_HOME", home.to_str().unwrap()),
        ],
        &["--test"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("criterion samples from here").count(),
        3,
        "each of the three measurements settles first: {stderr}"
    );

    let drifting = suite("drifting.toml", "spin:1ms+drift-1ms-per-s");
    let out = bench(
        &[
            ("INFERBENCH_SUITE", &drifting),
            ("CRITERION_HOME", home.to_str().unwrap()),
        ],
        &["--test"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not settle before criterion's samples"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("Success"),
        "nothing was measured"
    );
}
