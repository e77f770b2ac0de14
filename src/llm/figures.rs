//! A run's figures from its request records: latency distributions of time to
//! first token (TTFT), inter-token latency (ITL), time per output token (TPOT) and
//! end to end, from the crate's HDR histograms; request and token throughput; and
//! goodput, the rate of requests that met the user's TTFT and TPOT bounds (the
//! service-level objective of DistServe and vLLM's benchmark).
//!
//! Latencies are those of completed requests, except TTFT, which any request that
//! got a first token has (a stream cut after its first token still measured it).
//! A figure nothing measured is `None`, never 0.

use serde::{Deserialize, Serialize};

use super::record::{Outcome, RequestRecord};
use crate::metrics::{LatencyRecorder, LatencySummary};

/// The bounds a request must meet to count toward goodput, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Slo {
    /// Time to first token at most this (none: any).
    pub ttft_ms: Option<f64>,
    /// Time per output token at most this (none: any). A completed request with one
    /// output token has no TPOT and meets this bound: there was nothing to exceed.
    pub tpot_ms: Option<f64>,
}

/// Requests by how they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Counts {
    /// Sent (the sum of the four below).
    pub sent: u64,
    /// Completed.
    pub completed: u64,
    /// Cut short: a stream that ended without `[DONE]`.
    pub cut_short: u64,
    /// Timed out.
    pub timed_out: u64,
    /// Failed: an error status, an error in the stream, or not the protocol.
    pub failed: u64,
}

/// Goodput over the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Goodput {
    /// The bounds.
    pub slo: Slo,
    /// Requests that completed within both bounds.
    pub good: u64,
    /// Good requests per second of the window.
    pub rps: Option<f64>,
    /// Good requests as a fraction of those sent.
    pub fraction: f64,
}

/// The figures of a window (or of one model's share of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmFigures {
    /// Requests by how they ended.
    pub counts: Counts,
    /// From the first intended send to the last answer's end, s.
    pub duration_s: f64,
    /// Completed requests per second.
    pub request_rps: Option<f64>,
    /// Output tokens of completed requests per second; `None` when a count is unknown.
    pub output_tokens_per_s: Option<f64>,
    /// Prompt tokens of completed requests, in total; `None` when a count is unknown.
    pub input_tokens: Option<u64>,
    /// Output tokens of completed requests, in total; `None` when a count is unknown.
    pub output_tokens: Option<u64>,
    /// Time to first token, ms (every request that got one).
    pub ttft_ms: Option<LatencySummary>,
    /// Inter-token latency, ms (every gap between text chunks of completed requests).
    pub itl_ms: Option<LatencySummary>,
    /// Time per output token, ms (one value per completed request with ≥ 2 tokens).
    pub tpot_ms: Option<LatencySummary>,
    /// End to end, ms (completed requests).
    pub e2e_ms: Option<LatencySummary>,
    /// Requests meeting the bounds; `None` without bounds, or with a TPOT bound and
    /// unknown output token counts.
    pub goodput: Option<Goodput>,
}

/// The figures of `records` over a window of `duration_s` seconds.
pub fn figures<'a>(
    records: impl IntoIterator<Item = &'a RequestRecord>,
    duration_s: f64,
    slo: Option<Slo>,
) -> LlmFigures {
    let [mut ttft, mut itl, mut tpot, mut e2e] = [(); 4].map(|_| LatencyRecorder::new());
    let mut counts = Counts::default();
    let (mut input, mut output) = (Some(0u64), Some(0u64));
    let mut good = 0u64;
    let mut goodput_known = true;
    for r in records {
        tally(&mut counts, &r.outcome);
        if let Some(t) = r.ttft_ns() {
            ttft.record(t);
        }
        if r.outcome != Outcome::Completed {
            continue;
        }
        r.itl_ns().for_each(|gap| itl.record(gap));
        if let Some(t) = r.tpot_ns() {
            tpot.record(t.round() as u64);
        }
        if let Some(end) = r.end_ns {
            e2e.record(end);
        }
        input = input.zip(r.input_tokens).map(|(a, b)| a + b);
        output = output.zip(r.output_tokens).map(|(a, b)| a + b);
        if let Some(slo) = slo {
            match meets(r, slo) {
                Some(true) => good += 1,
                Some(false) => {}
                None => goodput_known = false,
            }
        }
    }
    let rate = |n: u64| (duration_s > 0.0).then(|| n as f64 / duration_s);
    let completed = counts.completed;
    let goodput = slo
        .filter(|_| goodput_known && counts.sent > 0)
        .map(|slo| Goodput {
            slo,
            good,
            rps: rate(good),
            fraction: good as f64 / counts.sent as f64,
        });
    LlmFigures {
        counts,
        duration_s,
        request_rps: if completed > 0 { rate(completed) } else { None },
        output_tokens_per_s: output.filter(|_| completed > 0).and_then(rate),
        input_tokens: input.filter(|_| completed > 0),
        output_tokens: output.filter(|_| completed > 0),
        ttft_ms: ttft.summary(),
        itl_ms: itl.summary(),
        tpot_ms: tpot.summary(),
        e2e_ms: e2e.summary(),
        goodput,
    }
}

fn tally(counts: &mut Counts, outcome: &Outcome) {
    counts.sent += 1;
    match outcome {
        Outcome::Completed => counts.completed += 1,
        Outcome::CutShort(_) => counts.cut_short += 1,
        Outcome::TimedOut => counts.timed_out += 1,
        Outcome::Failed(_) => counts.failed += 1,
    }
}

/// Whether a completed request met `slo`; `None` when its TPOT bound cannot be
/// judged (its output token count is unknown).
fn meets(r: &RequestRecord, slo: Slo) -> Option<bool> {
    let ms = |ns: f64| ns / 1e6;
    let ttft_ok = match (slo.ttft_ms, r.ttft_ns()) {
        (None, _) => true,
        (Some(bound), Some(t)) => ms(t as f64) <= bound,
        // Not streamed, or no text: a TTFT bound cannot be judged.
        (Some(_), None) => return None,
    };
    let tpot_ok = match slo.tpot_ms {
        None => true,
        Some(bound) => match (r.output_tokens?, r.tpot_ns()) {
            (_, Some(t)) => ms(t) <= bound,
            (n, None) => n <= 1,
        },
    };
    Some(ttft_ok && tpot_ok)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A completed stream: first token at `ttft_ms`, then one every `gap_ms`.
    pub(crate) fn done(ttft_ms: u64, gap_ms: u64, tokens: u64) -> RequestRecord {
        let mut r = RequestRecord::new(0, 0);
        r.outcome = Outcome::Completed;
        r.chunk_ns = (0..tokens)
            .map(|k| (ttft_ms + k * gap_ms) * 1_000_000)
            .collect();
        r.end_ns = r.chunk_ns.last().copied();
        r.output_tokens = Some(tokens);
        r.input_tokens = Some(10);
        r
    }

    #[test]
    fn goodput_counts_requests_within_both_bounds_and_failures_are_counted() {
        let mut cut = done(100, 40, 3);
        cut.outcome = Outcome::CutShort("closed".into());
        let records = [done(100, 40, 6), done(100, 60, 6), done(300, 40, 6), cut];
        let slo = Slo {
            ttft_ms: Some(150.0),
            tpot_ms: Some(50.0),
        };
        let f = figures(&records, 2.0, Some(slo));
        assert_eq!(
            (f.counts.sent, f.counts.completed, f.counts.cut_short),
            (4, 3, 1)
        );
        let g = f.goodput.unwrap();
        assert_eq!((g.good, g.rps, g.fraction), (1, Some(0.5), 0.25));
        assert_eq!(f.output_tokens, Some(18));
        assert_eq!(f.request_rps, Some(1.5));
        assert_eq!(
            f.ttft_ms.unwrap().count,
            4,
            "the cut stream's first token counts"
        );
        assert_eq!(f.e2e_ms.unwrap().count, 3);
        assert!((f.tpot_ms.unwrap().max - 60.0).abs() < 0.1);
    }

    #[test]
    fn unknown_counts_and_no_requests_give_absent_figures() {
        let mut r = done(100, 40, 6);
        r.output_tokens = None;
        let slo = Slo {
            ttft_ms: None,
            tpot_ms: Some(50.0),
        };
        let f = figures([&r], 1.0, Some(slo));
        assert_eq!(
            (f.output_tokens, f.output_tokens_per_s, f.goodput),
            (None, None, None)
        );
        assert!(f.tpot_ms.is_none());
        let f = figures([], 1.0, None);
        assert_eq!((f.request_rps, f.ttft_ms), (None, None));
    }
}
