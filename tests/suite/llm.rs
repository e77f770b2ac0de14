//! The LLM client (`inferbench llm`) against a scripted server whose token timings
//! are known exactly (tests/suite/llm_server): TTFT, ITL, TPOT, end to end and goodput
//! within 2 % of the known answers; every way a request can end badly is counted;
//! bad prompt files, tokenizers and flags are refused by name.
//!
//! Bounds: the server sends each token at a deadline measured from when it read the
//! request, which is after the client's intended send time, so a measured figure is
//! never below the known one; noise on this busy machine only adds. So each figure
//! is checked against the known value from below with a small slack (clock
//! granularity) and from above at the median (2 %), where noise of a few requests
//! cannot reach; plus, from above, however late the server itself measured its own
//! writes (on an overloaded machine its thread wakes late, and the client is right
//! to see that).

use crate::llm_server;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use inferbench::config::Arrival;
use inferbench::llm::figures::LlmFigures;
use inferbench::llm::prompts::{Lengths, PromptSource};
use inferbench::llm::{self, Api, LlmConfig, LlmReport, ModelShare, Slo};
use llm_server::{Scripted, GAP_MS, SLOW_GAP_MS, TOKENS, TTFT_MS};

fn config(server: &Scripted, models: &[(&str, f64)]) -> LlmConfig {
    LlmConfig {
        url: server.url().parse().unwrap(),
        models: models
            .iter()
            .map(|(name, share)| ModelShare {
                name: name.to_string(),
                share: *share,
            })
            .collect(),
        api: Api::Completions,
        stream: true,
        prompts: PromptSource::Synthetic {
            input: Lengths::parse("input-len", "8..16").unwrap(),
            output: Lengths::parse("output-len", "6").unwrap(),
        },
        tokenizer: None,
        num_requests: 12,
        arrival: Arrival::Concurrency(4),
        seed: 1,
        window_seed: None,
        warmup: 1,
        request_timeout: Duration::from_secs(5),
        slo: None,
        scrape_metrics: None,
    }
}

fn run(cfg: &LlmConfig) -> inferbench::Result<LlmReport> {
    llm::run(cfg, &mut |_| {})
}

/// `got` is `want` (ms) within 2 % at the median, beyond the server's own lateness
/// (`late` ms: what the machine's scheduling added on the server's side, which the
/// client rightly measures), and not below `want` by more than 0.3 ms.
fn known(name: &str, got_p50: f64, got_min: f64, want: f64, late: f64) {
    assert!(
        got_min >= want - 0.3,
        "{name}: min {got_min} ms below the known {want} ms"
    );
    assert!(
        got_p50 <= want * 1.02 + late,
        "{name}: p50 {got_p50} ms more than 2 % above {want} ms (+ the server's {late} ms late)"
    );
}

/// The server's worst lateness so far, ms.
fn late_ms(server: &Scripted) -> f64 {
    server.late_ns.load(std::sync::atomic::Ordering::SeqCst) as f64 / 1e6
}

fn check_steady(f: &LlmFigures, gap: f64, late: f64) {
    let (ttft, itl, tpot, e2e) = (
        f.ttft_ms.unwrap(),
        f.itl_ms.unwrap(),
        f.tpot_ms.unwrap(),
        f.e2e_ms.unwrap(),
    );
    let e2e_want = TTFT_MS as f64 + (TOKENS - 1) as f64 * gap;
    known("TTFT", ttft.p50, ttft.min, TTFT_MS as f64, late);
    // A gap is the difference of two stamps, each late by noise: only the median is known.
    assert!(
        (itl.p50 - gap).abs() <= gap * 0.02 + late,
        "ITL p50 {} ms vs {gap} ms",
        itl.p50
    );
    assert!(
        (tpot.p50 - gap).abs() <= gap * 0.02 + late,
        "TPOT p50 {} ms vs {gap} ms",
        tpot.p50
    );
    known("e2e", e2e.p50, e2e.min, e2e_want, late);
    assert_eq!(itl.count, f.counts.completed * (TOKENS - 1));
    let err = |got: f64, want: f64| format!("{:+.2} %", (got / want - 1.0) * 100.0);
    eprintln!(
        "known answers (p50 vs known): TTFT {}, ITL {}, TPOT {}, e2e {} (server late by up to {late:.2} ms)",
        err(ttft.p50, TTFT_MS as f64),
        err(itl.p50, gap),
        err(tpot.p50, gap),
        err(e2e.p50, e2e_want)
    );
}

#[test]
fn ttft_itl_tpot_and_e2e_match_the_known_stream() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 1.0)]);
    cfg.slo = Some(Slo {
        ttft_ms: Some(TTFT_MS as f64 * 2.0),
        tpot_ms: Some(GAP_MS as f64 * 1.5),
    });
    let r = run(&cfg).unwrap();
    let f = &r.figures;
    assert_eq!((f.counts.sent, f.counts.completed), (12, 12));
    check_steady(f, GAP_MS as f64, late_ms(&server));
    assert_eq!(f.output_tokens, Some(12 * TOKENS));
    let g = f.goodput.unwrap();
    assert_eq!(
        g.good, 12,
        "every request is well within twice the known TTFT and 1.5× the gap"
    );
    // Throughput over the window: 12 requests, 4 at a time, 400 ms each: 3 rounds.
    let round_s = (TTFT_MS + (TOKENS - 1) * GAP_MS) as f64 / 1e3;
    assert!(
        f.duration_s >= 3.0 * round_s && f.duration_s <= 3.0 * round_s * 1.1,
        "{}",
        f.duration_s
    );
    let tps = f.output_tokens_per_s.unwrap();
    assert!((tps - 72.0 / f.duration_s).abs() < 1e-6);
    // 12 requests sent + 1 warm-up reached the server.
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::SeqCst),
        13
    );
}

#[test]
fn goodput_counts_only_the_requests_within_both_bounds() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 0.5), ("slow", 0.5)]);
    cfg.num_requests = 16;
    // The steady model's TPOT is 40 ms, the slow one's 80 ms: a 60 ms bound splits them.
    cfg.slo = Some(Slo {
        ttft_ms: Some(TTFT_MS as f64 * 2.0),
        tpot_ms: Some(60.0),
    });
    let r = run(&cfg).unwrap();
    assert_eq!(r.per_model.len(), 2);
    let (steady, slow) = (&r.per_model[0].figures, &r.per_model[1].figures);
    assert!(
        steady.counts.sent > 0 && slow.counts.sent > 0,
        "both models drawn"
    );
    assert_eq!(steady.counts.sent + slow.counts.sent, 16);
    check_steady(steady, GAP_MS as f64, late_ms(&server));
    check_steady(slow, SLOW_GAP_MS as f64, late_ms(&server));
    assert_eq!(r.figures.goodput.unwrap().good, steady.counts.completed);
    assert_eq!(slow.goodput.unwrap().good, 0);
    // The same seed sends the same models in the same order.
    let again = run(&cfg).unwrap();
    assert_eq!(again.per_model[0].figures.counts.sent, steady.counts.sent);
}

#[test]
fn cut_unfinished_and_silent_streams_are_counted_never_dropped() {
    let server = Scripted::start();
    let models = [
        ("cut", 0.2),
        ("nodone", 0.2),
        ("stops", 0.2),
        ("silent", 0.2),
        ("flaky", 0.2),
    ];
    let mut cfg = config(&server, &models);
    cfg.warmup = 0;
    cfg.num_requests = 20;
    cfg.request_timeout = Duration::from_millis(1500);
    let r = run(&cfg).unwrap();
    let by = |m: &str| {
        &r.per_model
            .iter()
            .find(|x| x.model == m)
            .unwrap()
            .figures
            .counts
    };
    let (cut, nodone, stops) = (by("cut"), by("nodone"), by("stops"));
    let (silent, flaky) = (by("silent"), by("flaky"));
    assert!([cut, nodone, stops, silent, flaky]
        .iter()
        .all(|c| c.sent > 0));
    assert_eq!((cut.cut_short, cut.completed), (cut.sent, 0));
    assert_eq!((stops.cut_short, stops.completed), (stops.sent, 0));
    // Whole but for the [DONE]: completed, and said so.
    assert_eq!((nodone.completed, nodone.cut_short), (nodone.sent, 0));
    assert_eq!(
        (silent.timed_out, silent.completed),
        (silent.sent, 0),
        "{:?}",
        r.notes
    );
    assert_eq!(flaky.completed + flaky.failed, flaky.sent);
    assert!(flaky.failed > 0);
    let c = &r.figures.counts;
    assert_eq!(c.sent, 20);
    assert_eq!(c.completed + c.cut_short + c.timed_out + c.failed, 20);
    // The cut streams' first tokens count toward TTFT; nothing else of theirs does.
    let ttft_n = r.figures.ttft_ms.unwrap().count;
    assert_eq!(
        ttft_n,
        cut.sent + stops.sent + nodone.sent + flaky.completed
    );
    assert_eq!(
        r.figures.e2e_ms.unwrap().count,
        nodone.sent + flaky.completed
    );
    let nodone_figures = &r.per_model.iter().find(|x| x.model == "nodone").unwrap();
    check_steady(&nodone_figures.figures, GAP_MS as f64, late_ms(&server));
    let notes = r.notes.join("\n");
    assert!(notes.contains("connection broke"), "{notes}");
    assert!(
        notes.contains("without a finish_reason or data: [DONE]"),
        "{notes}"
    );
    assert!(
        notes.contains("without data: [DONE]; counted as completed"),
        "{notes}"
    );
}

#[test]
fn errors_and_html_end_the_warm_up_with_what_the_server_said() {
    let server = Scripted::start();
    let err = run(&config(&server, &[("error", 1.0)]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HTTP 500") && err.contains("scripted failure"),
        "{err}"
    );
    let err = run(&config(&server, &[("html", 1.0)]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("text/html") && err.contains("502 Bad Gateway"),
        "{err}"
    );
    let mut cfg = config(&server, &[("silent", 1.0)]);
    cfg.request_timeout = Duration::from_millis(300);
    let err = run(&cfg).unwrap_err().to_string();
    assert!(err.contains("--request-timeout"), "{err}");
    // Measured instead of warmed up: counted as failed.
    let mut cfg = config(&server, &[("html", 1.0)]);
    cfg.warmup = 0;
    let r = run(&cfg).unwrap();
    assert_eq!(r.figures.counts.failed, 12);
    assert_eq!((r.figures.request_rps, r.figures.ttft_ms), (None, None));
}

#[test]
fn whole_answers_have_an_end_to_end_latency_and_no_ttft() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 1.0)]);
    cfg.stream = false;
    cfg.api = Api::Chat;
    cfg.slo = Some(Slo {
        ttft_ms: Some(1000.0),
        tpot_ms: None,
    });
    let r = run(&cfg).unwrap();
    let f = &r.figures;
    assert_eq!(f.counts.completed, 12);
    assert!(f.ttft_ms.is_none() && f.tpot_ms.is_none() && f.goodput.is_none());
    let e2e = f.e2e_ms.unwrap();
    known(
        "e2e",
        e2e.p50,
        e2e.min,
        (TTFT_MS + (TOKENS - 1) * GAP_MS) as f64,
        late_ms(&server),
    );
    assert_eq!(f.output_tokens, Some(12 * TOKENS), "the server's usage");
}

#[test]
fn server_metrics_are_the_difference_over_the_window() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 1.0)]);
    cfg.scrape_metrics = Some(format!("http://127.0.0.1:{}/metrics", server.port));
    let r = run(&cfg).unwrap();
    let m = r.server_metrics.unwrap();
    let d = m
        .deltas
        .iter()
        .find(|d| d.series == "scripted_requests_total")
        .unwrap();
    assert_eq!(d.delta, 12.0, "the warm-up came before the first reading");
    assert!(
        m.deltas.iter().all(|d| d.series != "scripted_in_flight"),
        "a gauge has no delta"
    );
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("inferbench-llm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A word-level tokenizer.json: `split` is its pre-tokenizer.
fn tokenizer(name: &str, split: &str) -> PathBuf {
    let json = format!(
        r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{split},"post_processor":null,"decoder":null,"model":{{"type":"WordLevel","vocab":{{"tok":0,"[UNK]":1}},"unk_token":"[UNK]"}}}}"#
    );
    write(name, &json)
}

#[test]
fn a_tokenizer_counts_and_one_that_does_not_match_the_server_is_refused() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 1.0)]);
    cfg.tokenizer = Some(tokenizer("words.json", r#"{"type":"WhitespaceSplit"}"#));
    let r = run(&cfg).unwrap();
    assert_eq!(r.figures.output_tokens, Some(12 * TOKENS));
    check_steady(&r.figures, GAP_MS as f64, late_ms(&server));
    // Each character a token: 4 per " tok", where the server counts 1.
    cfg.tokenizer = Some(tokenizer(
        "chars.json",
        r#"{"type":"Split","pattern":{"Regex":"\\S"},"behavior":"Isolated","invert":false}"#,
    ));
    let err = run(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("not the tokenizer of the server's model"),
        "{err}"
    );
    cfg.tokenizer = Some(write("not-a-tokenizer.json", "{}"));
    let err = run(&cfg).unwrap_err().to_string();
    assert!(err.contains("not a tokenizer.json"), "{err}");
}

#[test]
fn sharegpt_files_are_filtered_and_other_shapes_refused_by_name() {
    let server = Scripted::start();
    let mut cfg = config(&server, &[("steady", 1.0)]);
    let good = r#"[{"id":"a","conversations":[{"from":"human","value":"one two three four five"},{"from":"gpt","value":"a b c d e f"}]},
                  {"id":"b","conversations":[{"from":"human","value":"way too long a prompt for the limit we give it here"},{"from":"gpt","value":"a b c d"}]},
                  {"id":"c","conversations":[{"from":"human","value":"only one turn"}]}]"#;
    cfg.prompts = PromptSource::ShareGpt {
        path: write("good.json", good),
        max_input_length: 8,
        max_output_length: 8,
    };
    let r = run(&cfg).unwrap();
    assert_eq!(r.figures.counts.completed, 12);
    // Input tokens by the server's usage (its word count): only conversation a fits.
    assert_eq!(r.figures.input_tokens, Some(12 * 5));
    for (name, text, want) in [
        ("empty.json", "", "the file is empty"),
        (
            "object.json",
            r#"{"conversations":[]}"#,
            "the top level is not an array",
        ),
        (
            "plain.json",
            r#"[{"prompt":"hi"}]"#,
            "entry 0 has no \"conversations\" array",
        ),
        ("text.txt", "just some text", "not JSON"),
        (
            "long.json",
            good.replace("a b c d e f", &"x ".repeat(20)).as_str(),
            "none of its 3 conversations",
        ),
    ] {
        let limit = if name == "long.json" { 4 } else { 8 };
        cfg.prompts = PromptSource::ShareGpt {
            path: write(name, text),
            max_input_length: limit,
            max_output_length: 8,
        };
        let err = run(&cfg).unwrap_err().to_string();
        assert!(
            err.contains(want) && err.contains("prompts"),
            "{name}: {err}"
        );
    }
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_refuses_what_does_not_apply_by_name() {
    let t = "openai://127.0.0.1:9/v1";
    for (args, want) in [
        (vec!["run", "--target", t], "inferbench llm"),
        (
            vec![
                "llm",
                "--target",
                t,
                "--model",
                "m",
                "--max-input-length",
                "10",
            ],
            "--max-input-length filters a ShareGPT file",
        ),
        (
            vec![
                "llm",
                "--target",
                t,
                "--model",
                "m",
                "--prompts",
                "x.json",
                "--input-len",
                "10",
            ],
            "--input-len sizes synthetic prompts",
        ),
        (
            vec!["llm", "--target", t, "--model", "a,b"],
            "--traffic-split",
        ),
        (
            vec![
                "llm",
                "--target",
                t,
                "--model",
                "a,b",
                "--traffic-split",
                "0.9,0.2",
            ],
            "sum to 1",
        ),
        (
            vec!["llm", "--target", t, "--model", "m", "--rates", "1,2"],
            "--goodput-ttft-ms",
        ),
        (
            vec![
                "llm",
                "--target",
                t,
                "--model",
                "m",
                "--rates",
                "1",
                "--arrival",
                "burst",
            ],
            "--arrival",
        ),
        (
            vec!["llm", "--target", t, "--model", "m", "--workers", "2"],
            "--workers",
        ),
        (
            vec!["llm", "--target", "http://h:1/v1", "--model", "m"],
            "openai://HOST:PORT",
        ),
        (
            vec![
                "llm",
                "--target",
                t,
                "--model",
                "m",
                "--tokenizer",
                "/nonexistent/tokenizer.json",
            ],
            "no such file",
        ),
    ] {
        let (ok, err) = cli(&args);
        assert!(!ok && err.contains(want), "{args:?}: {err}");
    }
}

/// `--rates auto`: a burst measures the capacity first and the curve's rates are the
/// tensor curve's fractions of it. The scripted server answers every request in
/// parallel in `TTFT + (TOKENS − 1) · GAP` = 400 ms, so a burst of 8 can be served at
/// most 8 / 0.4 s = 20 requests/s: the capacity is at most that, and far above 0.
#[test]
fn rates_auto_measure_the_capacity_then_take_fractions_of_it() {
    let server = Scripted::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("llm.jsonl");
    let url = server.url();
    let args = [
        "llm",
        "--target",
        &url,
        "--model",
        "m",
        "--iters",
        "8",
        "--output-len",
        "6",
        "--rates",
        "auto",
        "--goodput-ttft-ms",
        "10000",
        "--goodput-tpot-ms",
        "10000",
        "--out",
        out.to_str().unwrap(),
    ];
    let (ok, err) = cli(&args);
    assert!(ok, "{err}");
    let reports: Vec<LlmReport> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        reports.len(),
        1 + 8,
        "the capacity burst and one window per rate"
    );
    assert_eq!(reports[0].config.arrival, Arrival::Burst);
    // The burst has the seed, and each rate's window a seed of its own (seed + k), so
    // that a server caching prompts answers no window from an earlier one's.
    let seeds: Vec<u64> = reports.iter().map(|r| r.config.draw_seed()).collect();
    assert_eq!(seeds, (0..=8).collect::<Vec<u64>>());
    assert!(
        reports.iter().all(|r| r.config.seed == 0),
        "the curve's seed stays"
    );
    let capacity = reports[0].figures.request_rps.unwrap();
    let round_s = (TTFT_MS + (TOKENS - 1) * GAP_MS) as f64 / 1e3;
    assert!(
        capacity <= 8.0 / round_s + 1e-9 && capacity > 1.0,
        "capacity {capacity} requests/s"
    );
    let rates: Vec<f64> = reports[1..]
        .iter()
        .map(|r| match r.config.arrival {
            Arrival::Poisson(rate) => rate,
            ref other => panic!("a curve window with {other:?}"),
        })
        .collect();
    let want = inferbench::sweep::curve::auto_rates(capacity);
    assert_eq!(rates.len(), want.len());
    // The capacity went through the results file's JSON: equal to the last bits.
    for (got, w) in rates.iter().zip(&want) {
        assert!(
            (got / w - 1.0).abs() < 1e-12,
            "rates {rates:?}, want {want:?}"
        );
    }
    assert!(err.contains("capacity"), "{err}");
}

#[test]
fn a_server_that_closes_every_connection_after_answering_loses_no_request() {
    // llama.cpp's server advertises keep-alive and closes the connection after each
    // stream: a pooled client sends the next request down a connection about to close.
    let server = Scripted::with_timing(crate::llm_server::Timing {
        ttft_ms: 10,
        gap_ms: 5,
    });
    let mut cfg = config(&server, &[("closes", 1.0)]);
    cfg.arrival = Arrival::Concurrency(1);
    cfg.num_requests = 30;
    let r = run(&cfg).unwrap();
    let c = &r.figures.counts;
    assert_eq!(
        (c.sent, c.completed, c.failed),
        (30, 30, 0),
        "{:?}",
        r.notes
    );
    // Each request was read by the server once (the warm-up too): a request sent
    // again had died unread, and none was answered twice.
    assert_eq!(
        server.requests.load(std::sync::atomic::Ordering::SeqCst),
        31
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("sent again after the server closed")),
        "{:?}",
        r.notes
    );
}
