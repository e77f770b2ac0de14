//! Queueing theory's answers for a server with a fixed service time, to hold the
//! pipeline's open-loop figures against: the M/D/1 mean and percentiles in closed
//! form, and an ideal FIFO queue with c servers replayed on given arrival and
//! service times (the M/D/c answer for the very arrivals a run drew, which has none
//! of the sampling noise of comparing one run with the formula).

/// Mean time in system (wait + service) of an M/D/1 queue, in the unit of
/// `service`; infinite at or above saturation. `rate` is arrivals per that unit.
pub fn md1_mean(rate: f64, service: f64) -> f64 {
    let rho = rate * service;
    if rho >= 1.0 {
        return f64::INFINITY;
    }
    service + rho * service / (2.0 * (1.0 - rho))
}

/// P(wait ≤ t) in an M/D/1 queue (Erlang's formula):
/// (1 − ρ) Σ_{k=0}^{⌊t/D⌋} e^{−λ(kD − t)} (λ(t − kD))^k (−1)^k / k!.
/// The alternating terms lose precision for t ≫ D at high load; up to ρ = 0.9 and
/// the 99.9th percentile they stay well inside f64's range.
fn md1_wait_cdf(t: f64, rate: f64, service: f64) -> f64 {
    let rho = rate * service;
    let mut sum = 0.0;
    let mut k = 0u32;
    while f64::from(k) * service <= t {
        let x = rate * (f64::from(k) * service - t); // ≤ 0
        let mut term = (-x).exp();
        for j in 1..=k {
            term *= x / f64::from(j);
        }
        sum += term;
        k += 1;
    }
    ((1.0 - rho) * sum).clamp(0.0, 1.0)
}

/// The `q` quantile (0 < q < 1) of the time in system of an M/D/1 queue, in the
/// unit of `service`; `None` at or above saturation or past ρ = 0.9, where the
/// closed form loses its precision.
pub fn md1_quantile(q: f64, rate: f64, service: f64) -> Option<f64> {
    let rho = rate * service;
    if !(0.0..=0.9).contains(&rho) || !(0.0..1.0).contains(&q) {
        return None;
    }
    if md1_wait_cdf(0.0, rate, service) >= q {
        return Some(service);
    }
    let mut hi = service;
    while md1_wait_cdf(hi, rate, service) < q {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if md1_wait_cdf(mid, rate, service) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi + service)
}

/// Each request's time in system in an ideal first-come-first-served queue with
/// `servers` identical servers, no hand-off cost: request i arrives at
/// `arrivals[i]` (non-decreasing) and needs `services[i]`; it starts on the server
/// that frees first, once it has arrived.
pub fn fifo_replay(arrivals: &[f64], services: &[f64], servers: usize) -> Vec<f64> {
    fifo_replay_setup(arrivals, services, servers, 0.0)
}

/// Mean time in system of an M/D/1 queue whose server needs `setup` before it
/// starts a request that found it idle (a parked thread's wake-up; requests that
/// arrive meanwhile wait too). That is an M/G/1 queue with setup times, whose time
/// in system decomposes (Fuhrmann and Cooper) into the plain queue's plus
/// (2E[I] + λE[I²]) / (2(1 + λE[I])) for a setup I; for a fixed setup w that is
/// w(2 + λw) / (2(1 + λw)): w at light load, a little less as busy periods merge.
pub fn md1_setup_mean(rate: f64, service: f64, setup: f64) -> f64 {
    let extra = setup * (2.0 + rate * setup) / (2.0 * (1.0 + rate * setup));
    md1_mean(rate, service) + extra
}

/// As [`fifo_replay`], with a server that was idle when a request arrived
/// starting it only `setup` later (a parked thread waking up).
pub fn fifo_replay_setup(
    arrivals: &[f64],
    services: &[f64],
    servers: usize,
    setup: f64,
) -> Vec<f64> {
    assert!(servers > 0, "a queue needs a server");
    let mut free = vec![f64::NEG_INFINITY; servers];
    arrivals
        .iter()
        .zip(services)
        .map(|(&arrive, &service)| {
            let (slot, _) = free
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .expect("at least one server");
            let start = if free[slot] <= arrive {
                arrive + setup
            } else {
                free[slot]
            };
            free[slot] = start + service;
            free[slot] - arrive
        })
        .collect()
}

/// Standard error of a series' mean by batch means: the series cut into `batches`
/// consecutive batches whose means are close to independent when each batch is
/// much longer than the series' correlation (a queue's sojourns are correlated
/// through its busy periods). `None` for fewer than two values a batch.
pub fn batch_means_se(values: &[f64], batches: usize) -> Option<f64> {
    let size = values.len() / batches.max(2);
    if size < 2 {
        return None;
    }
    let means: Vec<f64> = values
        .chunks_exact(size)
        .map(|c| c.iter().sum::<f64>() / size as f64)
        .collect();
    let m = means.len() as f64;
    let mean = means.iter().sum::<f64>() / m;
    let var = means.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0);
    Some((var / m).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md1_mean_is_the_pollaczek_khinchine_answer() {
        // ρ = 0.3: 5 + 0.3·5 / 1.4 ms.
        assert!((md1_mean(0.06, 5.0) - (5.0 + 1.5 / 1.4)).abs() < 1e-12);
        assert!(md1_mean(0.2, 5.0).is_infinite());
    }

    #[test]
    fn md1_wait_is_zero_with_probability_one_minus_rho() {
        assert!((md1_wait_cdf(0.0, 0.1, 5.0) - 0.5).abs() < 1e-12);
        let p50 = md1_quantile(0.4, 0.1, 5.0).unwrap();
        assert_eq!(
            p50, 5.0,
            "40 % of requests find the server idle and never wait"
        );
    }

    /// The closed form against a long simulation of the same queue.
    #[test]
    fn md1_quantiles_match_a_simulated_queue() {
        let (rate, service) = (0.16, 5.0); // ρ = 0.8
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut t = 0.0;
        let arrivals: Vec<f64> = (0..400_000)
            .map(|_| {
                t += -(1.0 - uniform()).ln() / rate;
                t
            })
            .collect();
        let mut sojourn = fifo_replay(&arrivals, &vec![service; arrivals.len()], 1);
        let mean = sojourn.iter().sum::<f64>() / sojourn.len() as f64;
        assert!(
            (mean / md1_mean(rate, service) - 1.0).abs() < 0.02,
            "mean {mean}"
        );
        sojourn.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.99] {
            let simulated = sojourn[(q * sojourn.len() as f64) as usize];
            let formula = md1_quantile(q, rate, service).unwrap();
            assert!(
                (simulated / formula - 1.0).abs() < 0.03,
                "p{q}: simulated {simulated}, formula {formula}"
            );
        }
    }

    #[test]
    fn the_replay_uses_the_server_that_frees_first() {
        // Two servers, service 10: the third request waits for the first to finish.
        let s = fifo_replay(&[0.0, 1.0, 2.0, 30.0], &[10.0; 4], 2);
        assert_eq!(s, vec![10.0, 10.0, 18.0, 10.0]);
        // One server: a backlog.
        assert_eq!(fifo_replay(&[0.0, 0.0], &[3.0, 3.0], 1), vec![3.0, 6.0]);
    }

    fn poisson_arrivals(rate: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut t = 0.0;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                t += -(1.0 - u).ln() / rate;
                t
            })
            .collect()
    }

    /// The setup formula against a long simulation, at a setup large enough to
    /// tell "plus w" from the decomposition's answer.
    #[test]
    fn md1_with_setup_matches_a_simulated_queue() {
        let service = 5.0;
        for (rate, setup) in [(0.06, 1.0), (0.1, 2.0), (0.16, 1.0)] {
            let arrivals = poisson_arrivals(rate, 400_000, 0x2545_f491_4f6c_dd1d);
            let sojourn = fifo_replay_setup(&arrivals, &vec![service; arrivals.len()], 1, setup);
            let mean = sojourn.iter().sum::<f64>() / sojourn.len() as f64;
            let formula = md1_setup_mean(rate, service, setup);
            assert!(
                (mean / formula - 1.0).abs() < 0.01,
                "λ {rate}, setup {setup}: simulated {mean}, formula {formula}"
            );
        }
        // No setup is the plain queue.
        assert_eq!(md1_setup_mean(0.1, 5.0, 0.0), md1_mean(0.1, 5.0));
        let s = fifo_replay_setup(&[0.0, 1.0, 20.0], &[5.0; 3], 1, 0.5);
        assert_eq!(
            s,
            vec![5.5, 9.5, 5.5],
            "only requests that find it idle pay the setup"
        );
    }

    #[test]
    fn batch_means_of_a_constant_series_have_no_error() {
        assert_eq!(batch_means_se(&[2.0; 100], 10), Some(0.0));
        assert_eq!(batch_means_se(&[1.0; 3], 10), None);
    }
}
