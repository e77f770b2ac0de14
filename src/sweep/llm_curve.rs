//! An LLM server's latency–throughput curve: one window of Poisson arrivals per
//! offered rate (the same prompts and models for every rate: the same seed), and the
//! recommendation "the highest rate with p99 TTFT ≤ X and p99 TPOT ≤ Y". Rates are
//! taken in ascending order and the answer is the last one before the first that
//! breaks a bound: a rate that passes above a failing one is noise, not capacity.
//! A rate where any request failed, was cut short or timed out never qualifies: the
//! percentiles of the survivors would hide exactly the overload they should show.

use crate::config::Arrival;
use crate::error::Result;
use crate::llm::{self, LlmConfig, LlmReport};

/// One rate's run.
#[derive(Debug, Clone)]
pub struct CurvePoint {
    /// Offered rate, requests/s.
    pub rate: f64,
    /// Its report.
    pub report: LlmReport,
}

/// The answer of a curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The highest qualifying rate, if any.
    pub rate: Option<f64>,
    /// The line printed.
    pub text: String,
}

/// Runs `cfg` at each of `rates` (ascending), handing each point to `on_point`
/// (which appends it to the results file) as soon as it is measured.
pub fn run_curve(
    cfg: &LlmConfig,
    rates: &[f64],
    progress: &mut dyn FnMut(&str),
    on_point: &mut dyn FnMut(&CurvePoint) -> Result<()>,
) -> Result<Vec<CurvePoint>> {
    let mut rates = rates.to_vec();
    rates.sort_by(f64::total_cmp);
    let mut points = Vec::new();
    for rate in rates {
        progress(&format!("rate {rate} requests/s"));
        let mut at = cfg.clone();
        at.arrival = Arrival::Poisson(rate);
        let point = CurvePoint {
            rate,
            report: llm::run(&at, progress)?,
        };
        on_point(&point)?;
        points.push(point);
    }
    Ok(points)
}

/// Why a point does not qualify, or `None` when it does.
fn breaks(p: &CurvePoint, ttft_ms: f64, tpot_ms: f64) -> Option<String> {
    let f = &p.report.figures;
    let lost = f.counts.sent - f.counts.completed;
    if lost > 0 {
        return Some(format!(
            "{lost} of {} requests did not complete",
            f.counts.sent
        ));
    }
    let (Some(ttft), Some(tpot)) = (f.ttft_ms, f.tpot_ms) else {
        return Some("p99 TTFT or p99 TPOT was not measured".into());
    };
    if ttft.p99 > ttft_ms {
        return Some(format!("p99 TTFT {:.2} ms > {ttft_ms} ms", ttft.p99));
    }
    if tpot.p99 > tpot_ms {
        return Some(format!("p99 TPOT {:.2} ms > {tpot_ms} ms", tpot.p99));
    }
    None
}

/// The highest rate before the first that breaks p99 TTFT ≤ `ttft_ms` or p99 TPOT ≤ `tpot_ms`.
pub fn recommend(points: &[CurvePoint], ttft_ms: f64, tpot_ms: f64) -> Recommendation {
    let goal = format!("p99 TTFT <= {ttft_ms} ms and p99 TPOT <= {tpot_ms} ms");
    let mut best = None;
    let mut stop = None;
    for p in points {
        match breaks(p, ttft_ms, tpot_ms) {
            None => best = Some(p.rate),
            Some(why) => {
                stop = Some(format!("{} requests/s broke it: {why}", p.rate));
                break;
            }
        }
    }
    let text = match (best, &stop) {
        (Some(rate), Some(why)) => format!("highest rate with {goal}: {rate} requests/s ({why})"),
        (Some(rate), None) => format!("highest rate with {goal}: {rate} requests/s, the highest measured (measure higher rates to find the limit)"),
        (None, Some(why)) => format!("no measured rate kept {goal}: {why}"),
        (None, None) => format!("no rate was measured for {goal}"),
    };
    Recommendation { rate: best, text }
}
