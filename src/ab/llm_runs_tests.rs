//! The plumbing of `llm-ab` without a server: a window's figures become a
//! measurement (absent stays absent), lost requests and zero figures are errors that
//! name the side, the two sides are checked, and LLM measurements go through the
//! A/B judgement to the verdict a known ratio must give.

use std::time::Duration;

use super::*;
use crate::ab::procedure::judge;
use crate::ab::AbOptions;
use crate::compare::Verdict;
use crate::config::Arrival;
use crate::llm::figures::tests::done;
use crate::llm::figures::{figures, Slo};
use crate::llm::prompts::{Lengths, PromptSource};
use crate::llm::record::{Outcome, RequestRecord};
use crate::llm::{Api, ModelShare};

fn config(url: &str, model: &str) -> LlmConfig {
    LlmConfig {
        url: url.parse().unwrap(),
        models: vec![ModelShare {
            name: model.into(),
            share: 1.0,
        }],
        api: Api::Completions,
        stream: true,
        prompts: PromptSource::Synthetic {
            input: Lengths::parse("input-len", "8").unwrap(),
            output: Lengths::parse("output-len", "6").unwrap(),
        },
        tokenizer: None,
        num_requests: 4,
        arrival: Arrival::Concurrency(2),
        seed: 0,
        window_seed: None,
        warmup: 1,
        request_timeout: Duration::from_secs(5),
        slo: None,
        scrape_metrics: None,
    }
}

#[test]
fn a_window_becomes_a_measurement_and_absent_figures_stay_absent() {
    let records = [done(20, 10, 6), done(40, 10, 6)];
    let slo = Some(Slo {
        ttft_ms: Some(30.0),
        tpot_ms: None,
    });
    let f = figures(&records, 2.0, slo);
    let m = measurement(&f, Some("x".into()));
    assert_eq!(m.get(Figure::RequestsPerS), Some(1.0));
    assert_eq!(m.get(Figure::OutputTokensPerS), Some(6.0));
    assert_eq!(m.get(Figure::Goodput), Some(0.5), "one of two within 30 ms");
    assert!((m.get(Figure::TtftP99).unwrap() - 40.0).abs() < 0.1);
    assert!((m.get(Figure::TpotP50).unwrap() - 10.0).abs() < 0.1);
    assert!((m.get(Figure::E2eP99).unwrap() - 90.0).abs() < 0.2);
    assert_eq!(m.config_id.as_deref(), Some("x"));
    // Whole answers without usage: no TTFT, no TPOT, no tokens; never a 0.
    let mut whole = RequestRecord::new(0, 0);
    whole.outcome = Outcome::Completed;
    whole.end_ns = Some(50_000_000);
    let m = measurement(&figures([&whole], 1.0, None), None);
    let present: Vec<Figure> = m.values.keys().copied().collect();
    assert_eq!(present, [Figure::RequestsPerS, Figure::E2eP99]);
}

#[test]
fn a_window_that_lost_requests_is_an_error_naming_side_and_counts() {
    let url = "openai://127.0.0.1:9/v1";
    let mut failed = done(20, 10, 6);
    failed.outcome = Outcome::Failed("HTTP 500: boom".into());
    let timed_out = RequestRecord::new(0, 0);
    let counts = figures(&[done(20, 10, 6), failed, timed_out], 1.0, None).counts;
    let notes = ["a request ended: HTTP 500: boom".to_string()];
    let err = lost(Side::Head, "window 3", url, counts, &notes)
        .unwrap_err()
        .to_string();
    for needle in [
        "head",
        "127.0.0.1:9",
        "lost 2 of 3",
        "window 3",
        "1 failed",
        "1 timed out",
        "HTTP 500: boom",
    ] {
        assert!(err.contains(needle), "'{needle}' not in: {err}");
    }
    let fine = figures(&[done(20, 10, 6)], 1.0, None).counts;
    lost(Side::Base, "window 1", url, fine, &[]).unwrap();
}

#[test]
fn the_sides_are_checked_and_only_measurable_figures_judged() {
    let a = config("openai://127.0.0.1:8001/v1", "m");
    let same = LlmSides {
        base: a.clone(),
        head: a.clone(),
    };
    let err = same.check(false).unwrap_err().to_string();
    assert!(
        err.contains("head") && err.contains("--allow-same"),
        "{err}"
    );
    assert!(same.check(true).unwrap().unwrap().contains("A/A"));
    let mut other = a.clone();
    other.models[0].name = "m2".into();
    let two_models = LlmSides {
        base: a.clone(),
        head: other,
    };
    assert_eq!(two_models.check(false).unwrap(), None);
    assert_eq!(two_models.id(), "llm/m2/completions/concurrency:2");
    // Streams without bounds: everything but goodput.
    let all = two_models.measurable();
    assert_eq!(all.len(), Figure::LLM.len() - 1);
    assert!(!all.contains(&Figure::Goodput));
    let err = two_models
        .judged(&[Figure::Goodput], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("figures") && err.contains("--goodput-ttft-ms"),
        "{err}"
    );
    let mut whole = two_models.clone();
    whole.base.stream = false;
    assert_eq!(
        whole.measurable(),
        [
            Figure::OutputTokensPerS,
            Figure::RequestsPerS,
            Figure::E2eP99
        ]
    );
    assert!(whole.judged(&[Figure::TtftP50], true).is_err());
    // A bad side's configuration names the side.
    let mut bad = two_models.clone();
    bad.head.num_requests = 0;
    let err = bad.check(false).unwrap_err().to_string();
    assert!(err.contains("head") && err.contains("iters"), "{err}");
}

#[test]
fn llm_measurements_are_judged_as_ab_judges_them() {
    // TTFT doubled on the head, the same tokens per second: TTFT regressed by +100 %,
    // output tokens/s within noise; the pipeline's figures never appear.
    let m = |ttft: f64, jitter: f64| {
        Measurement::from_figures(
            [
                (Figure::TtftP50, Some(ttft * jitter)),
                (Figure::OutputTokensPerS, Some(100.0 * jitter)),
                (Figure::TpotP50, None),
            ],
            None,
        )
    };
    let blocks: Vec<Vec<(Measurement, Measurement)>> = (0..8)
        .map(|k| {
            let j = 1.0 + 0.001 * (k % 3) as f64;
            vec![(m(20.0, 1.0), m(40.0, j)), (m(20.0, j), m(40.0, 1.0))]
        })
        .collect();
    let options = AbOptions {
        figures: Figure::LLM.to_vec(),
        ..AbOptions::default()
    };
    let r = judge("llm/m", "", &blocks, &options);
    let names: Vec<Figure> = r.figures.iter().map(|f| f.figure).collect();
    assert_eq!(names, [Figure::OutputTokensPerS, Figure::TtftP50]);
    let ttft = &r.figures[1];
    assert_eq!(ttft.verdict, Verdict::Regressed);
    assert!(
        (ttft.change.unwrap().point - 1.0).abs() < 0.01,
        "{:?}",
        ttft.change
    );
    assert_eq!(r.figures[0].verdict, Verdict::WithinNoise);
    assert!(r.settled());
}
