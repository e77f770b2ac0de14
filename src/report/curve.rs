//! The text table `inferbench curve` prints: each offered rate with what it achieved
//! and its latency, then the answer of the rate search, if one ran.

use crate::percentile::Percentile;
use crate::sweep::record::{MaxRateRecord, RatePoint};

/// The table, and a last line with the highest rate that kept `percentile` within the
/// budget (or that none did) when `found` holds a search's answer.
pub fn render(
    points: &[RatePoint],
    found: Option<&MaxRateRecord>,
    percentile: Percentile,
) -> String {
    let mut out = String::from("offered req/s  achieved req/s  p50 ms  p99 ms\n");
    for p in points {
        out += &format!(
            "{:>13.1}  {:>14.1}  {:>6.2}  {:>6.2}\n",
            p.offered_rps, p.achieved_rps, p.latency_ms.p50, p.latency_ms.p99
        );
    }
    if let Some(m) = found {
        let (name, runs, budget) = (percentile.name(), m.probes, m.budget_ms);
        out += &match m.max_rps {
            Some(rate) => format!(
                "highest rate with {name} <= {budget} ms: {rate:.1} requests/s ({runs} runs)\n"
            ),
            None => format!("no probed rate kept {name} <= {budget} ms ({runs} runs)\n"),
        };
    }
    out
}
