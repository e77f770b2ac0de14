use super::*;

fn window(throughput: f64, latency_ms: f64) -> WindowPoint {
    WindowPoint {
        requests: 100,
        throughput_samples_per_s: throughput,
        latency_ms,
    }
}

fn narrow(value: f64) -> (f64, Option<Interval>) {
    (
        value,
        Some(Interval {
            lo: value * 0.98,
            hi: value * 1.02,
        }),
    )
}

#[test]
fn p99_needs_hundreds_of_samples_for_an_interval_and_the_ranks_bracket_n_q() {
    assert_eq!(quantile_ranks(100, 0.99), None);
    assert_eq!(quantile_ranks(0, 0.5), None);
    assert_eq!(quantile_ranks(100, 0.5), Some((40, 61)));
    let (lo, hi) = quantile_ranks(1000, 0.99).unwrap();
    assert!(lo < 990 && hi > 990 && hi <= 1000, "{lo} {hi}");
}

/// The interval covers the true quantile about 95 % of the time: 2,000 samples
/// of 1,000 uniforms from a fixed generator, whose 0.9 quantile is 0.9.
#[test]
fn the_order_statistic_interval_covers_the_true_quantile_about_95_percent() {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let trials = 2000;
    let mut covered = 0;
    for _ in 0..trials {
        let mut v: Vec<f64> = (0..1000).map(|_| uniform()).collect();
        v.sort_by(f64::total_cmp);
        let at = |f: f64| v[((f * 1000.0).ceil() as usize).clamp(1, 1000) - 1];
        let i = quantile_interval(1000, 0.9, at).unwrap();
        covered += usize::from(i.lo <= 0.9 && 0.9 <= i.hi);
    }
    let share = covered as f64 / trials as f64;
    assert!((0.93..=0.99).contains(&share), "coverage {share}");
}

#[test]
fn steady_windows_settle_once_the_minimum_time_is_spent() {
    let c = StabilityCriteria::default();
    let w = [window(100.0, 5.0), window(104.0, 5.1), window(97.0, 4.9)];
    let early = judge(&w, narrow(5.0), 0.5, &c);
    assert_eq!(early.verdict, Verdict::Continue);
    assert!(early.reason.contains("minimum time"), "{}", early.reason);
    let j = judge(&w, narrow(5.0), 1.5, &c);
    assert_eq!(j.verdict, Verdict::Settled, "{}", j.reason);
    assert!(j.reason.is_empty());
    // max / min: 104 / 97 = 1.072.
    assert!((j.throughput_spread_pct.unwrap() - 7.216).abs() < 0.01);
}

/// perf_analyzer's test is max / min, not the distance from the mean: three windows
/// within ±6 % of their mean are 12 % apart, which is not stable at 10 %.
#[test]
fn the_spread_is_the_highest_window_over_the_lowest() {
    let c = StabilityCriteria::default();
    let w = [window(94.0, 5.0), window(100.0, 5.0), window(106.0, 5.0)];
    let j = judge(&w, narrow(5.0), 5.0, &c);
    assert_eq!(j.verdict, Verdict::Continue);
    assert!(
        j.reason.contains("max 12.8 % above min (needs ≤ 10 %)"),
        "{}",
        j.reason
    );
    // A server slowing 10 % a window (the drifting spin) is 21 % apart over three.
    let slowing: Vec<WindowPoint> = (0..3)
        .map(|k| window(100.0 / 1.1f64.powi(k), 5.0))
        .collect();
    let j = judge(&slowing, narrow(5.0), 5.0, &c);
    assert!((j.throughput_spread_pct.unwrap() - 21.0).abs() < 1e-9);
}

#[test]
fn too_few_windows_or_requests_go_on() {
    let c = StabilityCriteria::default();
    let two = [window(100.0, 5.0), window(100.0, 5.0)];
    let j = judge(&two, narrow(5.0), 5.0, &c);
    assert_eq!(j.verdict, Verdict::Continue);
    assert!(j.reason.contains("fewer than 3 windows"));
    let three = [window(100.0, 5.0); 3];
    let j = judge(&three, (5.0, None), 5.0, &c);
    assert_eq!(j.verdict, Verdict::Continue);
    assert!(j.reason.contains("too few requests"));
}

#[test]
fn a_drifting_throughput_never_settles_and_is_unsettled_at_the_max_time() {
    let c = StabilityCriteria::default();
    // Each window 15 % slower than the one before.
    let w: Vec<WindowPoint> = (0..10)
        .map(|k| window(100.0 * 0.85f64.powi(k), 5.0))
        .collect();
    for t in [1.0, 10.0, 59.0] {
        assert_eq!(judge(&w, narrow(5.0), t, &c).verdict, Verdict::Continue);
    }
    let j = judge(&w, narrow(5.0), 60.0, &c);
    assert_eq!(j.verdict, Verdict::Unsettled);
    assert!(j.reason.contains("throughput"), "{}", j.reason);
}

#[test]
fn a_wide_interval_or_moving_latency_is_named_in_the_reason() {
    let c = StabilityCriteria::default();
    let w = [window(100.0, 5.0), window(100.0, 8.0), window(100.0, 5.0)];
    let wide = Interval { lo: 4.0, hi: 6.0 };
    let j = judge(&w, (5.0, Some(wide)), 100.0, &c);
    assert_eq!(j.verdict, Verdict::Unsettled);
    assert!(
        j.reason
            .contains("latency of the last 3 windows: max 60.0 % above min"),
        "{}",
        j.reason
    );
    assert!(j.reason.contains("interval 40.0 % wide"), "{}", j.reason);
}

#[test]
fn criteria_that_cannot_work_are_refused_by_name() {
    assert!(StabilityCriteria::default().validate().is_ok());
    let bad = [
        StabilityCriteria {
            windows: 1,
            ..Default::default()
        },
        StabilityCriteria {
            stability_pct: 0.0,
            ..Default::default()
        },
        StabilityCriteria {
            min_time_s: 90.0,
            ..Default::default()
        },
    ];
    for c in bad {
        assert!(c.validate().is_err(), "{c:?}");
    }
}

#[test]
fn the_throughput_range_is_over_the_compared_windows() {
    let w = [window(50.0, 1.0), window(100.0, 1.0), window(90.0, 1.0)];
    let r = throughput_range(&w, 2).unwrap();
    assert_eq!((r.lo, r.hi), (90.0, 100.0));
    assert_eq!(throughput_range(&w, 4), None);
}
