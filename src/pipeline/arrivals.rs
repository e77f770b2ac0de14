//! Open-loop arrival schedules: when each request is *meant* to be sent.
//!
//! Latency is measured from the intended send time, never from when the sender got
//! round to it, so a sender that falls behind (or a queue that pushes back) cannot
//! hide queueing: the coordinated-omission trap of closed-loop load generators.
//! How far the sender fell behind is reported on its own (`sender_lag`).

/// A Poisson process of `n` arrivals at `rate` requests per second (finite, > 0):
/// intended send times in ns after the schedule's start, ascending, from a seeded
/// generator so that a run's schedule is reproducible.
///
/// The schedule is the Poisson process *conditioned on its count*: `n` arrival times
/// drawn uniformly over `[0, n / rate)` and sorted, which is exactly how a Poisson
/// process's arrivals are distributed once it is known that `n` fell in that window.
/// Gaps are exponential with mean `1 / rate` (up to O(1/n)), as bursty as an
/// unconditioned process, but the offered rate over the run is the rate asked for:
/// an unconditioned process offers a rate off by 1/√n (±4.5 % over 500 requests),
/// which would shift every point of a latency–throughput curve sideways.
pub fn poisson_schedule(rate: f64, n: usize, seed: u64) -> Vec<u64> {
    debug_assert!(rate.is_finite() && rate > 0.0);
    let span_ns = n as f64 * 1e9 / rate;
    let mut rng = SplitMix64(seed ^ 0x5eed_0fa7_717a_1500);
    let mut times: Vec<u64> = (0..n)
        .map(|_| (rng.unit_open_closed() * span_ns) as u64)
        .collect();
    times.sort_unstable();
    times
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for
/// inter-arrival times and for drawing a workload from a seed; no dependency for 10 lines.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    pub fn unit_open_closed(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps_s(rate: f64, seed: u64, n: usize) -> Vec<f64> {
        let times = poisson_schedule(rate, n + 1, seed);
        times
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e9)
            .collect()
    }

    /// Kolmogorov–Smirnov distance between the gaps and Exp(rate).
    fn ks_exponential(gaps: &[f64], rate: f64) -> f64 {
        let mut sorted = gaps.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        sorted
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let cdf = 1.0 - (-rate * x).exp();
                (cdf - i as f64 / n)
                    .abs()
                    .max(((i + 1) as f64 / n - cdf).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn mean_rate_over_10k_arrivals_is_within_1_percent() {
        for seed in 0..20 {
            for rate in [50.0, 1_000.0, 20_000.0] {
                let times = poisson_schedule(rate, 10_000, seed);
                let span_s = (times[9_999] - times[0]) as f64 / 1e9;
                let measured = 9_999.0 / span_s;
                assert!(
                    (measured / rate - 1.0).abs() < 0.01,
                    "seed {seed}, rate {rate}: measured {measured}"
                );
            }
        }
    }

    #[test]
    fn inter_arrival_times_pass_a_kolmogorov_smirnov_test_for_the_exponential() {
        // Critical value at α = 0.01: 1.63 / √n.
        let n = 10_000;
        let critical = 1.63 / (n as f64).sqrt();
        for seed in 0..5 {
            let d = ks_exponential(&gaps_s(200.0, seed, n), 200.0);
            assert!(d < critical, "seed {seed}: D = {d:.4} ≥ {critical:.4}");
        }
        // The same test tells evenly spaced arrivals (a wrong generator) apart ...
        let even = vec![1.0 / 200.0; n];
        assert!(ks_exponential(&even, 200.0) > critical);
        // ... and exponential gaps at a rate 10 % off.
        assert!(ks_exponential(&gaps_s(220.0, 0, n), 200.0) > critical);
    }

    #[test]
    fn schedules_are_sorted_and_reproducible_from_the_seed() {
        let a = poisson_schedule(100.0, 100, 7);
        assert_eq!(a, poisson_schedule(100.0, 100, 7));
        assert_ne!(a, poisson_schedule(100.0, 100, 8));
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
        assert!(
            *a.last().unwrap() < 1_000_000_000,
            "100 arrivals at 100/s span under 1 s"
        );
        assert!(poisson_schedule(100.0, 0, 7).is_empty());
    }
}
