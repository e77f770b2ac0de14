//! A Kubernetes Indexed Job simulated on one machine: N `inferbench sweep --shards N`
//! processes side by side, each told its index by `JOB_COMPLETION_INDEX` as the Job
//! controller would, their files merged by `inferbench report`, against the same
//! sweep run whole. And the CLI's refusals of bad shard input.
//!
//! The sweep is the spin model under open-loop Poisson arrivals: each worker is busy
//! for 100 µs a request at 100-400 requests/s (1-4 % of a core), so four shards side
//! by side on a loaded two-core machine still keep up with their schedules, and a
//! run's throughput is set by its seeded arrival schedule (samples offered per
//! second), which is why it can be compared across the two runs at all. The largest
//! difference in any figure is printed, not asserted: every figure carries the
//! machine's scheduling noise, and a loaded machine can delay a run's last response
//! by as long as its window (issue 28). What is asserted is exact: the same table,
//! order and recommendation, and each configuration run as often as in the whole sweep.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use inferbench::report::sweep::{recommend, shards, SweepData};
use inferbench::sweep::record::{ConfigRecord, Percentile};

const SHARDS: u32 = 4;

fn inferbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn refused(out: Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(needle),
        "stderr does not name '{needle}':\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn spec_file(dir: &Path) -> PathBuf {
    let spec = dir.join("spin.toml");
    std::fs::write(
        &spec,
        "model = \"spin:100us\"\nimage_size = 4\niters = 60\nrepeats = 2\nbatch_sizes = [1, 4, 16]\n\
         compile = [\"eager\"]\nworkers = [1]\narrivals = [\"poisson:100\", \"poisson:400\"]\n",
    )
    .unwrap();
    spec
}

fn report(input: &Path, out_dir: &Path) -> String {
    let out = inferbench()
        .args(["report", "--constraint", "throughput", "--input"])
        .arg(input)
        .arg("--out-dir")
        .arg(out_dir)
        .output()
        .unwrap();
    ok(out, "report");
    std::fs::read_to_string(out_dir.join("report.md")).unwrap()
}

/// The results table's rows: configuration id, and whether it is the recommended one.
fn table_rows(markdown: &str) -> Vec<(String, bool)> {
    markdown
        .lines()
        .filter(|l| l.starts_with("| `"))
        .take_while(|l| !l.contains("offered"))
        .map(|l| {
            let id = l.split('`').nth(1).unwrap().to_string();
            (id, l.contains('⭐'))
        })
        .collect()
}

/// Every figure of a configuration, by name (means over repeats).
fn figures(c: &ConfigRecord) -> Vec<(String, f64)> {
    let f = c.figures.as_ref().expect("every spin configuration ran");
    let mut out = vec![("samples/s".to_string(), f.throughput_samples_per_s.mean)];
    for p in [
        Percentile::Mean,
        Percentile::P50,
        Percentile::P95,
        Percentile::P99,
    ] {
        out.push((format!("latency {}", p.name()), f.latency_ms.get(p).mean));
    }
    out.extend(
        f.stages_ms
            .iter()
            .map(|(k, s)| (format!("stage {k}"), s.mean)),
    );
    out
}

#[test]
fn an_indexed_job_of_four_shards_reports_what_the_whole_sweep_reports() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_file(dir.path());

    let start = Instant::now();
    let whole = dir.path().join("whole.jsonl");
    ok(
        inferbench()
            .args(["sweep", "-q", "--config"])
            .arg(&spec)
            .arg("--out")
            .arg(&whole)
            .output()
            .unwrap(),
        "the whole sweep",
    );
    let whole_s = start.elapsed().as_secs_f64();

    let shard_dir = dir.path().join("results");
    std::fs::create_dir(&shard_dir).unwrap();
    let start = Instant::now();
    let pods: Vec<_> = (0..SHARDS)
        .map(|i| {
            inferbench()
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .args(["sweep", "-q", "--shards", &SHARDS.to_string(), "--config"])
                .arg(&spec)
                .arg("--out")
                .arg(&shard_dir)
                .spawn()
                .unwrap()
        })
        .collect();
    for pod in pods {
        ok(pod.wait_with_output().unwrap(), "a shard");
    }
    let sharded_s = start.elapsed().as_secs_f64();

    let whole_md = report(&whole, &dir.path().join("report-whole"));
    let sharded_md = report(&shard_dir, &dir.path().join("report-sharded"));
    let rows = table_rows(&whole_md);
    assert_eq!(rows.len(), 6, "{whole_md}");
    assert_eq!(
        table_rows(&sharded_md),
        rows,
        "same table, same order, same ⭐"
    );
    assert!(sharded_md.contains("Merged from 4 shards"), "{sharded_md}");
    // bs 16 at 400 requests/s offers four times the samples of any other point.
    let star = rows.iter().find(|r| r.1).unwrap();
    assert_eq!(star.0, "spin:100us-4px/bs16/eager/w1/shared/poisson:400");

    let a = SweepData::load(std::slice::from_ref(&whole)).unwrap();
    let b = shards::load(&[shard_dir], false).unwrap();
    let goal = recommend::Goal {
        constraint: recommend::Constraint::Throughput,
        percentile: Percentile::P95,
        budget_ms: None,
    };
    let chosen = |d: &SweepData| recommend::recommend(&d.configs, &goal).unwrap().chosen;
    assert_eq!(chosen(&a), chosen(&b));

    // Largest differences: relative for throughput, in ms for latencies and stages
    // (a relative difference of two 5 µs stage times says nothing).
    let mut tput = (0.0, String::new());
    let mut ms = (0.0, String::new());
    for (x, y) in a.configs.iter().zip(&b.configs) {
        assert_eq!(x.id, y.id);
        // What each shard ran and how often: the same as the whole sweep, exactly.
        assert_eq!(x.config, y.config, "{}", x.id);
        assert_eq!(
            (x.repeats, x.repeats_ok),
            (y.repeats, y.repeats_ok),
            "{}",
            x.id
        );
        for ((name, u), (_, v)) in figures(x).into_iter().zip(figures(y)) {
            let what = format!("{} {name}: {u:.3} vs {v:.3}", x.id);
            if name == "samples/s" {
                // Set by the seeded schedule, but the last response's delay moves it,
                // and a loaded machine can delay that response by as long as the
                // window (150 ms at 400 requests/s): printed, not asserted (issue 28).
                let rel = (u - v).abs() / u.max(v);
                if rel >= tput.0 {
                    tput = (rel, what);
                }
            } else {
                if name.starts_with("latency") {
                    // Nothing answers before its 100 µs forward has run.
                    assert!(u >= 0.1 && v >= 0.1, "{what} ms");
                }
                if (u - v).abs() >= ms.0 {
                    ms = ((u - v).abs(), what);
                }
            }
        }
    }
    eprintln!(
        "[shards] whole sweep {whole_s:.2} s, {SHARDS} shards side by side {sharded_s:.2} s (ratio {:.2}); \
         largest throughput difference {:.1} % ({}); largest latency/stage difference {:.3} ms ({})",
        sharded_s / whole_s,
        100.0 * tput.0,
        tput.1,
        ms.0,
        ms.1
    );
}

#[test]
fn bad_shard_input_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_file(dir.path());
    let sweep = |shard_args: &[&str], job_index: Option<&str>| {
        let mut cmd = inferbench();
        cmd.args(["sweep", "--dry-run", "--config"]).arg(&spec);
        cmd.args(shard_args);
        match job_index {
            Some(i) => cmd.env("JOB_COMPLETION_INDEX", i),
            None => cmd.env_remove("JOB_COMPLETION_INDEX"),
        };
        cmd.output().unwrap()
    };
    refused(sweep(&["--shard", "4/4"], None), "out of range");
    refused(
        sweep(&["--shards", "4"], Some("4")),
        "JOB_COMPLETION_INDEX=4",
    );
    refused(sweep(&["--shards", "4"], None), "JOB_COMPLETION_INDEX");
    refused(sweep(&["--shard", "two"], None), "INDEX/COUNT");
    let listed = ok(sweep(&["--shard", "0/4"], None), "a dry run");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("(shard 0/4 of 6)"), "{text}");

    // Two pods of four finished: the report names the other two and writes nothing.
    let results = dir.path().join("partial");
    std::fs::create_dir(&results).unwrap();
    for i in [0, 2] {
        let out = inferbench()
            .args(["sweep", "-q", "--config"])
            .arg(&spec)
            .args([
                "--shard",
                &format!("{i}/4"),
                "--iters",
                "5",
                "--repeats",
                "1",
                "--out",
            ])
            .arg(&results)
            .output()
            .unwrap();
        ok(out, "a shard");
    }
    let out = inferbench()
        .args(["report", "--input"])
        .arg(&results)
        .arg("--out-dir")
        .arg(dir.path().join("never"))
        .output()
        .unwrap();
    refused(out, "missing: shard 1/4");
    assert!(!dir.path().join("never").exists(), "no report is written");
}
