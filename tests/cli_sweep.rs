//! `inferbench sweep`, `curve` and `report` end to end on the spin model (fast and
//! deterministic in cost), and their refusals of bad input.

mod common;

use common::{inferbench_ok as ok, refused, s};

use inferbench::report::sweep::SweepData;
use inferbench::sweep::record::Status;

#[test]
fn a_sweep_with_a_failing_configuration_goes_on_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    // The spin model cannot be traced, so the torchscript points fail; the sweep goes on.
    std::fs::write(
        &spec,
        "model = \"spin:1ms\"\nimage_size = 8\niters = 40\nrepeats = 2\nbatch_sizes = [1, 2]\ncompile = [\"eager\", \"torchscript\"]\nworkers = [1]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let results = dir.path().join("sweep.jsonl");
    ok(&["sweep", "--config", s(&spec), "--out", s(&results), "-q"]);
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
    let bs2 = &data.configs[2];
    assert_eq!(bs2.repeats_ok, 2);
    assert_eq!(
        bs2.env.cores,
        std::thread::available_parallelism().unwrap().get()
    );
    assert!(bs2.env.tch_version.is_some() && bs2.env.libtorch_version.is_some());
    let tput = &bs2.figures.as_ref().unwrap().throughput_samples_per_s;
    assert_eq!(tput.values.len(), 2);
    // 2 samples per 1 ms forward, one worker: at most 2000 samples/s.
    assert!(
        tput.mean <= 2000.0 * 1.01 && tput.mean > 1000.0,
        "{}",
        tput.mean
    );
    assert!(data.configs[1].error.as_deref().unwrap().contains("trace"));

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
    assert!(String::from_utf8_lossy(&out.stdout).contains("spin:1ms-8px/bs2/eager/w1/shared"));
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
