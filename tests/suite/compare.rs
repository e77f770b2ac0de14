//! The baseline comparison on fixture criterion output whose answers are known
//! (`fixtures/criterion/README.md`): one improved, one regressed, one within noise,
//! one missing, one new.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::copy_tree;
use inferbench::compare::{criterion_dir, merge, passed, render, CompareOptions, Verdict};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/criterion")
}

const STRICT: CompareOptions = CompareOptions {
    threshold: 0.05,
    sigmas: 3.0,
    fail_on_missing: true,
};

fn verdicts(root: &Path, options: &CompareOptions) -> Vec<(String, Verdict)> {
    criterion_dir::load(root, "committed", options)
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.verdict))
        .collect()
}

#[test]
fn each_fixture_benchmark_gets_its_known_verdict() {
    let got = verdicts(&fixture(), &STRICT);
    let want = [
        (
            "resnet18-32px/bs1/eager/w1/shared/cpu-util",
            Verdict::WithinNoise,
        ),
        ("resnet18-32px/bs1/eager/w1/shared/p99", Verdict::Regressed),
        ("resnet18-32px/bs1/eager/w1/shared/time", Verdict::Improved),
        ("resnet18-32px/bs4/eager/w1/shared/time", Verdict::Missing),
        ("resnet18-32px/bs8/eager/w1/shared/time", Verdict::New),
    ];
    let want: Vec<(String, Verdict)> = want.iter().map(|(id, v)| (id.to_string(), *v)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_wider_threshold_turns_the_regression_into_noise() {
    let loose = CompareOptions {
        threshold: 0.15,
        sigmas: 3.0,
        fail_on_missing: false,
    };
    let comparisons = criterion_dir::load(&fixture(), "committed", &loose).unwrap();
    let p99 = comparisons.iter().find(|c| c.id.ends_with("/p99")).unwrap();
    assert_eq!(p99.verdict, Verdict::WithinNoise);
    // The 10 ms → 8 ms improvement's interval [-22 %, -18 %] is still beyond ±15 %.
    let time = comparisons
        .iter()
        .find(|c| c.id.ends_with("bs1/eager/w1/shared/time"))
        .unwrap();
    assert_eq!(time.verdict, Verdict::Improved);
    assert!(passed(&comparisons, &loose));
    assert!(!passed(&comparisons, &STRICT));
}

#[test]
fn the_table_shows_values_in_display_units_and_every_verdict() {
    let comparisons = criterion_dir::load(&fixture(), "committed", &STRICT).unwrap();
    let table = render::table(&comparisons, 0.05);
    let row = |needle: &str| {
        table
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no row {needle} in\n{table}"))
            .to_string()
    };
    let time = row("bs1/eager/w1/shared/time");
    assert!(
        time.contains("10.000 ms") && time.contains("8.000 ms"),
        "{time}"
    );
    assert!(
        time.contains("-20.00% [-22.00%, -18.00%]") && time.contains("improved"),
        "{time}"
    );
    assert!(row("/p99").contains("REGRESSED"));
    assert!(row("cpu-util").contains("51.000 %") && row("cpu-util").contains("within noise"));
    assert!(row("bs4").contains("MISSING"));
    assert!(row("bs8").contains("new"));
    assert!(
        table.contains("5 benchmarks: 1 improved, 1 regressed, 1 within noise, 1 missing, 1 new")
    );
    assert!(row("/p99").contains("±5.0%"));
    assert!(table.contains("noise band: ±5.0% (the baseline records no run-to-run spread"));
}

#[test]
fn github_action_benchmark_files_split_by_direction() {
    let comparisons = criterion_dir::load(&fixture(), "committed", &STRICT).unwrap();
    let (smaller, bigger) = render::github_action_benchmark(&comparisons);
    let names = |v: &[render::BenchmarkEntry]| v.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    // The missing benchmark has no new value, so it is in neither file.
    assert_eq!(
        names(&smaller),
        [
            "resnet18-32px/bs1/eager/w1/shared/p99",
            "resnet18-32px/bs1/eager/w1/shared/time",
            "resnet18-32px/bs8/eager/w1/shared/time",
        ]
    );
    assert_eq!(
        names(&bigger),
        [
            "resnet18-32px/bs1/eager/w1/shared/cpu-util",
            "resnet18-32px/bs1/eager/w1/shared/throughput",
            "resnet18-32px/bs8/eager/w1/shared/throughput",
        ]
    );
    // 8 ms per request of 1 sample = 125 samples/s; 30 ms for 8 samples = 266.67 samples/s.
    assert!((bigger[1].value - 125.0).abs() < 1e-9);
    assert!((bigger[2].value - 8.0 / 0.030).abs() < 1e-9);
    assert_eq!(smaller[1].unit, "ms");
    assert!((smaller[1].value - 8.0).abs() < 1e-12);
    assert!(smaller[0].extra.contains("REGRESSED"));
}

fn inferbench_compare(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(["compare", "--criterion-dir", dir.to_str().unwrap()])
        .args(extra)
        .env_remove("CRITERION_HOME")
        .output()
        .unwrap()
}

#[test]
fn the_command_exits_1_on_a_regression_0_without_and_2_without_results() {
    let result = inferbench_compare(&fixture(), &[]);
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stdout).contains("REGRESSED"));

    // Without the regressed benchmark, the missing one still fails unless allowed.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(), dir.path());
    std::fs::remove_dir_all(dir.path().join("resnet18-32px_bs1_eager_w1_shared/p99")).unwrap();
    assert_eq!(inferbench_compare(dir.path(), &[]).status.code(), Some(1));
    let json_dir = dir.path().join("gab");
    let ok = inferbench_compare(
        dir.path(),
        &["--allow-missing", "--json-dir", json_dir.to_str().unwrap()],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let smaller: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(json_dir.join("smaller_is_better.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(smaller.as_array().unwrap().len(), 2);

    let nothing = inferbench_compare(&dir.path().join("no-such-folder"), &[]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no criterion results"));
}

fn set_mean(estimates: &Path, value: f64) {
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(estimates).unwrap()).unwrap();
    json["mean"]["point_estimate"] = value.into();
    std::fs::write(estimates, json.to_string()).unwrap();
}

#[test]
fn a_baseline_merged_from_noisy_runs_widens_the_band_until_the_regression_is_noise() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(), dir.path());
    let p99 = dir.path().join("resnet18-32px_bs1_eager_w1_shared/p99");
    // Three baseline runs of p99: 25, 28 and 22 ms, so σ/mean = 3/25 = 0.12.
    let runs = ["run1", "run2", "run3"].map(String::from);
    for (run, ms) in runs.iter().zip([25.0, 28.0, 22.0]) {
        copy_tree(&p99.join("committed"), &p99.join(run));
        set_mean(&p99.join(run).join("estimates.json"), ms * 1e6);
    }
    std::fs::remove_dir_all(p99.join("committed")).unwrap();

    assert_eq!(
        merge::merge_runs(dir.path(), &runs, "committed").unwrap(),
        1
    );
    let spread = criterion_dir::read_spread(&p99.join("committed"))
        .unwrap()
        .unwrap();
    assert_eq!(spread.chosen, "run1", "the median run becomes the baseline");
    assert!((spread.relative_std - 0.12).abs() < 1e-9);
    assert!(p99.join("committed/benchmark.json").is_file());

    let comparisons = criterion_dir::load(dir.path(), "committed", &STRICT).unwrap();
    let find = |suffix: &str| comparisons.iter().find(|c| c.id.ends_with(suffix)).unwrap();
    // Band 3 × √2 × 0.12 = 50.9 %: the +10..+14 % change is inside the runs' own spread.
    let p99_cmp = find("/p99");
    assert!((p99_cmp.band - 3.0 * 2f64.sqrt() * 0.12).abs() < 1e-9);
    assert_eq!(p99_cmp.verdict, Verdict::WithinNoise);
    // The time benchmark has no spread record and no other time benchmark has one: ±5 %.
    assert_eq!(find("shared/time").band, 0.05);
    assert_eq!(find("shared/time").verdict, Verdict::Improved);

    let ignoring_spread = CompareOptions {
        sigmas: 0.0,
        ..STRICT
    };
    let strict = criterion_dir::load(dir.path(), "committed", &ignoring_spread).unwrap();
    let p99_strict = strict.iter().find(|c| c.id.ends_with("/p99")).unwrap();
    assert_eq!(p99_strict.verdict, Verdict::Regressed);
}

#[test]
fn merging_needs_the_runs_to_exist() {
    let err = merge::merge_runs(&fixture(), &["a".into(), "b".into()], "x").unwrap_err();
    assert!(err.to_string().contains("no benchmark"), "{err}");
    let err = merge::merge_runs(&fixture(), &["a".into()], "x").unwrap_err();
    assert!(err.to_string().contains("at least 2 runs"), "{err}");
}
