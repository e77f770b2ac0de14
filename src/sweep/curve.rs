//! The latency–throughput curve (seed 003's request-rate sweep) and the search for
//! the highest rate that keeps a percentile within a budget (perf_analyzer's
//! latency threshold), as plain logic over a `probe` that runs one rate. The runs
//! themselves are in [`super::runner`].

use crate::error::{Error, Result};

/// Offered rates of an automatic curve, as fractions of the burst capacity: dense
/// near saturation, where the knee is, and one point past it.
pub const AUTO_FRACTIONS: [f64; 8] = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1];

/// Rates for a curve from the measured capacity (requests/s).
pub fn auto_rates(capacity_rps: f64) -> Vec<f64> {
    AUTO_FRACTIONS.iter().map(|f| f * capacity_rps).collect()
}

/// The rates a curve runs at: `--rates auto` or a comma-separated list.
#[derive(Debug, Clone, PartialEq)]
pub enum Rates {
    /// [`AUTO_FRACTIONS`] of the burst capacity, measured first.
    Auto,
    /// These rates, requests/s.
    Explicit(Vec<f64>),
}

impl Rates {
    /// Parses `auto` or `100,200.5,300`; every rate must be a positive number.
    pub fn parse(text: &str) -> Result<Self> {
        if text.trim() == "auto" {
            return Ok(Self::Auto);
        }
        let bad = |why: String| Error::config("rates", why);
        let rates = text
            .split(',')
            .map(|r| {
                let rate: f64 = r.trim().parse().map_err(|_| {
                    bad(format!(
                        "'{r}' is not a number (expected e.g. 100,200 or auto)"
                    ))
                })?;
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(bad(format!("{rate} is not a positive rate in requests/s")));
                }
                Ok(rate)
            })
            .collect::<Result<Vec<f64>>>()?;
        Ok(Self::Explicit(rates))
    }
}

/// Checks a latency budget in ms: a positive, finite number.
pub fn check_budget_ms(budget_ms: f64) -> Result<f64> {
    if budget_ms.is_finite() && budget_ms > 0.0 {
        Ok(budget_ms)
    } else {
        Err(Error::config(
            "latency-budget-ms",
            format!("{budget_ms}; expected a positive number of milliseconds"),
        ))
    }
}

/// How far the search narrows before it stops.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    /// Stop when the bracket is narrower than this fraction of its upper end.
    pub tolerance: f64,
    /// Stop after this many probes, bracket or not.
    pub max_probes: u32,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            tolerance: 0.05,
            max_probes: 8,
        }
    }
}

/// What the search found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Highest rate that met the budget, with its latency; `None` if the lowest did not.
    pub best: Option<(f64, f64)>,
    /// Lowest rate that broke the budget, if one was probed.
    pub first_failing: Option<f64>,
    /// Every probe: (rate, latency), in order.
    pub probes: Vec<(f64, f64)>,
}

/// Which end of the bracket the search probes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// The floor first: it is a bar the rate must clear (`tune`'s current score),
    /// so a point that fails it is done after one probe.
    FloorFirst,
    /// The ceiling first, the floor only if every rate above it failed: the floor
    /// is the slowest probe (its requests arrive furthest apart) and, where some
    /// higher rate passes, it changes nothing.
    CeilingFirst,
}

/// Bisection between a low rate (`floor_fraction` × `ceiling`) and `ceiling`:
/// `probe(rate)` runs the pipeline at that rate and returns the percentile's latency
/// in ms. Latency is assumed to grow with the rate, which holds for a queue until
/// noise: the bracket is narrowed only to `limits.tolerance` for that reason. Both
/// orders give the same answer on a latency that grows with the rate; they differ in
/// which probes they pay for (see [`SearchOrder`]).
pub fn search_max_rate<E>(
    ceiling: f64,
    budget_ms: f64,
    (floor_fraction, order): (f64, SearchOrder),
    limits: SearchLimits,
    mut probe: impl FnMut(f64) -> Result<f64, E>,
) -> Result<SearchResult, E> {
    let mut result = SearchResult {
        best: None,
        first_failing: None,
        probes: Vec::new(),
    };
    let mut run = |rate: f64, result: &mut SearchResult| -> Result<bool, E> {
        let latency = probe(rate)?;
        result.probes.push((rate, latency));
        let ok = latency <= budget_ms;
        if ok {
            result.best = Some((rate, latency));
        } else {
            result.first_failing = Some(rate);
        }
        Ok(ok)
    };
    let mut lo = ceiling * floor_fraction;
    if order == SearchOrder::FloorFirst && !run(lo, &mut result)? {
        return Ok(result);
    }
    let mut hi = ceiling;
    if run(hi, &mut result)? {
        return Ok(result);
    }
    // Ceiling first keeps one probe back for the floor, which it has not run yet.
    let reserve = u32::from(order == SearchOrder::CeilingFirst);
    let mut passed = order == SearchOrder::FloorFirst;
    while (hi - lo) / hi > limits.tolerance
        && (result.probes.len() as u32) + reserve < limits.max_probes
    {
        let mid = (lo + hi) / 2.0;
        if run(mid, &mut result)? {
            lo = mid;
            passed = true;
        } else {
            hi = mid;
        }
    }
    if !passed {
        // Every rate above the floor failed: only the floor itself can still pass.
        run(lo, &mut result)?;
    }
    // `best` holds the last rate that passed, which is `lo`.
    Ok(result)
}

/// Mean latency of an M/D/1 queue (Poisson arrivals, fixed service time), ms:
/// service + ρ·service / (2(1 − ρ)). Infinite at or past saturation.
pub fn md1_mean_latency_ms(rate_rps: f64, service_ms: f64) -> f64 {
    crate::metrics::queueing::md1_mean(rate_rps / 1e3, service_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_a_list_or_auto_and_refuse_non_rates_by_name() {
        assert_eq!(Rates::parse("auto").unwrap(), Rates::Auto);
        assert_eq!(
            Rates::parse("100, 250.5").unwrap(),
            Rates::Explicit(vec![100.0, 250.5])
        );
        for bad in ["fast", "100,-5", "0", "inf", "100,,200"] {
            let err = Rates::parse(bad).unwrap_err().to_string();
            assert!(err.contains("rates"), "{bad}: {err}");
        }
    }

    #[test]
    fn budgets_must_be_positive_and_finite() {
        assert_eq!(check_budget_ms(50.0).unwrap(), 50.0);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(check_budget_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_rates_bracket_the_capacity() {
        let rates = auto_rates(200.0);
        assert_eq!(rates.first(), Some(&40.0));
        assert!((rates.last().unwrap() - 220.0).abs() < 1e-9);
        assert!(rates.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_search_finds_the_md1_rate_for_a_budget() {
        // 2 ms service: mean latency 6 ms at ρ = 0.8, i.e. 400 requests/s.
        let latency = |r: f64| Ok::<_, ()>(md1_mean_latency_ms(r, 2.0));
        let limits = SearchLimits {
            tolerance: 0.01,
            max_probes: 20,
        };
        let found =
            search_max_rate(550.0, 6.0, (0.1, SearchOrder::FloorFirst), limits, latency).unwrap();
        let (rate, lat) = found.best.unwrap();
        assert!(rate <= 400.0 && rate > 400.0 * 0.98, "{rate}");
        assert!(lat <= 6.0);
        let failing = found.first_failing.unwrap();
        assert!(failing > 400.0 && failing < 400.0 * 1.03, "{failing}");
    }

    #[test]
    fn a_budget_below_the_service_time_finds_nothing() {
        let found = search_max_rate(
            500.0,
            1.0,
            (0.1, SearchOrder::FloorFirst),
            SearchLimits::default(),
            |r| Ok::<_, ()>(md1_mean_latency_ms(r, 2.0)),
        )
        .unwrap();
        assert_eq!(found.best, None);
        assert_eq!(found.probes.len(), 1);
    }

    #[test]
    fn a_budget_met_at_the_ceiling_stops_there_and_probes_are_capped() {
        let easy = search_max_rate(
            300.0,
            100.0,
            (0.1, SearchOrder::FloorFirst),
            SearchLimits::default(),
            |r| Ok::<_, ()>(md1_mean_latency_ms(r, 2.0)),
        )
        .unwrap();
        assert_eq!(easy.best.map(|b| b.0), Some(300.0));
        assert_eq!(easy.probes.len(), 2);
        let capped = search_max_rate(
            550.0,
            6.0,
            (0.1, SearchOrder::FloorFirst),
            SearchLimits {
                tolerance: 1e-9,
                max_probes: 5,
            },
            |r| Ok::<_, ()>(md1_mean_latency_ms(r, 2.0)),
        )
        .unwrap();
        assert_eq!(capped.probes.len(), 5);
    }

    #[test]
    fn ceiling_first_finds_the_same_rate_without_the_floor_probe_unless_nothing_above_passes() {
        let md1 = |r: f64| Ok::<_, ()>(md1_mean_latency_ms(r, 2.0));
        let limits = SearchLimits {
            tolerance: 0.01,
            max_probes: 20,
        };
        let floor_first = search_max_rate(550.0, 6.0, (0.1, SearchOrder::FloorFirst), limits, md1);
        let top = search_max_rate(550.0, 6.0, (0.1, SearchOrder::CeilingFirst), limits, md1);
        let (floor_first, top) = (floor_first.unwrap(), top.unwrap());
        assert_eq!(top.best, floor_first.best);
        assert_eq!(top.first_failing, floor_first.first_failing);
        assert_eq!(top.probes[0].0, 550.0);
        assert!(top.probes.iter().all(|p| p.0 > 55.0), "{:?}", top.probes);
        assert_eq!(top.probes.len() + 1, floor_first.probes.len());
        // A budget no rate meets: the floor is probed last, and nothing is found.
        let none = search_max_rate(500.0, 1.0, (0.1, SearchOrder::CeilingFirst), limits, md1);
        let none = none.unwrap();
        assert_eq!(
            (none.best, none.probes.last().map(|p| p.0)),
            (None, Some(50.0))
        );
        // Only the floor passes (a budget between its latency and the next probe's).
        let floor_only = md1_mean_latency_ms(50.0, 2.0) + 1e-9;
        let capped = SearchLimits {
            tolerance: 0.01,
            max_probes: 4,
        };
        let found = search_max_rate(
            500.0,
            floor_only,
            (0.1, SearchOrder::CeilingFirst),
            capped,
            md1,
        );
        let found = found.unwrap();
        assert_eq!(found.best.map(|b| b.0), Some(50.0));
        assert_eq!(found.probes.len(), 4);
    }

    #[test]
    fn md1_latency_matches_the_formula() {
        assert!((md1_mean_latency_ms(150.0, 2.0) - (2.0 + 0.3 * 2.0 / 1.4)).abs() < 1e-12);
        assert!(md1_mean_latency_ms(500.0, 2.0).is_infinite());
    }
}
