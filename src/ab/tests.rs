//! The procedure on synthetic runs with known answers: a seeded generator stands
//! in for the machine (log-normal noise, drift over the job, an order effect, the
//! odd slowed-down round), so each test has one deterministic outcome.

use std::time::Duration;

use super::procedure::{block_fits, judge, order, run_ab, Job, MeasureRun, RunBlocks};
use super::render;
use super::*;

/// splitmix64, and normal deviates by Box–Muller: enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// A machine where the head's service time is `ratio` × the base's.
struct Synthetic {
    rng: Rng,
    /// The head's latency / the base's.
    ratio: f64,
    /// Log-normal run-to-run noise, as a fraction.
    noise: f64,
    /// Every run is this much slower than the one before (load building up).
    drift: f64,
    /// The second run of a pair is this much faster (warm caches).
    order_effect: f64,
    /// Every this many runs, one is 30 % slower (another job's compile).
    outlier_every: u64,
    runs: u64,
    last_side: Option<Side>,
}

impl Synthetic {
    fn new(seed: u64, ratio: f64, noise: f64) -> Self {
        Self {
            rng: Rng(seed),
            ratio,
            noise,
            drift: 0.0,
            order_effect: 0.0,
            outlier_every: 0,
            runs: 0,
            last_side: None,
        }
    }
}

impl MeasureRun for Synthetic {
    fn measure(&mut self, _config: usize, side: Side) -> crate::error::Result<Measurement> {
        self.runs += 1;
        let mut latency = 5.0 * (self.noise * self.rng.normal()).exp();
        latency *= 1.0 + self.drift * self.runs as f64;
        if side == Side::Head {
            latency *= self.ratio;
        }
        let second = self.last_side.is_some_and(|s| s != side);
        if second {
            latency *= 1.0 - self.order_effect;
        }
        self.last_side = if second { None } else { Some(side) };
        if self.outlier_every > 0 && self.runs.is_multiple_of(self.outlier_every) {
            latency *= 1.3;
        }
        let p99 = latency * 1.2 * (self.noise * self.rng.normal()).exp();
        Ok(Measurement::from_values([
            Some(1000.0 / latency),
            Some(latency),
            Some(p99),
            Some(50.0),
            None,
        ]))
    }
}

fn options() -> AbOptions {
    AbOptions {
        threshold: 0.02,
        max_blocks: 30,
        max_time: Duration::from_secs(3600),
        ..AbOptions::default()
    }
}

fn job(configs: &[String]) -> Job<'_> {
    Job {
        run_args: configs,
        base: "base".into(),
        head: "head".into(),
    }
}

fn simulate(machine: &mut Synthetic, options: &AbOptions) -> AbReport {
    let configs = ["--model spin:5ms".to_string()];
    let mut blocks = RunBlocks {
        runs: machine,
        rounds: 1,
    };
    run_ab(&job(&configs), &mut blocks, options, &mut |_| {}).unwrap()
}

fn figure(report: &AbReport, f: Figure) -> &FigureResult {
    report.configurations[0]
        .figures
        .iter()
        .find(|r| r.figure == f)
        .unwrap()
}

#[test]
fn the_schedule_is_a_b_b_a() {
    let sides: Vec<Side> = (0..4).flat_map(order).collect();
    // And a block's log ratio is the mean of its two pairs', so a 4 % order effect
    // (the second run faster) cancels exactly.
    let run = |v: f64| Measurement::from_values([Some(v), None, None, None, None]);
    let pairs = [
        (run(100.0), run(100.0 / 0.96)),
        (run(100.0 / 0.96), run(100.0)),
    ];
    let logs = super::procedure::block_log_ratios(Figure::Throughput, &[pairs.to_vec()]);
    assert_eq!(logs.len(), 1);
    assert!(logs[0].abs() < 1e-12, "{logs:?}");
    // A block of several rounds is the mean of all its pairs; a round in which one
    // run did not measure the figure is left out whole, and a block without any
    // complete round is left out.
    let mut longer = [pairs.to_vec(), pairs.to_vec(), pairs.to_vec()].concat();
    longer[5].1 = run(200.0);
    let logs = super::procedure::block_log_ratios(Figure::Throughput, &[longer.clone()]);
    assert!((logs[0] - 2f64.ln() / 6.0).abs() < 1e-12, "{logs:?}");
    longer[2].0 = Measurement::default();
    let mut broken = pairs.to_vec();
    broken[1].1 = Measurement::default();
    let logs = super::procedure::block_log_ratios(Figure::Throughput, &[longer, broken]);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!((logs[0] - 2f64.ln() / 4.0).abs() < 1e-12, "{logs:?}");
    use Side::{Base as A, Head as B};
    assert_eq!(sides, [A, B, B, A, A, B, B, A]);
}

#[test]
fn a_pair_starts_only_if_it_fits_under_the_cap() {
    let s = Duration::from_secs;
    assert!(block_fits(s(0), None, s(10)));
    assert!(block_fits(s(6), Some(s(4)), s(10)));
    assert!(!block_fits(s(7), Some(s(4)), s(10)));
}

#[test]
fn a_a_jobs_settle_within_noise_and_almost_never_alarm() {
    // 200 A/A jobs with 1.5 % noise, drift, and an order effect larger than the threshold.
    let (mut alarms, mut settled) = (0, 0);
    for seed in 0..200 {
        let mut m = Synthetic::new(seed, 1.0, 0.015);
        m.drift = 0.001;
        m.order_effect = 0.03;
        let report = simulate(&mut m, &options());
        alarms += (!report.passed()
            || report.configurations[0]
                .figures
                .iter()
                .any(|f| f.verdict == Verdict::Improved)) as u32;
        settled += (report.stopped == Stop::Settled) as u32;
    }
    // Each look is a 95 % interval that must miss zero by the threshold; repeated
    // looks raise that, but not to more than a few jobs in a hundred.
    assert!(alarms <= 4, "{alarms} false alarms in 200 A/A jobs");
    assert!(settled >= 190, "only {settled} of 200 A/A jobs settled");
}

#[test]
fn a_three_percent_regression_is_found_and_its_interval_holds_the_truth() {
    let (mut found, mut covered) = (0, 0);
    for seed in 0..100 {
        let mut m = Synthetic::new(1000 + seed, 1.03, 0.01);
        m.drift = 0.001;
        m.order_effect = 0.03;
        let report = simulate(&mut m, &options());
        let mean = figure(&report, Figure::MeanLatency);
        let throughput = figure(&report, Figure::Throughput);
        found +=
            (mean.verdict == Verdict::Regressed && throughput.verdict == Verdict::Regressed) as u32;
        let c = mean.change.unwrap();
        covered += (c.lower <= 0.03 && 0.03 <= c.upper) as u32;
        assert_eq!(
            figure(&report, Figure::CpuUtil).verdict,
            Verdict::WithinNoise
        );
    }
    assert!(
        found >= 95,
        "a +3 % change found in only {found} of 100 jobs"
    );
    assert!(
        covered >= 85,
        "the interval held +3 % in only {covered} of 100 jobs"
    );
}

#[test]
fn one_slowed_down_round_in_ten_raises_no_alarm() {
    for seed in 0..50 {
        let mut m = Synthetic::new(5000 + seed, 1.0, 0.005);
        m.outlier_every = 10;
        let report = simulate(&mut m, &options());
        assert!(report.passed(), "seed {seed}: {}", render::table(&report));
    }
}

#[test]
fn noise_too_large_for_the_threshold_stops_at_the_block_limit_unsettled() {
    let mut m = Synthetic::new(7, 1.0, 0.3);
    let report = simulate(
        &mut m,
        &AbOptions {
            max_blocks: 8,
            ..options()
        },
    );
    assert_eq!(report.stopped, Stop::MaxBlocks);
    assert_eq!(report.configurations[0].pairs, 16, "8 blocks of two pairs");
    let mean = figure(&report, Figure::MeanLatency);
    assert!(!mean.settled);
    assert!(mean.detectable.unwrap() > 0.1, "{:?}", mean.detectable);
    assert!(render::table(&report).contains("within noise (unsettled)"));
}

#[test]
fn before_enough_blocks_there_is_no_interval_and_no_verdict() {
    let pair = |b: f64, h: f64| {
        (
            Measurement::from_values([Some(b), None, None, None, None]),
            Measurement::from_values([Some(h), None, None, None, None]),
        )
    };
    let blocks = |n| -> Vec<Vec<_>> { (0..n).map(|_| vec![pair(100.0, 50.0); 2]).collect() };
    let r = judge("x", "", &blocks(5), &options());
    assert_eq!(r.figures.len(), 1, "figures nobody measured are left out");
    assert_eq!(r.figures[0].change, None);
    assert!(!r.settled());
    let r = judge("x", "", &blocks(6), &options());
    // Throughput halved: a regression of exactly −50 %, settled.
    assert_eq!(r.figures[0].verdict, Verdict::Regressed);
    assert!((r.figures[0].change.unwrap().point + 0.5).abs() < 1e-12);
    assert!(r.settled());
}

#[test]
fn configurations_with_the_same_id_get_numbered_and_all_are_rendered() {
    let configs = ["--iters 10".to_string(), "--iters 20".to_string()];
    struct Named(Synthetic);
    impl MeasureRun for Named {
        fn measure(&mut self, config: usize, side: Side) -> crate::error::Result<Measurement> {
            let mut m = self.0.measure(config, side)?;
            m.config_id = Some("spin".into());
            Ok(m)
        }
    }
    let mut m = RunBlocks {
        runs: Named(Synthetic::new(3, 1.1, 0.001)),
        rounds: 1,
    };
    let report = run_ab(&job(&configs), &mut m, &options(), &mut |_| {}).unwrap();
    let ids: Vec<&str> = report
        .configurations
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["spin", "spin#2"]);
    let (smaller, bigger) = render::github_action_benchmark(&report);
    assert_eq!(smaller.len(), 4, "mean and p99 of each configuration");
    assert_eq!(bigger.len(), 4, "throughput and cpu-util of each");
    assert!(
        smaller[0].extra.contains("REGRESSED"),
        "{}",
        smaller[0].extra
    );
    assert!(!report.passed());
}

#[test]
fn progress_shows_each_figures_interval() {
    let mut lines = Vec::new();
    let configs = ["a".to_string()];
    let mut m = RunBlocks {
        runs: Synthetic::new(11, 1.0, 0.001),
        rounds: 1,
    };
    run_ab(&job(&configs), &mut m, &options(), &mut |l| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert!(
        lines[0].contains("block 1") && lines[0].contains("throughput -"),
        "{}",
        lines[0]
    );
    let last = lines.last().unwrap();
    assert!(
        last.contains("mean +0.") || last.contains("mean -0."),
        "{last}"
    );
    assert!(last.contains("4/4 settled"), "{last}");
}

#[test]
fn only_the_chosen_figures_are_judged_and_hold_up_the_stop() {
    // Only throughput and mean appear in the result; with little noise both settle
    // at the minimum number of blocks.
    let mut m = Synthetic::new(21, 1.0, 0.002);
    let options = AbOptions {
        figures: vec![Figure::Throughput, Figure::MeanLatency],
        ..options()
    };
    let report = simulate(&mut m, &options);
    let judged: Vec<Figure> = report.configurations[0]
        .figures
        .iter()
        .map(|f| f.figure)
        .collect();
    assert_eq!(judged, [Figure::Throughput, Figure::MeanLatency]);
    assert_eq!(report.stopped, Stop::Settled);
    assert_eq!(report.configurations[0].pairs, 12, "6 blocks");
}

#[test]
fn options_are_checked() {
    assert!(AbOptions::default().validate().is_ok());
    let err = AbOptions {
        min_blocks: 5,
        ..AbOptions::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("min-blocks") && err.contains("at least 6"),
        "{err}"
    );
    let err = AbOptions {
        confidence: 0.99,
        ..AbOptions::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("at least 8"), "{err}");
    let err = AbOptions {
        threshold: -0.1,
        ..AbOptions::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("threshold"), "{err}");
}
