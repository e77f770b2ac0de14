//! An LLM server's latency–throughput curve: one window of Poisson arrivals per
//! offered rate (prompts of the same lengths at every rate, each rate's window its
//! own prompts: [`WindowSeeds`]), and the recommendation "the highest rate with p99 TTFT ≤ X and p99 TPOT ≤ Y". Rates are
//! taken in ascending order and the answer is the last one before the first that
//! breaks a bound: a rate that passes above a failing one is noise, not capacity.
//! A rate where any request failed, was cut short or timed out never qualifies: the
//! percentiles of the survivors would hide exactly the overload they should show.
//!
//! Without rates given (`--rates auto`), a burst window first measures the server's
//! capacity for these requests ([`measure_capacity`]) and the rates are the tensor
//! curve's fractions of it ([`crate::sweep::curve::auto_rates`]).
//!
//! A curve can be cut over server replicas ([`shard_rates`]): each shard measures
//! its own server (a pod with the server beside the client), at its part of the
//! rates, and the report puts the windows back into one curve. That is only a curve
//! of one server if the replicas are alike (same model, hardware and flags).

use super::part::Shard;
use super::shard::partition;
use crate::config::Arrival;
use crate::error::{Error, Result};
use crate::llm::report::CurveShard;
use crate::llm::{self, LlmConfig, LlmReport};

/// Shard `shard`'s part of `rates`, ascending: the rates cut by their cost, a
/// window's length `iters / rate` (the low rates are the long windows), longest
/// first to the least loaded shard, as a sweep's grid is cut ([`partition`]). Every
/// rate lands in exactly one shard; a shard gets none when there are fewer rates
/// than shards.
pub fn shard_rates(rates: &[f64], iters: u32, shard: Shard) -> Vec<f64> {
    let costs: Vec<u128> = rates
        .iter()
        .map(|&r| (f64::from(iters.max(1)) / r.max(1e-9) * 1e6) as u128)
        .collect();
    let mut mine: Vec<f64> = partition(&costs, shard.count)[shard.index as usize]
        .iter()
        .map(|&i| rates[i])
        .collect();
    mine.sort_by(f64::total_cmp);
    mine
}

/// What a shard's windows record: which shard, and every rate of the curve.
pub fn curve_shard(rates: &[f64], shard: Shard) -> CurveShard {
    let mut rates = rates.to_vec();
    rates.sort_by(f64::total_cmp);
    CurveShard {
        index: shard.index,
        count: shard.count,
        rates,
    }
}

/// Which requests each window of a curve sends.
///
/// Servers that cache prompts (llama.cpp's slots, vLLM's and SGLang's prefix
/// caches) answer a prompt they have seen from the cache: with the same requests at
/// every rate, every window after the first measured cache hits (llama.cpp took 1,924
/// of a second window's 1,964 prompt tokens from its cache), and its TTFT with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSeeds {
    /// The window at the curve's k-th rate (ascending, the lowest k = 1) draws its
    /// prompts, models and arrivals with seed + k: the same lengths from the same
    /// distribution, other texts, and never the capacity burst's (which has the
    /// seed). A rate's window sends the same requests whichever shard measures it.
    PerRate,
    /// Every window draws with the seed: the same requests at every rate.
    Same,
}

impl WindowSeeds {
    /// The window seed at position `k` (from 0) of the curve's ascending rates;
    /// none: the window draws with the curve's seed.
    pub fn of(self, seed: u64, k: usize) -> Option<u64> {
        match self {
            Self::PerRate => Some(seed.wrapping_add(k as u64 + 1)),
            Self::Same => None,
        }
    }
}

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
/// (which appends it to the results file) as soon as it is measured; each window
/// records `shard` when the curve is a shard's part, and draws its requests as
/// `seeds` says (its place counted among the whole curve's rates, a shard's too).
pub fn run_curve(
    cfg: &LlmConfig,
    (rates, shard, seeds): (&[f64], Option<&CurveShard>, WindowSeeds),
    progress: &mut dyn FnMut(&str),
    on_point: &mut dyn FnMut(&CurvePoint) -> Result<()>,
) -> Result<Vec<CurvePoint>> {
    let mut rates = rates.to_vec();
    rates.sort_by(f64::total_cmp);
    let mut points = Vec::new();
    for (i, rate) in rates.into_iter().enumerate() {
        // A shard's rate's place is in the whole curve (its record's rates, ascending).
        let k = shard
            .and_then(|s| s.rates.iter().position(|&r| r == rate))
            .unwrap_or(i);
        let mut at = cfg.clone();
        at.window_seed = seeds.of(cfg.seed, k);
        progress(&format!("rate {rate} requests/s (seed {})", at.draw_seed()));
        at.arrival = Arrival::Poisson(rate);
        let mut report = llm::run(&at, progress)?;
        report.shard = shard.cloned();
        let point = CurvePoint { rate, report };
        on_point(&point)?;
        points.push(point);
    }
    Ok(points)
}

/// The server's capacity for `cfg`'s requests, requests/s: every request of one
/// window sent at once (a burst), completed requests over the window. Its report
/// comes back with it, for the results file. An error where no request completed:
/// there is then no capacity to take fractions of.
pub fn measure_capacity(
    cfg: &LlmConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<(f64, LlmReport)> {
    progress("measuring the server's capacity: one burst of every request");
    let mut burst = cfg.clone();
    burst.arrival = Arrival::Burst;
    let report = llm::run(&burst, progress)?;
    let f = &report.figures;
    match f.request_rps.filter(|r| *r > 0.0 && f.counts.completed > 0) {
        Some(rps) => {
            let lost = f.counts.sent - f.counts.completed;
            progress(&format!(
                "capacity {rps:.3} requests/s ({} completed{})",
                f.counts.completed,
                if lost > 0 {
                    format!(", {lost} lost: the curve's upper rates will show it")
                } else {
                    String::new()
                }
            ));
            Ok((rps, report))
        }
        None => Err(Error::config(
            "rates",
            format!(
                "auto: the capacity burst completed none of its {} requests; give the rates \
                 (e.g. --rates 0.5,1,2) or look at why the server fails them",
                f.counts.sent
            ),
        )),
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::llm::figures::figures;
    use crate::llm::prompts::{Lengths, PromptSource};
    use crate::llm::record::{Outcome, RequestRecord};
    use crate::llm::report::ClientCost;
    use crate::llm::tokens::TokenSource;
    use crate::llm::ModelShare;
    use crate::results::Environment;

    /// A point whose every request has this TTFT and gap (ms), 6 tokens; `lost` of
    /// them time out.
    fn point(rate: f64, ttft: u64, gap: u64, lost: usize) -> CurvePoint {
        let records: Vec<RequestRecord> = (0..20)
            .map(|i| {
                let mut r = RequestRecord::new(0, 0);
                if i >= lost {
                    r.outcome = Outcome::Completed;
                    r.chunk_ns = (0..6).map(|k| (ttft + k * gap) * 1_000_000).collect();
                    r.end_ns = r.chunk_ns.last().copied();
                    r.output_tokens = Some(6);
                }
                r
            })
            .collect();
        let config = LlmConfig {
            url: "openai://h:1".parse().unwrap(),
            models: vec![ModelShare {
                name: "m".into(),
                share: 1.0,
            }],
            api: llm::Api::Completions,
            stream: true,
            prompts: PromptSource::Synthetic {
                input: Lengths { min: 1, max: 1 },
                output: Lengths { min: 6, max: 6 },
            },
            tokenizer: None,
            num_requests: 20,
            arrival: Arrival::Poisson(rate),
            seed: 0,
            window_seed: None,
            warmup: 0,
            request_timeout: Duration::from_secs(1),
            slo: None,
            scrape_metrics: None,
        };
        let report = LlmReport {
            kind: "llm".into(),
            config,
            tokens: TokenSource::ServerUsage,
            notes: Vec::new(),
            figures: figures(&records, 10.0, None),
            per_model: Vec::new(),
            client: ClientCost {
                cpu_s: 0.0,
                cores_busy: 0.0,
                cpu_per_output_token_us: None,
                max_send_lag_ms: 0.0,
            },
            server_metrics: None,
            shard: None,
            environment: Environment {
                inferbench_version: String::new(),
                cpu_model: None,
                cores: 2,
                cuda_available: false,
                openmp_wait: Vec::new(),
            },
        };
        CurvePoint { rate, report }
    }

    #[test]
    fn a_sharded_curve_measures_each_rate_once_with_the_long_windows_spread() {
        let rates = [0.5, 1.0, 2.0, 4.0, 8.0];
        let parts: Vec<Vec<f64>> = (0..2)
            .map(|i| shard_rates(&rates, 100, Shard::new(i, 2).unwrap()))
            .collect();
        let mut all: Vec<f64> = parts.concat();
        all.sort_by(f64::total_cmp);
        assert_eq!(all, rates);
        // 0.5 requests/s is the longest window (200 s of 375 s in all): alone
        // against the rest, and each shard's rates ascend.
        assert_eq!(parts[0], [0.5]);
        assert_eq!(parts[1], [1.0, 2.0, 4.0, 8.0]);
        let three: Vec<Vec<f64>> = (0..6)
            .map(|i| shard_rates(&rates, 100, Shard::new(i, 6).unwrap()))
            .collect();
        assert_eq!(three.iter().filter(|p| p.is_empty()).count(), 1);
        let s = curve_shard(&[2.0, 1.0], Shard::new(1, 3).unwrap());
        assert_eq!((s.index, s.count, s.rates), (1, 3, vec![1.0, 2.0]));
    }

    #[test]
    fn each_rate_draws_its_own_requests_unless_told_otherwise() {
        assert_eq!(
            WindowSeeds::PerRate.of(7, 0),
            Some(8),
            "never the burst's seed"
        );
        assert_eq!(WindowSeeds::PerRate.of(7, 2), Some(10));
        assert_eq!(WindowSeeds::Same.of(7, 2), None);
        let wrapped = WindowSeeds::PerRate.of(u64::MAX, 0);
        assert_eq!(wrapped, Some(0), "wraps, never panics");
    }

    #[test]
    fn the_answer_is_the_last_rate_before_the_first_that_breaks_a_bound() {
        let points = [
            point(1.0, 50, 10, 0),
            point(2.0, 80, 12, 0),
            point(4.0, 300, 12, 0),
            point(8.0, 50, 10, 0),
        ];
        let rec = recommend(&points, 100.0, 20.0);
        assert_eq!(rec.rate, Some(2.0), "{}", rec.text);
        assert!(
            rec.text.contains("4 requests/s broke it: p99 TTFT"),
            "{}",
            rec.text
        );
        // TPOT breaks too; and a rate that lost a request never qualifies.
        let rec = recommend(&[point(1.0, 50, 30, 0)], 100.0, 20.0);
        assert_eq!(rec.rate, None);
        assert!(rec.text.contains("p99 TPOT"), "{}", rec.text);
        let rec = recommend(&[point(1.0, 50, 10, 0), point(2.0, 50, 10, 1)], 100.0, 20.0);
        assert_eq!(rec.rate, Some(1.0));
        assert!(
            rec.text.contains("1 of 20 requests did not complete"),
            "{}",
            rec.text
        );
        let rec = recommend(&[point(1.0, 50, 10, 0)], 100.0, 20.0);
        assert!(rec.text.contains("the highest measured"), "{}", rec.text);
    }
}
