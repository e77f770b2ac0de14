//! Known answers on the synthetic fixed-time model (`spin:<T>`): each forward
//! busy-waits T of wall time whatever the batch, and one worker runs one forward at
//! a time, so whatever else the machine runs no forward is shorter than T, forwards
//! never overlap, and the order requests are served in is known.
//!
//! The tests assert those bounds, counts and orders, which a loaded machine cannot
//! break: load only makes things later. How close the pipeline comes to them (its
//! overhead at concurrency 1, a burst's slope, the throughput's floor) depends on
//! what else the machine runs, so it is a timing figure: the `#[ignore]`d
//! `*_figures` tests print it and check it against its goal, and
//! `scripts/timing-figures.sh` runs them (on a quiet machine; issue 28).

use std::sync::Mutex;

use inferbench::config::BatchPolicy;
use inferbench::metrics::queueing::fifo_replay;
use inferbench::pipeline::{run_with, RunOptions, RunOutcome};
use inferbench::request::{RequestMeta, Stage, Stamp};
use inferbench::{Arrival, RunConfig};

/// These tests time real threads: run them one at a time so they do not share cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Clock granularity and float rounding, ms: the slack of a bound that is otherwise exact.
const EPS_MS: f64 = 1e-3;

fn spin(ms: u64, batch: u32, iters: u32, arrival: Arrival) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.model.name = format!("spin:{ms}ms");
    cfg.model.image_size = 4;
    cfg.load.batch_size = batch;
    cfg.load.num_iters = iters;
    cfg.load.arrival = arrival;
    cfg.measure_bare_forward = false;
    cfg
}

/// The run's trace in request order (ids are sent in order).
fn traced(cfg: &RunConfig, batching: BatchPolicy) -> RunOutcome {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = cfg.clone();
    cfg.backend.batching = batching;
    let mut out = run_with(
        &cfg,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    )
    .expect("spin run");
    out.trace.sort_by_key(|m| m.id);
    out
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

fn at(m: &RequestMeta, stamp: Stamp) -> f64 {
    ms(m.stamps.get(stamp))
}

fn latency_ms(m: &RequestMeta) -> f64 {
    ms(m.stamps.latency_ns().expect("a whole trace"))
}

/// One worker, no batching: forward k + 1 starts after forward k returned and lasts
/// at least the spin, so the forwards end in request order, `service_ms` apart or more.
fn assert_forwards_serial(trace: &[RequestMeta], service_ms: f64) {
    for pair in trace.windows(2) {
        let gap = at(&pair[1], Stamp::Computed) - at(&pair[0], Stamp::Computed);
        assert!(
            gap >= service_ms - EPS_MS,
            "requests {} and {}: forwards ended {gap:.3} ms apart, less than one {service_ms} ms spin",
            pair[0].id,
            pair[1].id
        );
    }
}

fn burst() -> RunOutcome {
    traced(&spin(4, 4, 60, Arrival::Burst), BatchPolicy::None)
}

#[test]
fn one_worker_burst_throughput_is_at_most_batch_over_service_time() {
    let out = burst();
    assert_eq!((out.report.requests, out.report.samples), (60, 240));
    assert_forwards_serial(&out.trace, 4.0);
    // 60 forwards of at least 4 ms, one after another, after the first send.
    let ceiling = 4.0 / 0.004;
    let got = out.report.throughput_samples_per_s;
    assert!(
        got <= ceiling * 1.001,
        "{got} samples/s beats the service time's {ceiling}"
    );
}

/// Least-squares slope and R² of y against x.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|(_, y)| (y - my).powi(2)).sum();
    let slope = sxy / sxx;
    (slope, sxy * sxy / (sxx * syy))
}

fn burst_of_40() -> RunOutcome {
    traced(&spin(3, 1, 40, Arrival::Burst), BatchPolicy::None)
}

#[test]
fn burst_latency_grows_by_at_least_a_service_time_a_position() {
    let out = burst_of_40();
    assert_eq!(out.trace.len(), 40);
    assert_forwards_serial(&out.trace, 3.0);
    // Request k (from 0) waits for the k before it: its response comes at least
    // (k + 1) × 3 ms after the burst's first send, however late it was itself sent.
    let start = at(&out.trace[0], Stamp::Intended);
    for (k, m) in out.trace.iter().enumerate() {
        let since_start = at(m, Stamp::Received) - start;
        assert!(
            since_start >= (k + 1) as f64 * 3.0 - EPS_MS,
            "position {k}: answered {since_start:.3} ms after the burst began"
        );
    }
}

fn concurrency_one() -> RunOutcome {
    traced(&spin(2, 1, 50, Arrival::Concurrency(1)), BatchPolicy::None)
}

#[test]
fn concurrency_one_keeps_one_request_in_flight_and_none_beats_the_service_time() {
    let out = concurrency_one();
    assert_eq!(out.trace.len(), 50);
    assert!(
        out.report.latency_ms.min >= 2.0,
        "min {} ms is below the 2 ms service time",
        out.report.latency_ms.min
    );
    for m in &out.trace {
        let compute = ms(m.stamps.stage_ns(Stage::Compute).expect("a whole trace"));
        assert!(compute >= 2.0, "request {}: compute {compute} ms", m.id);
        assert!(latency_ms(m) >= compute, "request {}", m.id);
    }
    // A closed loop of one: each request is sent only once the one before is back.
    for pair in out.trace.windows(2) {
        assert!(
            pair[1].stamps.get(Stamp::Sent) >= pair[0].stamps.get(Stamp::Received),
            "request {} was sent before request {} came back",
            pair[1].id,
            pair[0].id
        );
    }
}

#[test]
fn dynamic_batching_runs_full_batches_as_one_forward() {
    let policy = BatchPolicy::Dynamic {
        max_batch_samples: 4,
        timeout_us: 200_000,
    };
    let out = traced(&spin(2, 1, 40, Arrival::Concurrency(4)), policy);
    // Four requests are always in flight and the timeout is long, so every forward is full.
    let mut forwards: Vec<u64> = out
        .trace
        .iter()
        .map(|m| m.stamps.get(Stamp::Computed))
        .collect();
    forwards.sort_unstable();
    forwards.dedup();
    assert_eq!(forwards.len(), 10, "40 requests in batches of 4");
    let r = &out.report;
    assert!(
        r.throughput_samples_per_s <= 4.0 / 0.002 * 1.01,
        "{}",
        r.throughput_samples_per_s
    );
    assert!(r.stages_ms.get("batch").unwrap() >= 0.0 && r.stages_ms.total() > 0.0);
}

/// Open loop above capacity: requests arrive every 2 ms on average (Poisson, 500/s)
/// and each takes 4 ms, so the queue grows by about one request every 4 ms.
fn poisson_overload(n: u32) -> RunOutcome {
    traced(&spin(4, 1, n, Arrival::Poisson(500.0)), BatchPolicy::None)
}

/// Latency counts from the *intended* send time, so request k waits about
/// k × (4 − 2) ms: a generator that timed from the actual send, or that waited for
/// responses (a closed loop), would hide that queueing. The known answer is the
/// ideal queue on the run's own schedule with 4 ms forwards: no request can be
/// answered sooner than it, however busy the machine.
#[test]
fn poisson_overload_latency_grows_with_the_backlog_from_intended_send_times() {
    let n = 100;
    let out = poisson_overload(n);
    let trace = &out.trace;
    assert_eq!(trace.len(), n as usize);
    for m in trace {
        assert!(m.stamps.get(Stamp::Sent) >= m.stamps.get(Stamp::Intended));
    }
    // Throughput is at most the service rate, not the offered rate.
    let got = out.report.throughput_samples_per_s;
    assert!(got <= 250.0 * 1.01, "{got} samples/s");
    let intended: Vec<f64> = trace.iter().map(|m| at(m, Stamp::Intended)).collect();
    let ideal = fifo_replay(&intended, &vec![4.0; trace.len()], 1);
    for (m, floor) in trace.iter().zip(&ideal) {
        assert!(
            latency_ms(m) >= floor - EPS_MS,
            "request {}: latency {:.3} ms, below the ideal queue's {floor:.3}",
            m.id,
            latency_ms(m)
        );
    }
    // The last request waited for the whole backlog: n × 4 ms of service after the
    // first intended send, minus its own offset of about n × 2 ms: ≈ 200 ms.
    let (last, floor) = (latency_ms(&trace[trace.len() - 1]), ideal[ideal.len() - 1]);
    assert!(floor >= 100.0, "the schedule offers no backlog: {floor} ms");
    assert!(last >= floor - EPS_MS, "last latency {last} ms");
    // Open loop: the sender does not wait for responses. Past the first few, each
    // request goes out while the one before is still queued, whatever the load,
    // unless the sender fell behind by the whole backlog (≈ 100 ms at mid-run).
    let sent_ahead = trace
        .windows(2)
        .filter(|p| p[1].stamps.get(Stamp::Sent) < p[0].stamps.get(Stamp::Received))
        .count();
    assert!(
        sent_ahead >= trace.len() / 2,
        "only {sent_ahead} of {n} requests were sent before the previous one came back"
    );
}

// --- Timing figures: printed and checked against their goals by
// scripts/timing-figures.sh, on a quiet machine; never by the test suite.

#[test]
#[ignore = "a timing figure: scripts/timing-figures.sh runs it on a quiet machine"]
fn spin_calibration_figures() {
    let burst = burst().report.throughput_samples_per_s;
    eprintln!("[figure] burst, bs 4, spin 4 ms: {burst:.1} samples/s (goal ≥ 850, ceiling 1000)");

    let out = burst_of_40();
    let first = out.trace[0].id;
    let points: Vec<(f64, f64)> = out
        .trace
        .iter()
        .map(|m| ((m.id - first) as f64, latency_ms(m)))
        .collect();
    let (slope, r2) = fit(&points);
    eprintln!("[figure] burst, spin 3 ms: {slope:.3} ms a position (goal 3 ± 0.3), R² {r2:.4} (goal > 0.99)");

    let c1 = concurrency_one().report;
    let (p50, compute, queue) = (
        c1.latency_ms.p50,
        c1.stages_ms.get("compute").unwrap(),
        c1.stages_ms.get("queue").unwrap(),
    );
    eprintln!(
        "[figure] concurrency 1, spin 2 ms: p50 {p50:.3} ms (goal ≤ 2.5), compute {compute:.3} ms (goal ≤ 2.3), queue {queue:.3} ms (goal < 0.5)"
    );

    let over = poisson_overload(100);
    let tput = over.report.throughput_samples_per_s;
    let lag = over.report.stages_ms.sender_lag_max;
    let latencies: Vec<f64> = over.trace.iter().map(latency_ms).collect();
    let (first_ms, last_ms) = (latencies[0], latencies[latencies.len() - 1]);
    eprintln!(
        "[figure] Poisson 500/s, spin 4 ms: {tput:.1} samples/s (goal ≥ 212.5), first latency {first_ms:.1} ms (goal < 20), \
         last {last_ms:.1} ms (goal 150-260), sender lag max {lag:.2} ms (goal < 20)"
    );

    assert!(burst >= 850.0, "burst throughput {burst}");
    assert!(
        (slope - 3.0).abs() <= 0.3 && r2 > 0.99,
        "slope {slope}, R² {r2}"
    );
    assert!(
        p50 <= 2.5 && compute <= 2.3 && queue < 0.5,
        "{p50} {compute} {queue}"
    );
    assert!(
        tput >= 212.5 && first_ms < 20.0 && lag < 20.0,
        "{tput} {first_ms} {lag}"
    );
    assert!((150.0..=260.0).contains(&last_ms), "last latency {last_ms}");
}
