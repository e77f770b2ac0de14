//! The statistics of a paired comparison: a Wilcoxon signed-rank confidence
//! interval for the median log ratio head/base, with the Hodges–Lehmann estimate.
//!
//! Why a rank interval rather than a bootstrap over pairs:
//! - An A/B job stops as soon as it can, so it decides with few observations (6 to
//!   20 A B B A blocks).
//!   The percentile bootstrap under-covers at such sizes (its interval is too
//!   narrow, which means false alarms); the signed-rank interval has exact coverage
//!   for any sample size, computed from the exact null distribution.
//! - A shared machine produces the odd round that another job slowed down by 30 %.
//!   A mean, and a bootstrap of it, follows that round; ranks bound its weight.
//! - It is deterministic: the same measurements give the same verdict, so a test
//!   with synthetic data has one answer, and a CI log can be re-derived.
//!
//! What it assumes: blocks are independent and the distribution of a block's log
//! ratio is symmetric about its median. Within a block the order effect and a
//! steady drift cancel (see [`super::procedure`]), so what is left is the machine's
//! noise; log ratios make "+10 %" and "−9.1 %" (its inverse) mirror images.

/// A change as a fraction (0.03 = head is 3 % above base): point and interval.
pub use crate::compare::Estimate;

/// Above this many pairs the null distribution comes from the normal
/// approximation (with continuity correction); at or below it, exactly.
const EXACT_UP_TO: usize = 60;

/// The signed-rank interval of the median of `d` at `confidence` (0.95), with the
/// Hodges–Lehmann estimate as its point: all in `d`'s units. `None` when there are
/// too few values for any interval at that confidence (5 values cannot give 95 %:
/// even the widest interval covers only 1 − 2/2⁵ = 93.75 %).
pub fn signed_rank_interval(d: &[f64], confidence: f64) -> Option<Estimate> {
    let n = d.len();
    if n == 0 || d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let k = critical_rank(n, 1.0 - confidence)?;
    let walsh = walsh_averages(d);
    let m = walsh.len();
    Some(Estimate {
        point: median_of_sorted(&walsh),
        lower: walsh[k - 1],
        upper: walsh[m - k],
    })
}

/// The `(d_i + d_j) / 2` for all `i ≤ j`, sorted.
fn walsh_averages(d: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(d.len() * (d.len() + 1) / 2);
    for i in 0..d.len() {
        for j in i..d.len() {
            out.push((d[i] + d[j]) / 2.0);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

fn median_of_sorted(v: &[f64]) -> f64 {
    let m = v.len();
    if m % 2 == 1 {
        v[m / 2]
    } else {
        (v[m / 2 - 1] + v[m / 2]) / 2.0
    }
}

/// The largest `k ≥ 1` with P(T⁺ ≤ k − 1) ≤ α/2 under the null, where T⁺ is the
/// signed-rank statistic of `n` values: the interval is then the k-th smallest to
/// the k-th largest Walsh average. `None` when even k = 1 is too wide a tail.
pub fn critical_rank(n: usize, alpha: f64) -> Option<usize> {
    if n == 0 || !(alpha > 0.0 && alpha < 1.0) {
        return None;
    }
    let k = if n <= EXACT_UP_TO {
        exact_critical_rank(n, alpha / 2.0)
    } else {
        normal_critical_rank(n, alpha / 2.0)
    };
    (k >= 1).then_some(k)
}

/// Counts of each value of T⁺ for `n` values (subsets of 1..=n by sum), as f64.
fn null_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0.0; max + 1];
    counts[0] = 1.0;
    for rank in 1..=n {
        for t in (rank..=max).rev() {
            counts[t] += counts[t - rank];
        }
    }
    counts
}

fn exact_critical_rank(n: usize, tail: f64) -> usize {
    let counts = null_counts(n);
    let total = 2f64.powi(n as i32);
    let mut cumulative = 0.0;
    let mut k = 0;
    for (t, c) in counts.iter().enumerate() {
        cumulative += c / total;
        if cumulative > tail {
            break;
        }
        k = t + 1;
    }
    k
}

fn normal_critical_rank(n: usize, tail: f64) -> usize {
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
    let k = mean - normal_quantile(1.0 - tail) * sd - 0.5;
    k.floor().max(0.0) as usize
}

/// The standard normal quantile (Acklam's rational approximation, relative error
/// below 1.2e-9: far below what a rank interval can resolve).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The interval of the log ratios `d` as a relative change head/base − 1.
pub fn ratio_change(d: &[f64], confidence: f64) -> Option<Estimate> {
    let e = signed_rank_interval(d, confidence)?;
    Some(Estimate {
        point: e.point.exp_m1(),
        lower: e.lower.exp_m1(),
        upper: e.upper.exp_m1(),
    })
}

/// The power at which [`detectable_change`] is quoted: a change of that size is
/// called 19 times out of 20.
pub const DETECTION_POWER: f64 = 0.95;

/// The smallest change this run would have called 19 times out of 20, were its
/// interval as wide. A change is called when its whole interval clears the
/// threshold: when the estimate lands more than the half-width `h` beyond it. With
/// the estimate's spread σ = h / z (z the normal quantile of the confidence, 1.96
/// at 95 %), a true change of threshold + h is called only half the time; one of
/// threshold + h + 1.645 σ, 95 % of the time. So: threshold + h × (1 + 1.645 / z).
pub fn detectable_change(change: &Estimate, threshold: f64, confidence: f64) -> f64 {
    let half = (change.upper - change.lower) / 2.0;
    let z_interval = normal_quantile(0.5 + confidence / 2.0);
    threshold + half * (1.0 + normal_quantile(DETECTION_POWER) / z_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_critical_ranks_match_the_published_table() {
        // Two-sided 95 %: the table's critical T is k − 1 (n=6: 0, n=10: 8, n=20: 52).
        assert_eq!(critical_rank(5, 0.05), None);
        assert_eq!(critical_rank(6, 0.05), Some(1));
        assert_eq!(critical_rank(10, 0.05), Some(9));
        assert_eq!(critical_rank(20, 0.05), Some(53));
        // Two-sided 99 %: n=8 is the first with any interval (T = 0), n=20: 37.
        assert_eq!(critical_rank(7, 0.01), None);
        assert_eq!(critical_rank(8, 0.01), Some(1));
        assert_eq!(critical_rank(20, 0.01), Some(38));
    }

    #[test]
    fn the_normal_approximation_joins_the_exact_distribution() {
        let exact = exact_critical_rank(60, 0.025) as f64;
        let normal = normal_critical_rank(60, 0.025) as f64;
        assert!((exact - normal).abs() <= 2.0, "{exact} vs {normal}");
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.005) + 2.575_829).abs() < 1e-5);
    }

    #[test]
    fn hodges_lehmann_and_the_interval_of_a_small_sample() {
        // n = 6 at 95 %: k = 1, the interval is the smallest to largest Walsh average.
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 100.0];
        let e = signed_rank_interval(&d, 0.95).unwrap();
        assert_eq!(e.lower, 1.0);
        assert_eq!(e.upper, 100.0);
        // 21 Walsh averages; the 11th smallest is 3.5; the outlier moves it little.
        assert_eq!(e.point, 3.5);
    }

    #[test]
    fn too_few_pairs_give_no_interval() {
        assert_eq!(signed_rank_interval(&[0.1, 0.2, 0.3, 0.4, 0.5], 0.95), None);
        assert_eq!(signed_rank_interval(&[], 0.95), None);
        assert_eq!(
            signed_rank_interval(&[0.1; 8].map(|x| x * f64::NAN), 0.95),
            None
        );
    }

    #[test]
    fn ratios_become_relative_changes() {
        let d = [1.1f64.ln(); 8];
        let c = ratio_change(&d, 0.95).unwrap();
        assert!((c.point - 0.1).abs() < 1e-12);
        assert!((c.lower - 0.1).abs() < 1e-12 && (c.upper - 0.1).abs() < 1e-12);
        let e = Estimate {
            point: 0.0,
            lower: -0.01,
            upper: 0.03,
        };
        // Half-width 2 %: caught 19 times in 20 at 2 % + 2 % × (1 + 1.645 / 1.960).
        let d = detectable_change(&e, 0.02, 0.95);
        assert!(
            (d - (0.02 + 0.02 * (1.0 + 1.644_854 / 1.959_964))).abs() < 1e-6,
            "{d}"
        );
    }
}
