//! Known answers on the synthetic fixed-time model (`spin:<T>`): each forward takes
//! T whatever the batch, so queueing theory gives the expected figures exactly.
//!
//! Tolerances: the server cannot beat its service time, so upper bounds are tight
//! (1 % for clock granularity). Lower bounds leave room for a loaded 2-core CI machine
//! preempting the worker; the pipeline's own overhead, measured at 20-40 µs a request,
//! is under 1 % of the service times used here.

use std::sync::Mutex;

use inferbench::config::BatchPolicy;
use inferbench::pipeline::{run_with, RunOptions};
use inferbench::request::Stamp;
use inferbench::{Arrival, RunConfig};

/// These tests time real threads: run them one at a time so they do not share cores.
static SERIAL: Mutex<()> = Mutex::new(());

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

fn traced(cfg: &RunConfig, batching: BatchPolicy) -> inferbench::pipeline::RunOutcome {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cfg = cfg.clone();
    cfg.backend.batching = batching;
    run_with(
        &cfg,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    )
    .expect("spin run")
}

#[test]
fn one_worker_burst_throughput_is_batch_over_service_time() {
    let out = traced(&spin(4, 4, 60, Arrival::Burst), BatchPolicy::None);
    let expected = 4.0 / 0.004;
    let got = out.report.throughput_samples_per_s;
    assert!(
        got <= expected * 1.01,
        "{got} samples/s beats the service time's {expected}"
    );
    assert!(
        got >= expected * 0.85,
        "{got} samples/s, expected about {expected}"
    );
    assert_eq!((out.report.requests, out.report.samples), (60, 240));
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

#[test]
fn burst_latency_grows_linearly_with_position() {
    let out = traced(&spin(3, 1, 40, Arrival::Burst), BatchPolicy::None);
    let first = out.trace.iter().map(|m| m.id).min().unwrap();
    let points: Vec<(f64, f64)> = out
        .trace
        .iter()
        .map(|m| {
            (
                (m.id - first) as f64,
                m.stamps.latency_ns().unwrap() as f64 / 1e6,
            )
        })
        .collect();
    let (slope_ms, r2) = fit(&points);
    // Request k waits for the k before it: latency = (k + 1) × 3 ms.
    assert!(
        (slope_ms - 3.0).abs() <= 0.3,
        "slope {slope_ms} ms per position, expected 3"
    );
    assert!(r2 > 0.99, "R² {r2}: latency is not linear in position");
}

#[test]
fn concurrency_one_latency_is_the_service_time() {
    let out = traced(&spin(2, 1, 50, Arrival::Concurrency(1)), BatchPolicy::None);
    let r = &out.report;
    assert!(
        r.latency_ms.min >= 2.0,
        "min {} ms is below the 2 ms service time",
        r.latency_ms.min
    );
    assert!(
        r.latency_ms.p50 <= 2.5,
        "p50 {} ms: more than 0.5 ms of overhead at concurrency 1",
        r.latency_ms.p50
    );
    assert!(
        r.stages_ms.get("compute").unwrap() >= 2.0 && r.stages_ms.get("compute").unwrap() <= 2.3,
        "compute {}",
        r.stages_ms.get("compute").unwrap()
    );
    assert!(
        r.stages_ms.get("queue").unwrap() < 0.5,
        "queue {} ms with one request in flight",
        r.stages_ms.get("queue").unwrap()
    );
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
/// and each takes 4 ms, so the queue grows by about one request every 4 ms. Latency
/// counts from the *intended* send time, so request k waits about k × (4 − 2) ms: a
/// generator that timed from the actual send, or that waited for responses (a closed
/// loop), would hide that queueing. The schedule offers exactly 500/s over the run.
#[test]
fn poisson_overload_latency_grows_with_the_backlog_from_intended_send_times() {
    let n = 100u32;
    let out = traced(&spin(4, 1, n, Arrival::Poisson(500.0)), BatchPolicy::None);
    let trace = &out.trace;
    assert_eq!(trace.len(), n as usize);
    // Throughput is the service rate, not the offered rate.
    let got = out.report.throughput_samples_per_s;
    assert!(
        (250.0 * 0.85..=250.0 * 1.01).contains(&got),
        "{got} samples/s"
    );
    // The last request to be served waited for the whole backlog: about
    // n × 4 ms of service after the first intended send, minus its own intended
    // offset of about n × 2 ms: ≈ 200 ms; the first waited one service time.
    let mut by_id: Vec<_> = trace.iter().collect();
    by_id.sort_by_key(|m| m.id);
    let latency_ms =
        |m: &&inferbench::request::RequestMeta| m.stamps.latency_ns().unwrap() as f64 / 1e6;
    let last = latency_ms(by_id.last().unwrap());
    assert!(
        (150.0..=260.0).contains(&last),
        "last latency {last} ms, expected ≈ 200"
    );
    let first = latency_ms(&by_id[0]);
    assert!(first < 20.0, "first latency {first} ms");
    // The sender kept to the schedule: sent within a few ms of each intended time.
    let lag_ms = out.report.stages_ms.sender_lag_max;
    assert!(lag_ms < 20.0, "sender fell {lag_ms} ms behind");
    for m in &by_id {
        assert!(m.stamps.get(Stamp::Sent) >= m.stamps.get(Stamp::Intended));
    }
}
