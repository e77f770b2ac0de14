//! Open-loop (Poisson) runs against queueing theory, on the fixed-time model
//! (`spin:5ms`), where the service time is known and measured per request.
//!
//! The server's side of each request is sent → copied out: the load generator's own
//! delays (sending late, picking the response up late) are measured per request and
//! reported (`load_generator`, `sender_lag_*`, `response`), and a busy shared machine
//! can make them large at any moment, so the assertions leave them out and the
//! output prints them. Two comparisons per load:
//! - against an ideal FIFO queue replayed on the run's own send times and each
//!   request's measured service time (copy-in + forward + copy-out): what is left is
//!   what the hand-offs add, with no sampling noise, so the tolerance is the issue's:
//!   2 % on the mean, 5 % on p99;
//! - against the M/D/1 formula with the run's mean service time: a run of N requests
//!   estimates the mean only to within its sampling error, so the tolerance is the
//!   replay's mean's batch-means standard error times 4, plus the 2 %.
//!
//! Measured on the 2-core VM (1,200 requests a load, quiet): end to end, harness
//! included, mean / replay 1.003-1.007 and p99 / replay 1.001-1.003; in a noisier
//! hour the harness's delays reached 5-9 % of the mean latency and the reports said so.

use std::sync::Mutex;

use inferbench::metrics::queueing::{batch_means_se, fifo_replay, md1_mean, md1_quantile};
use inferbench::pipeline::{run_with, RunOptions};
use inferbench::request::{Stage, Stamp};
use inferbench::results::Pickup;
use inferbench::{Arrival, RunConfig};

static SERIAL: Mutex<()> = Mutex::new(());

const SERVICE_MS: f64 = 5.0;
const REQUESTS: u32 = 1200;

struct Loaded {
    report: inferbench::results::RunReport,
    /// Intended send → received, per request.
    end_to_end: Vec<f64>,
    /// The ideal queue on the intended send times.
    replay_intended: Vec<f64>,
    /// Sent → copied out: the server's side.
    server: Vec<f64>,
    /// The ideal queue on the actual send times.
    replay: Vec<f64>,
    service_ms: f64,
    rate_per_ms: f64,
    pickup: Option<Pickup>,
}

fn run_at(rho: f64, workers: u32) -> Loaded {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rate = rho * f64::from(workers) / SERVICE_MS * 1e3;
    let mut cfg = RunConfig::default();
    cfg.model.name = "spin:5ms".into();
    cfg.model.image_size = 4;
    cfg.backend.workers = workers;
    cfg.load.num_iters = REQUESTS;
    cfg.load.arrival = Arrival::Poisson(rate);
    // The stages poll an empty queue for 100 ms (the gap between arrivals at ρ = 0.3
    // is longer only 0.25 % of the time) instead of parking: a parked worker's wake-up is the
    // server's cost, not the harness's nor the queue's, and it is what `--spin-wait`
    // is for. Measured without it: mean / ideal 1.016 at ρ = 0.3, 1.012 at 0.5.
    cfg.backend.spin_wait_us = 100_000;
    cfg.measure_bare_forward = false;
    let out = run_with(
        &cfg,
        RunOptions {
            keep_trace: true,
            ..RunOptions::default()
        },
    )
    .expect("spin run");
    let mut trace = out.trace;
    trace.sort_by_key(|m| m.stamps.get(Stamp::Intended));
    let ms = |ns: u64| ns as f64 / 1e6;
    let at = |m: &inferbench::request::RequestMeta, stamp| ms(m.stamps.get(stamp));
    let intended: Vec<f64> = trace.iter().map(|m| at(m, Stamp::Intended)).collect();
    let sent: Vec<f64> = trace.iter().map(|m| at(m, Stamp::Sent)).collect();
    let services: Vec<f64> = trace
        .iter()
        .map(|m| {
            let stage = |s| m.stamps.stage_ns(s).expect("a whole trace");
            ms(stage(Stage::CopyIn) + stage(Stage::Compute) + stage(Stage::CopyOut))
        })
        .collect();
    let end_to_end = trace
        .iter()
        .map(|m| ms(m.stamps.latency_ns().expect("a whole trace")))
        .collect();
    let server = trace
        .iter()
        .map(|m| at(m, Stamp::CopiedOut) - at(m, Stamp::Sent))
        .collect();
    Loaded {
        report: out.report.clone(),
        end_to_end,
        replay_intended: fifo_replay(&intended, &services, workers as usize),
        server,
        replay: fifo_replay(&sent, &services, workers as usize),
        service_ms: services.iter().sum::<f64>() / services.len() as f64,
        rate_per_ms: rate / 1e3,
        pickup: out.report.load_generator.map(|g| g.pickup),
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn p99(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * 0.99).round() as usize]
}

fn check(rho: f64, workers: u32) {
    let run = run_at(rho, workers);
    assert!(
        run.pickup.is_some(),
        "an open-loop report names its load generator"
    );
    eprintln!(
        "ρ {rho}, {workers} worker(s), end to end with the harness: mean {:.4}, p99 {:.4} of the ideal queue's",
        mean(&run.end_to_end) / mean(&run.replay_intended),
        p99(&run.end_to_end) / p99(&run.replay_intended)
    );
    let (got, ideal) = (mean(&run.server), mean(&run.replay));
    assert!(
        got >= ideal * 0.999 && got <= ideal * 1.02,
        "ρ {rho}, {workers} worker(s): mean {got:.3} ms against the ideal queue's {ideal:.3} on the same arrivals"
    );
    let (got99, ideal99) = (p99(&run.server), p99(&run.replay));
    eprintln!(
        "ρ {rho}, {workers} worker(s), server side: mean {got:.3} / ideal {ideal:.3} = {:.4}; p99 {got99:.3} / {ideal99:.3} = {:.4}; service {:.3} ms",
        got / ideal,
        got99 / ideal99,
        run.service_ms
    );
    assert!(
        (got99 / ideal99 - 1.0).abs() <= 0.05,
        "ρ {rho}, {workers} worker(s): p99 {got99:.3} ms against the ideal queue's {ideal99:.3}"
    );
    if workers == 1 {
        let formula = md1_mean(run.rate_per_ms, run.service_ms);
        if let Some(formula99) = md1_quantile(0.99, run.rate_per_ms, run.service_ms) {
            eprintln!(
                "ρ {rho}: against M/D/1 (service {:.3} ms): mean {got:.3} / {formula:.3} = {:.4}; p99 {got99:.3} / {formula99:.3} = {:.4}",
                run.service_ms,
                got / formula,
                got99 / formula99
            );
        }
        let se = batch_means_se(&run.replay, 10).expect("enough requests");
        let tolerance = 4.0 * se + 0.02 * formula;
        assert!(
            (got - formula).abs() <= tolerance,
            "ρ {rho}: mean {got:.3} ms against M/D/1's {formula:.3} (± {tolerance:.3} for {REQUESTS} requests)"
        );
    }
}

#[test]
fn one_worker_at_low_load_matches_md1() {
    check(0.3, 1);
}

#[test]
fn one_worker_at_half_load_matches_md1() {
    check(0.5, 1);
}

#[test]
fn the_summary_names_the_load_generators_share_and_warns_when_it_is_large() {
    let mut report = run_at(0.3, 1).report;
    let summary = inferbench::report::summary::render(&report);
    assert!(
        summary.contains("Load generator: sender lag mean"),
        "{summary}"
    );
    // A pickup of a tenth of the mean latency is the load generator's, and said so.
    *report.stages_ms.get_mut("response").unwrap() = report.latency_ms.mean / 10.0;
    let summary = inferbench::report::summary::render(&report);
    assert!(
        summary.contains("WARNING: the load generator's own delays are 1"),
        "{summary}"
    );
}

#[test]
fn one_worker_at_high_load_matches_md1() {
    check(0.8, 1);
}
