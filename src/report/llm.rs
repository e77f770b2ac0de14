//! The text an LLM run prints: what was measured against what, how each request
//! ended, the latency figures of the stream with their percentiles, throughput,
//! goodput, the client's own cost, and the server's metrics when scraped; then the
//! table of a curve over request rates with its recommendation. An absent figure
//! prints as `n/a` with the note that says why, never as 0.

use std::fmt::Write;

use crate::llm::figures::LlmFigures;
use crate::llm::prompts::{Lengths, PromptSource};
use crate::llm::tokens::TokenSource;
use crate::llm::LlmReport;
use crate::metrics::LatencySummary;
use crate::sweep::llm_curve::{CurvePoint, Recommendation};

/// `v` with `digits` decimals, or `n/a`.
pub(super) fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

fn latency_line(name: &str, s: Option<&LatencySummary>) -> String {
    match s {
        None => format!("  {name:<5} n/a\n"),
        Some(s) => format!(
            "  {name:<5} mean {:.2}  p50 {:.2}  p90 {:.2}  p95 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms  (n={})\n",
            s.mean, s.p50, s.p90, s.p95, s.p99, s.p999, s.max, s.count
        ),
    }
}

/// The figures of a window (every model, or one).
pub fn figures(f: &LlmFigures) -> String {
    let c = &f.counts;
    let mut out = format!(
        "  requests: {} sent, {} completed, {} cut short, {} timed out, {} failed in {:.2} s\n",
        c.sent, c.completed, c.cut_short, c.timed_out, c.failed, f.duration_s
    );
    out += &latency_line("TTFT", f.ttft_ms.as_ref());
    out += &latency_line("ITL", f.itl_ms.as_ref());
    out += &latency_line("TPOT", f.tpot_ms.as_ref());
    out += &latency_line("e2e", f.e2e_ms.as_ref());
    let tokens = |n: Option<u64>| n.map_or("n/a".into(), |n| n.to_string());
    let _ = writeln!(
        out,
        "  throughput: {} requests/s, {} output tokens/s (tokens in {}, out {})",
        opt(f.request_rps, 2),
        opt(f.output_tokens_per_s, 1),
        tokens(f.input_tokens),
        tokens(f.output_tokens)
    );
    if let Some(g) = &f.goodput {
        let bound = |b: Option<f64>| b.map_or("any".into(), |b| format!("<= {b} ms"));
        let _ = writeln!(
            out,
            "  goodput (TTFT {}, TPOT {}): {} of {} requests, {} requests/s",
            bound(g.slo.ttft_ms),
            bound(g.slo.tpot_ms),
            g.good,
            c.sent,
            opt(g.rps, 2)
        );
    }
    out
}

/// `N`, or `A..B` for a range.
pub(super) fn span(l: &Lengths) -> String {
    if l.min == l.max {
        l.min.to_string()
    } else {
        format!("{}..{}", l.min, l.max)
    }
}

/// A statistic's p50 or p99, or `n/a`.
pub(super) fn p50_or_p99(s: Option<&LatencySummary>, p99: bool) -> String {
    opt(s.map(|s| if p99 { s.p99 } else { s.p50 }), 2)
}

/// Each model of a run with its share of the requests: `a (90 %)`.
pub(super) fn models(c: &crate::llm::LlmConfig) -> Vec<String> {
    c.models
        .iter()
        .map(|m| format!("{} ({:.0} %)", m.name, m.share * 100.0))
        .collect()
}

/// The seed, and a curve window's own where it has one.
fn seed_words(c: &crate::llm::LlmConfig) -> String {
    match c.window_seed {
        Some(w) => format!("{} (this rate's window: {w})", c.seed),
        None => c.seed.to_string(),
    }
}

/// The summary of one run.
pub fn render(r: &LlmReport) -> String {
    let c = &r.config;
    let models = models(c);
    let prompts = match &c.prompts {
        PromptSource::Synthetic { input, output } => format!(
            "synthetic, input {} words, output {} tokens (max_tokens), uniform, seed {}",
            span(input),
            span(output),
            seed_words(c)
        ),
        PromptSource::ShareGpt {
            path,
            max_input_length,
            max_output_length,
        } => format!(
            "ShareGPT {} (input <= {max_input_length}, output <= {max_output_length}), seed {}",
            path.display(),
            seed_words(c)
        ),
    };
    let tokens = match &r.tokens {
        TokenSource::Tokenizer { path } => format!("counted with {}", path.display()),
        TokenSource::ServerUsage => "the server's usage counts".into(),
    };
    let mut out = format!(
        "{} {} {}, models {}\n  prompts: {prompts}\n  tokens: {tokens}\n",
        c.url,
        c.api.path(),
        if c.stream {
            "(streamed)"
        } else {
            "(whole answers)"
        },
        models.join(", ")
    );
    out += &figures(&r.figures);
    for m in &r.per_model {
        let _ = writeln!(out, "model {}:", m.model);
        out += &figures(&m.figures);
    }
    let k = &r.client;
    let _ = writeln!(
        out,
        "client: {:.3} s CPU ({:.1} % of a core), {} µs per output token, send lag up to {:.2} ms",
        k.cpu_s,
        k.cores_busy * 100.0,
        opt(k.cpu_per_output_token_us, 1),
        k.max_send_lag_ms
    );
    if let Some(m) = &r.server_metrics {
        let _ = writeln!(out, "server metrics ({}), over the window:", m.url);
        for h in m.histograms.iter().take(20) {
            let _ = writeln!(
                out,
                "  {}: {} observations, mean {:.4}",
                h.series, h.count, h.mean
            );
        }
        for d in m
            .deltas
            .iter()
            .filter(|d| d.series.contains("_total"))
            .take(20)
        {
            let _ = writeln!(out, "  {}: +{}", d.series, d.delta);
        }
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// The table of a curve, and its recommendation.
pub fn curve(points: &[CurvePoint], rec: Option<&Recommendation>) -> String {
    let mut out = String::from("offered req/s  achieved req/s  out tok/s  goodput req/s  TTFT p50 ms  TTFT p99 ms  TPOT p50 ms  TPOT p99 ms  failed\n");
    for p in points {
        let f = &p.report.figures;
        let pct = p50_or_p99;
        let _ = writeln!(
            out,
            "{:>13.2}  {:>14}  {:>9}  {:>13}  {:>11}  {:>11}  {:>11}  {:>11}  {:>6}",
            p.rate,
            opt(f.request_rps, 2),
            opt(f.output_tokens_per_s, 1),
            opt(f.goodput.and_then(|g| g.rps), 2),
            pct(f.ttft_ms.as_ref(), false),
            pct(f.ttft_ms.as_ref(), true),
            pct(f.tpot_ms.as_ref(), false),
            pct(f.tpot_ms.as_ref(), true),
            f.counts.sent - f.counts.completed
        );
    }
    if let Some(rec) = rec {
        out += &rec.text;
        out.push('\n');
    }
    out
}
