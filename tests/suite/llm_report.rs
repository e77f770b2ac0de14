//! `inferbench report` on the results of `inferbench llm`, measured against the
//! scripted server (tests/suite/llm_server), whose first token always comes
//! 200 ms after the request is read: so a 10 s bound is kept at every rate and a
//! 100 ms bound at none, whatever the machine is doing.

use crate::llm_server::Scripted;

use std::path::Path;
use std::process::{Command, Output};

fn inferbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_curve_of_llm_windows_becomes_a_table_a_recommendation_and_a_plot() {
    let server = Scripted::start();
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("llm.jsonl");
    let url = server.url();
    #[rustfmt::skip]
    let measured = inferbench(&["llm", "--target", &url, "--model", "m", "--iters", "8",
        "--output-len", "6", "--rates", "2,4", "--goodput-ttft-ms", "10000",
        "--goodput-tpot-ms", "10000", "--out", s(&results), "-q"]);
    assert!(measured.status.success(), "{}", text(&measured));
    // Asked for, every rate's window sends the seed's requests.
    let same = dir.path().join("same.jsonl");
    #[rustfmt::skip]
    let again = inferbench(&["llm", "--target", &url, "--model", "m", "--iters", "8",
        "--output-len", "6", "--rates", "2,4", "--goodput-ttft-ms", "10000",
        "--goodput-tpot-ms", "10000", "--out", s(&same), "-q", "--seed", "5",
        "--same-seed-every-rate"]);
    assert!(again.status.success(), "{}", text(&again));
    // (the curve's seed, the window's own)
    let seeds = |path: &Path| -> Vec<(u64, Option<u64>)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let c = &serde_json::from_str::<serde_json::Value>(l).unwrap()["config"];
                (c["seed"].as_u64().unwrap(), c["window_seed"].as_u64())
            })
            .collect()
    };
    assert_eq!(seeds(&same), [(5, None), (5, None)]);
    assert_eq!(seeds(&results), [(0, Some(1)), (0, Some(2))]);

    // The runs' own bounds: both rates keep them, so the higher one is the answer.
    let out_dir = dir.path().join("report");
    let report = inferbench(&["report", "--input", s(&results), "--out-dir", s(&out_dir)]);
    assert!(report.status.success(), "{}", text(&report));
    let said = String::from_utf8_lossy(&report.stdout);
    assert!(
        said.contains(
            "highest rate with p99 TTFT <= 10000 ms and p99 TPOT <= 10000 ms: 4 requests/s"
        ),
        "{said}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.starts_with("# inferbench LLM report"), "{md}");
    for row in ["| poisson 2.000/s | 8 | 8 |", "| poisson 4.000/s | 8 | 8 |"] {
        assert!(md.contains(row), "no row '{row}' in:\n{md}");
    }
    let svg = std::fs::read_to_string(out_dir.join("llm_latency_vs_rate.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("p99 TTFT") && svg.contains("p99 TPOT"));

    // The report's own bounds replace the runs': no rate keeps a 100 ms TTFT.
    #[rustfmt::skip]
    let strict = inferbench(&["report", "--input", s(&results), "--out-dir", s(&out_dir),
        "--goodput-ttft-ms", "100", "--goodput-tpot-ms", "100"]);
    assert!(strict.status.success(), "{}", text(&strict));
    let said = String::from_utf8_lossy(&strict.stdout);
    assert!(
        said.contains("no measured rate kept p99 TTFT <= 100 ms"),
        "{said}"
    );

    // LLM and sweep results together, and the bounds of one given to the other, are refused.
    let sweep = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sweep/known.jsonl");
    #[rustfmt::skip]
    let mixed = inferbench(&["report", "--input", s(&results), "--input", s(&sweep),
        "--out-dir", s(&out_dir)]);
    assert!(!mixed.status.success());
    assert!(
        text(&mixed).contains("mixes `inferbench llm` results with sweep results"),
        "{}",
        text(&mixed)
    );
    #[rustfmt::skip]
    let sweep_flag = inferbench(&["report", "--input", s(&results), "--out-dir", s(&out_dir),
        "--latency-pct", "p99"]);
    assert!(!sweep_flag.status.success());
    assert!(
        text(&sweep_flag).contains("--latency-pct is for sweep results"),
        "{}",
        text(&sweep_flag)
    );
    #[rustfmt::skip]
    let wrong = inferbench(&["report", "--input", s(&sweep), "--out-dir", s(&dir.path().join("r2")),
        "--goodput-ttft-ms", "100", "--goodput-tpot-ms", "100"]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("are for `inferbench llm` results"),
        "{}",
        text(&wrong)
    );
}

#[test]
fn a_curve_cut_over_replicas_comes_back_together_and_a_missing_shard_is_named() {
    // Two scripted servers stand for two replicas, one beside each shard.
    let replicas = [Scripted::start(), Scripted::start()];
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("shards");
    let shard = |i: usize| {
        #[rustfmt::skip]
        let out = inferbench(&["llm", "--target", &replicas[i].url(), "--model", "m",
            "--iters", "8", "--output-len", "6", "--rates", "4,8,16",
            "--goodput-ttft-ms", "10000", "--goodput-tpot-ms", "10000",
            "--shard", &format!("{i}/2"), "--out", s(&folder), "-q"]);
        assert!(out.status.success(), "{}", text(&out));
        out
    };
    let rates_in = |i: usize| -> Vec<f64> {
        std::fs::read_to_string(folder.join(format!("llm-shard-{i}-of-2.jsonl")))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["shard"]["rates"], serde_json::json!([4.0, 8.0, 16.0]));
                let rate = v["config"]["arrival"]["value"].as_f64().unwrap();
                // The k-th rate of the whole curve draws with seed + k, whichever
                // shard measures it (a caching server must not see a window's
                // prompts again in another window).
                let k = [4.0, 8.0, 16.0].iter().position(|&r| r == rate).unwrap() as u64;
                assert_eq!(v["config"]["window_seed"], k + 1, "{rate} requests/s");
                rate
            })
            .collect()
    };
    let first = shard(0);
    assert!(
        text(&first).contains("the recommendation needs every shard's windows"),
        "{}",
        text(&first)
    );
    shard(1);
    // By cost (iters / rate): the 2 s window alone, the 1 s and 0.5 s ones together.
    assert_eq!(rates_in(0), [4.0]);
    assert_eq!(rates_in(1), [8.0, 16.0]);
    // A retried shard replaces its file instead of doubling its windows.
    shard(1);
    assert_eq!(rates_in(1), [8.0, 16.0]);
    assert_eq!(
        replicas[0]
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        8 + 1
    );

    let out_dir = dir.path().join("report");
    let report = inferbench(&["report", "--input", s(&folder), "--out-dir", s(&out_dir)]);
    assert!(report.status.success(), "{}", text(&report));
    assert!(
        String::from_utf8_lossy(&report.stdout).contains(": 16 requests/s"),
        "{}",
        text(&report)
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("measured by 2 of 2 shards"), "{md}");
    assert!(!md.contains("incomplete"), "{md}");

    std::fs::remove_file(folder.join("llm-shard-0-of-2.jsonl")).unwrap();
    let report = inferbench(&["report", "--input", s(&folder), "--out-dir", s(&out_dir)]);
    assert!(report.status.success(), "{}", text(&report));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("measured by 1 of 2 shards")
            && md.contains("**incomplete**: no shard's file holds the rate(s) 4 requests/s"),
        "{md}"
    );
}

#[test]
fn a_shard_without_rates_given_or_into_one_file_is_refused_by_name() {
    let base = [
        "llm",
        "--target",
        "openai://127.0.0.1:9/v1",
        "--model",
        "m",
        "-q",
    ];
    let refused = |extra: &[&str], expect: &str| {
        let out = inferbench(&[&base[..], extra].concat());
        assert!(!out.status.success(), "{extra:?}");
        assert!(text(&out).contains(expect), "{extra:?}: {}", text(&out));
    };
    refused(&["--shard", "0/2"], "--rates");
    #[rustfmt::skip]
    refused(&["--shard", "0/2", "--rates", "auto", "--goodput-ttft-ms", "1", "--goodput-tpot-ms", "1"],
        "--rates auto with a shard");
    #[rustfmt::skip]
    refused(&["--shard", "0/2", "--rates", "1,2", "--goodput-ttft-ms", "1", "--goodput-tpot-ms", "1",
        "--out", "x.jsonl"], "give a folder");
    #[rustfmt::skip]
    refused(&["--shard", "2/2", "--rates", "1,2", "--goodput-ttft-ms", "1", "--goodput-tpot-ms", "1"],
        "out of range");
}
