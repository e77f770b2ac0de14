//! `inferbench sweep`, `curve` and `report` end to end on the spin model (fast and
//! deterministic in cost), and their refusals of bad input.

use crate::common;

use common::{inferbench, inferbench_ok as ok, refused, s};

use inferbench::report::sweep::SweepData;
use inferbench::sweep::record::Status;

#[test]
fn a_sweep_with_a_failing_configuration_goes_on_reports_and_fails_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    // The 44th forward fails: two workers' runs reach it (1 + 4 warm-up + 40
    // requests), one worker's do not (1 + 2 + 40), so half the grid fails at run time.
    std::fs::write(
        &spec,
        "model = \"fail:spin:1ms@44\"\nimage_size = 8\niters = 40\nrepeats = 2\nbatch_sizes = [1, 2]\ncompile = [\"eager\"]\nworkers = [1, 2]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let results = dir.path().join("sweep.jsonl");
    // Without --allow-failures the sweep goes on, records every configuration, and
    // exits 1: a CI job must not pass on half a grid.
    let strict = inferbench(&["sweep", "--config", s(&spec), "--out", s(&results), "-q"]);
    let err = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 of 4 configurations failed") && err.contains("--allow-failures"),
        "{err}"
    );
    let partial = dir.path().join("partial.jsonl");
    let allowed = ok(&[
        "sweep",
        "--config",
        s(&spec),
        "--out",
        s(&partial),
        "--allow-failures",
    ]);
    let err = String::from_utf8_lossy(&allowed.stderr);
    assert!(
        err.contains("2 configurations ran, 2 failed (allowed by --allow-failures)"),
        "{err}"
    );
    ok(&[
        "curve",
        "-q",
        "--model",
        "spin:1ms",
        "--image-size",
        "8",
        "--iters",
        "60",
        "--rates",
        "200,400",
        "--name",
        "spin-curve",
        "--out",
        s(&results),
    ]);
    let data = SweepData::load(std::slice::from_ref(&results)).unwrap();
    assert_eq!(
        (data.probes.len(), data.configs.len(), data.rates.len()),
        (1, 4, 2)
    );
    let status: Vec<Status> = data.configs.iter().map(|c| c.status).collect();
    assert_eq!(
        status,
        [Status::Ok, Status::Failed, Status::Ok, Status::Failed]
    );
    let partial = SweepData::load(std::slice::from_ref(&partial)).unwrap();
    assert_eq!(partial.configs.len(), 4);
    let bs2 = &data.configs[2];
    assert_eq!(bs2.repeats_ok, 2);
    assert_eq!(
        bs2.env.cores,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(bs2.env.tch_version.is_some() && bs2.env.libtorch_version.is_some());
    let tput = &bs2.figures.as_ref().unwrap().throughput_samples_per_s;
    assert_eq!(tput.values.len(), 2);
    // 2 samples per 1 ms forward, one worker: at most 2000 samples/s (a floor would
    // measure the machine's load, not the sweep).
    assert!(
        tput.mean <= 2000.0 * 1.01 && tput.mean > 0.0,
        "{}",
        tput.mean
    );
    let error = data.configs[1].error.as_deref().unwrap();
    assert!(
        error.contains("injected fault: forward 44 failed"),
        "{error}"
    );

    let report_dir = dir.path().join("report");
    let out = ok(&[
        "report",
        "--input",
        s(&results),
        "--out-dir",
        s(&report_dir),
        "--constraint",
        "throughput",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("spin:1ms@44-8px/bs2/eager/w1/shared"));
    for file in [
        "report.md",
        "throughput_vs_batch.svg",
        "latency_vs_batch.svg",
        "stages.svg",
        "latency_throughput.svg",
    ] {
        assert!(report_dir.join(file).is_file(), "{file} missing");
    }
}

#[test]
fn bad_sweep_curve_and_report_input_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "batch_sizes = [0]\n").unwrap();
    refused(&["sweep", "--config", s(&bad), "--dry-run"], "batch-size");
    refused(&["sweep", "--preset", "enormous"], "quick or seed");
    refused(
        &["curve", "--model", "spin:1ms", "--rates", "100,fast"],
        "rates: 'fast'",
    );
    refused(
        &["curve", "--model", "spin:1ms", "--percentile", "p42"],
        "percentile: 'p42'",
    );
    refused(
        &["report", "--input", s(&dir.path().join("none.jsonl"))],
        "none.jsonl",
    );
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sweep/known.jsonl");
    refused(
        &["report", "--input", fixture, "--constraint", "latency"],
        "--latency-budget-ms",
    );
    // An unwritable report folder fails before anything is half-written.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    refused(
        &[
            "report",
            "--input",
            fixture,
            "--out-dir",
            s(&blocker.join("sub")),
        ],
        "cannot create report folder",
    );
}

#[test]
fn a_sweep_checks_every_model_of_its_grid_before_the_first_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.pt");
    std::fs::write(&corrupt, b"not a TorchScript file").unwrap();
    let corrupt_model = format!("torchscript:{}", s(&corrupt));
    for (model, needle) in [
        ("resnet1000", "unknown model 'resnet1000'"),
        ("spin:fast", "spin:"),
        ("fail:spin:1ms", "fail:<model>@N"),
        (corrupt_model.as_str(), "corrupt.pt: not a TorchScript file"),
    ] {
        let spec = dir.path().join("bad.toml");
        std::fs::write(
            &spec,
            format!("model = \"{model}\"\nimage_size = 8\nbatch_sizes = [1]\nworkers = [1]\n"),
        )
        .unwrap();
        let results = dir.path().join("never.jsonl");
        // Used to start, record the configuration as failed, and exit 0.
        refused(
            &["sweep", "-q", "--config", s(&spec), "--out", s(&results)],
            needle,
        );
        assert!(!results.exists(), "{model}: nothing may be written");
        refused(&["sweep", "--config", s(&spec), "--dry-run"], needle);
    }
}

#[test]
fn a_sweep_whose_every_configuration_failed_exits_non_zero_even_when_failures_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("all-fail.toml");
    // The second forward fails: in every run's warm-up.
    std::fs::write(
        &spec,
        "model = \"fail:spin:1ms@2\"\nimage_size = 8\niters = 10\nrepeats = 1\nbatch_sizes = [1, 2]\ncompile = [\"eager\"]\nworkers = [1]\n",
    )
    .unwrap();
    for allow in [&[][..], &["--allow-failures"][..]] {
        let results = dir.path().join("all-fail.jsonl");
        let mut args = vec!["sweep", "-q", "--config", s(&spec), "--out", s(&results)];
        args.extend_from_slice(allow);
        refused(&args, "no configuration ran");
        let data = SweepData::load(std::slice::from_ref(&results)).unwrap();
        assert!(data.configs.iter().all(|c| c.status == Status::Failed));
        // A report of it lists the failures, and exits 1: nothing was measured.
        let report = dir.path().join("report");
        refused(
            &["report", "--input", s(&results), "--out-dir", s(&report)],
            "nothing in the input was measured",
        );
        assert!(report.join("report.md").is_file());
        std::fs::remove_file(&results).unwrap();
    }
}
