//! `--until-stable` and `inferbench tune` end to end on spin models whose answers
//! are known: a per-sample cost that makes the largest batch the fastest by a wide
//! margin, and a drift that never lets a run settle. The assertions are about
//! counts, verdicts and which configuration wins, never about timings.

use crate::common;

use common::{inferbench, inferbench_ok as ok, refused, s};

use inferbench::report::sweep::SweepData;
use inferbench::sweep::record::Record;

fn records(path: &std::path::Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tune_climbs_to_the_largest_batch_and_writes_every_point_and_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    // 1 ms + 250 µs a sample: 800, 2000 and 3200 samples/s for bs 1, 4 and 16 on
    // one worker; margins far beyond a busy machine's noise.
    std::fs::write(
        &spec,
        "model = \"spin:1ms+250us-per-sample\"\nimage_size = 8\niters = 40\nbatch_sizes = [1, 4, 16]\nworkers = [1]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let out = dir.path().join("tune.jsonl");
    let run = ok(&["tune", "--config", s(&spec), "--out", s(&out), "-q"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains("Best: `spin:1ms+250us-per-sample-8px/bs16/"),
        "{text}"
    );
    let recs = records(&out);
    let configs = recs
        .iter()
        .filter(|r| matches!(r, Record::Config(_)))
        .count();
    let Some(Record::Tune(t)) = recs.last() else {
        panic!("the last record is the tune's: {recs:?}");
    };
    assert_eq!(t.path.len(), configs);
    assert_eq!(t.grid_size, 3);
    assert_eq!(t.path.iter().filter(|p| p.2).count(), 3, "{:?}", t.path);
    assert!(t.text.contains("Stopped because"), "{}", t.text);
    // The report reads it as a sweep's file and repeats the explanation.
    let report = dir.path().join("report");
    ok(&[
        "report",
        "--input",
        s(&out),
        "--out-dir",
        s(&report),
        "--constraint",
        "throughput",
    ]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("## Searches"), "{md}");
    let data = SweepData::load(&[out]).unwrap();
    assert_eq!(data.tunes.len(), 1);
}

#[test]
fn a_latency_tune_does_not_search_a_point_that_cannot_beat_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    // Seed 0's start is bs 1 (the first value), 800 samples/s of capacity; its
    // neighbour bs 16 has 3,200, so the screen starts the search at bs 16. Once bs 16
    // keeps the budget above a quarter of its capacity, bs 1 (880 at the search's
    // ceiling) cannot beat it and is not searched.
    std::fs::write(
        &spec,
        "model = \"spin:1ms+250us-per-sample\"\nimage_size = 8\niters = 40\nbatch_sizes = [1, 16]\nworkers = [1]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let out = dir.path().join("tune.jsonl");
    #[rustfmt::skip]
    let run = ok(&["tune", "--config", s(&spec), "--out", s(&out), "-q", "--goal", "latency",
        "--latency-budget-ms", "100", "--percentile", "p99"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains("Best: `spin:1ms+250us-per-sample-8px/bs16/"),
        "{text}"
    );
    let all = records(&out);
    let tune = all
        .iter()
        .find_map(|r| match r {
            Record::Tune(t) => Some(t),
            _ => None,
        })
        .unwrap();
    let screened: Vec<(&str, f64)> = tune
        .screen
        .iter()
        .map(|(id, c)| (id.as_str(), c.unwrap()))
        .collect();
    assert_eq!(screened.len(), 2, "{screened:?}");
    assert!(screened[0].0.contains("/bs1/") && screened[1].0.contains("/bs16/"));
    assert!(screened[1].1 > screened[0].1, "{screened:?}");
    assert_eq!(tune.path[0].0, screened[1].0, "{:?}", tune.path);
    assert!(screened[1].1 >= 1.5 * screened[0].1, "{screened:?}");
    assert!(tune.text.starts_with("Screened by burst capacity"));
    let max_rates: Vec<_> = all
        .into_iter()
        .filter_map(|r| match r {
            Record::MaxRate(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(max_rates.len(), 2, "{max_rates:?}");
    let (first, second) = (&max_rates[0], &max_rates[1]);
    assert!(first.id.contains("/bs16/") && first.bar_rps.is_none() && first.probes > 0);
    let best = first.max_rps.unwrap() * 16.0;
    assert!(second.id.contains("/bs1/"), "{second:?}");
    assert_eq!((second.probes, second.max_rps), (0, None), "{second:?}");
    let bar = second.bar_rps.unwrap();
    assert!(
        (bar - best * 1.02).abs() < 1e-6 * bar,
        "bar {bar} against best {best}"
    );
    // The report says why it has no rate, rather than that none met the budget.
    let report = dir.path().join("report");
    #[rustfmt::skip]
    ok(&["report", "--input", s(&out), "--out-dir", s(&report), "--constraint", "throughput"]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("cannot beat the tune's current point"), "{md}");
}

#[test]
fn a_drifting_server_is_reported_not_settled_and_recorded_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs.jsonl");
    // 10 ms slower every second: each window of 40 requests is far slower than the last.
    let run = inferbench(&[
        "run",
        "--model",
        "spin:1ms+drift-10ms-per-s",
        "--image-size",
        "8",
        "--iters",
        "40",
        "--arrival",
        "concurrency:2",
        "--until-stable",
        "--stable-max-time",
        "3s",
        "--out",
        s(&out),
        "-q",
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("did not settle"), "{err}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("NOT SETTLED"));
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(line["stability"]["settled"], false);
    assert!(line["stability"]["windows"].as_u64().unwrap() >= 3);
}

#[test]
fn until_stable_and_tune_refuse_what_cannot_work_by_name() {
    refused(
        &["run", "--model", "spin:1ms", "--stability-pct", "5"],
        "--until-stable",
    );
    refused(
        &[
            "run",
            "--model",
            "spin:1ms",
            "--until-stable",
            "--stable-windows",
            "1",
        ],
        "at least 2 windows",
    );
    refused(
        &[
            "run",
            "--model",
            "spin:1ms",
            "--until-stable",
            "--stable-max-time",
            "20m",
        ],
        "--max-duration",
    );
    refused(
        &["tune", "--preset", "quick", "--goal", "latency"],
        "--latency-budget-ms",
    );
    refused(
        &["tune", "--preset", "quick", "--strategy", "random"],
        "hill or grid",
    );
    refused(
        &["tune", "--preset", "quick", "--max-runs", "0"],
        "--max-runs",
    );
    refused(&["run", "--model", "spin:1ms+drift-1ms"], "-per-s");
    // clap refuses a trace of a windowed run (exit 2).
    let both = inferbench(&["run", "--until-stable", "--trace", "t.jsonl"]);
    assert_eq!(both.status.code(), Some(2));
}

/// The search in rounds as an Indexed Job runs it: each round's shards measure their
/// parts (here one after the other), then the driver asks what is pending, until the
/// search is over. Every point is measured once, the shards' parts do not overlap,
/// the answer is the known one, and the folder is a report's input.
#[test]
fn tune_in_rounds_of_shards_measures_each_point_once_and_finds_the_largest_batch() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    std::fs::write(
        &spec,
        "model = \"spin:1ms+250us-per-sample\"\nimage_size = 8\niters = 40\nbatch_sizes = [1, 4, 16]\nworkers = [1]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let rounds = dir.path().join("rounds");
    let tune = |extra: &[&str]| {
        let mut args = vec![
            "tune",
            "--config",
            s(&spec),
            "--round-dir",
            s(&rounds),
            "-q",
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };
    let mut answer = None;
    for _ in 0..6 {
        let state = String::from_utf8_lossy(&tune(&[]).stdout).into_owned();
        if !state.starts_with("pending: round") {
            answer = Some(state);
            break;
        }
        assert!(
            !rounds.join("tune.jsonl").exists(),
            "no result while pending"
        );
        tune(&["--shard", "0/2"]);
        tune(&["--shard", "1/2"]);
    }
    let answer = answer.expect("the search ends within 6 rounds of a 3-point grid");
    assert!(
        answer.contains("Best: `spin:1ms+250us-per-sample-8px/bs16/"),
        "{answer}"
    );
    assert!(answer.contains("in rounds"), "{answer}");
    // Each configuration has one record, whichever shard measured it.
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&rounds).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("round-") {
            ids.extend(records(&path).into_iter().filter_map(|r| match r {
                Record::Config(c) => Some(c.id),
                _ => None,
            }));
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "measured twice: {ids:?}");
    let Some(Record::Tune(t)) = records(&rounds.join("tune.jsonl")).pop() else {
        panic!("tune.jsonl holds the tune record");
    };
    assert_eq!((t.strategy.as_str(), t.path.len()), ("rounds", ids.len()));
    assert!(t.rounds.is_some() && t.wall_s.is_none(), "{t:?}");
    // A shard run after the end measures nothing; another search is refused by name.
    let after = tune(&["--shard", "1/2"]);
    assert!(String::from_utf8_lossy(&after.stderr).contains("is over"));
    refused(
        &[
            "tune",
            "--config",
            s(&spec),
            "--round-dir",
            s(&rounds),
            "--seed",
            "3",
        ],
        "holds the rounds of another search",
    );
    let report = dir.path().join("report");
    ok(&["report", "--input", s(&rounds), "--out-dir", s(&report)]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("hill climbing in rounds"), "{md}");
}

/// A following shard whose partner never runs does not wait for ever: after
/// --round-wait it names what is unmeasured and exits 1; the partner resumes it.
#[test]
fn a_following_shard_alone_stops_at_its_round_wait_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spin.toml");
    // Round 1 from bs 1/w1 is {bs 4/w1, bs 1/w2}: one for each of two shards.
    std::fs::write(
        &spec,
        "model = \"spin:1ms+250us-per-sample\"\nimage_size = 8\niters = 40\nbatch_sizes = [1, 4]\nworkers = [1, 2]\narrivals = [\"concurrency:2\"]\n",
    )
    .unwrap();
    let rounds = dir.path().join("rounds");
    let base = [
        "tune",
        "--config",
        s(&spec),
        "--round-dir",
        s(&rounds),
        "-q",
    ];
    let follow = [
        &base[..],
        &["--shard", "0/2", "--follow", "--round-wait", "2s"],
    ]
    .concat();
    refused(
        &follow,
        "have not measured spin:1ms+250us-per-sample-8px/bs1/",
    );
    let pending = ok(&base);
    assert!(
        String::from_utf8_lossy(&pending.stdout).starts_with("pending: round 1, 1 of 2"),
        "{}",
        String::from_utf8_lossy(&pending.stdout)
    );
    ok(&[&base[..], &["--shard", "1/2"]].concat());
    let next = String::from_utf8_lossy(&ok(&base).stdout).into_owned();
    assert!(!next.starts_with("pending: round 1"), "{next}");
}
