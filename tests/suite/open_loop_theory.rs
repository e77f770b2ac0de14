//! Open-loop (Poisson) runs against queueing theory, on the fixed-time model
//! (`spin:5ms`), where the service time is known and measured per request.
//!
//! The server's side of each request is sent → copied out: the load generator's own
//! delays (sending late, picking the response up late) are measured per request and
//! reported (`load_generator`, `sender_lag_*`, `response`). What the suite asserts at
//! each load is what a busy machine cannot change, since load only adds delay:
//! - no request is answered sooner than in an ideal FIFO queue replayed on the run's
//!   own send times and each request's measured service time (copy-in + forward +
//!   copy-out), nor, end to end, sooner than that queue on the intended send times;
//! - the arrivals the run offered are exactly its seeded Poisson schedule at the
//!   rate asked for (whose statistics `pipeline::arrivals` tests), whenever each
//!   request was actually sent: the ideal queue on them is an M/D/1 queue.
//!
//! How close the server comes to the ideal queue is what the hand-offs add, a timing
//! figure that a loaded machine inflates at any moment (a preempted stage thread
//! holds every request behind it). Its goals are the issue's: 2 % on the mean, 5 % on
//! p99, and the mean against the M/D/1 formula within 4 standard errors + 2 %. The
//! `#[ignore]`d `quiet_machine_goals` checks them and prints the figures, and
//! `scripts/timing-figures.sh` runs it. Measured on the 2-core VM (1,200 requests a
//! load, quiet): end to end, harness included, mean / replay 1.003-1.007 and p99 /
//! replay 1.001-1.003; in a noisier hour the harness's delays reached 5-9 % of the
//! mean latency and the reports said so; with two `yes` running, the server's mean
//! exceeded the ideal queue's by more than 2 % (issue 28).

use std::sync::Mutex;

use inferbench::metrics::queueing::{batch_means_se, fifo_replay, md1_mean, md1_quantile};
use inferbench::pipeline::arrivals::poisson_schedule;
use inferbench::pipeline::{run_with, RunOptions};
use inferbench::request::{Stage, Stamp};
use inferbench::results::Pickup;
use inferbench::{Arrival, RunConfig};

static SERIAL: Mutex<()> = Mutex::new(());

const SERVICE_MS: f64 = 5.0;
/// Requests a load in the suite: enough for the bounds, which hold request by request.
const REQUESTS: u32 = 400;
/// Requests a load for the quiet-machine goals, whose tolerances are of means.
const GOAL_REQUESTS: u32 = 1200;
/// Clock granularity and float rounding, ms: the slack of a bound that is otherwise exact.
const EPS_MS: f64 = 1e-3;

struct Loaded {
    report: inferbench::results::RunReport,
    /// Request id and intended send (ns on the run's clock), in intended order.
    schedule: Vec<(u64, u64)>,
    /// The seed and rate (requests/s) the schedule was drawn with.
    seed: u64,
    rate: f64,
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

fn run_at(rho: f64, requests: u32) -> Loaded {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rate = rho / SERVICE_MS * 1e3;
    let mut cfg = RunConfig::default();
    cfg.model.name = "spin:5ms".into();
    cfg.model.image_size = 4;
    cfg.backend.workers = 1;
    cfg.load.num_iters = requests;
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
    assert_eq!(trace.len(), requests as usize, "every request answered");
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
        schedule: trace
            .iter()
            .map(|m| (m.id, m.stamps.get(Stamp::Intended)))
            .collect(),
        seed: cfg.load.seed,
        rate,
        end_to_end,
        replay_intended: fifo_replay(&intended, &services, 1),
        server,
        replay: fifo_replay(&sent, &services, 1),
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

/// Asserts that no request beat the ideal queue on the same arrivals.
fn never_faster(what: &str, got: &[f64], ideal: &[f64]) {
    for (k, (g, i)) in got.iter().zip(ideal).enumerate() {
        assert!(
            *g >= i - EPS_MS,
            "{what}: request {k} took {g:.4} ms, less than the ideal queue's {i:.4}"
        );
    }
}

/// What a loaded machine cannot change (the module's first two points).
fn check(rho: f64) {
    let run = run_at(rho, REQUESTS);
    assert!(
        run.pickup.is_some(),
        "an open-loop report names its load generator"
    );
    never_faster(&format!("ρ {rho}, server side"), &run.server, &run.replay);
    never_faster(
        &format!("ρ {rho}, end to end"),
        &run.end_to_end,
        &run.replay_intended,
    );
    // The known answer: request first + k meant to go out schedule[k] after the start.
    let (first, start) = run.schedule[0];
    let drawn = poisson_schedule(run.rate, run.schedule.len(), run.seed ^ first);
    for (k, ((id, at), offset)) in run.schedule.iter().zip(&drawn).enumerate() {
        assert_eq!(
            (*id, at - start),
            (first + k as u64, offset - drawn[0]),
            "ρ {rho}: request {k} of the schedule"
        );
    }
    eprintln!(
        "ρ {rho}: server side mean {:.4}, p99 {:.4} of the ideal queue's (a timing figure, not asserted here)",
        mean(&run.server) / mean(&run.replay),
        p99(&run.server) / p99(&run.replay)
    );
}

#[test]
fn one_worker_at_low_load_is_never_faster_than_the_ideal_queue() {
    check(0.3);
}

#[test]
fn one_worker_at_half_load_is_never_faster_than_the_ideal_queue() {
    check(0.5);
}

#[test]
fn one_worker_at_high_load_is_never_faster_than_the_ideal_queue() {
    check(0.8);
}

#[test]
fn the_summary_names_the_load_generators_share_and_warns_when_it_is_large() {
    let mut report = run_at(0.3, REQUESTS).report;
    let summary = inferbench::report::summary::render(&report);
    assert!(
        summary.contains("Load generator: sender lag mean"),
        "{summary}"
    );
    // A pickup of a tenth of the mean latency is the load generator's, and said so
    // (the run's own sender lag set aside: on a busy machine it adds its own share).
    *report.stages_ms.get_mut("response").unwrap() = report.latency_ms.mean / 10.0;
    report.stages_ms.sender_lag_mean = 0.0;
    let summary = inferbench::report::summary::render(&report);
    assert!(
        summary.contains("WARNING: the load generator's own delays are 10.0 %"),
        "{summary}"
    );
}

/// The goals of what the hand-offs add, against the ideal queue and the formula.
fn goals(rho: f64) {
    let run = run_at(rho, GOAL_REQUESTS);
    eprintln!(
        "[figure] ρ {rho}, end to end with the harness: mean {:.4}, p99 {:.4} of the ideal queue's",
        mean(&run.end_to_end) / mean(&run.replay_intended),
        p99(&run.end_to_end) / p99(&run.replay_intended)
    );
    let (got, ideal) = (mean(&run.server), mean(&run.replay));
    let (got99, ideal99) = (p99(&run.server), p99(&run.replay));
    eprintln!(
        "[figure] ρ {rho}, server side: mean {got:.3} / ideal {ideal:.3} = {:.4} (goal ≤ 1.02); \
         p99 {got99:.3} / {ideal99:.3} = {:.4} (goal within 5 %); service {:.3} ms",
        got / ideal,
        got99 / ideal99,
        run.service_ms
    );
    let formula = md1_mean(run.rate_per_ms, run.service_ms);
    if let Some(formula99) = md1_quantile(0.99, run.rate_per_ms, run.service_ms) {
        eprintln!(
            "[figure] ρ {rho}, against M/D/1 (service {:.3} ms): mean {got:.3} / {formula:.3} = {:.4}; p99 {got99:.3} / {formula99:.3} = {:.4}",
            run.service_ms,
            got / formula,
            got99 / formula99
        );
    }
    let se = batch_means_se(&run.replay, 10).expect("enough requests");
    let tolerance = 4.0 * se + 0.02 * formula;
    assert!(
        got >= ideal * 0.999 && got <= ideal * 1.02,
        "ρ {rho}: mean {got:.3} ms against the ideal queue's {ideal:.3} on the same arrivals"
    );
    assert!(
        (got99 / ideal99 - 1.0).abs() <= 0.05,
        "ρ {rho}: p99 {got99:.3} ms against the ideal queue's {ideal99:.3}"
    );
    assert!(
        (got - formula).abs() <= tolerance,
        "ρ {rho}: mean {got:.3} ms against M/D/1's {formula:.3} (± {tolerance:.3} for {GOAL_REQUESTS} requests)"
    );
}

#[test]
#[ignore = "a timing figure: scripts/timing-figures.sh runs it on a quiet machine"]
fn quiet_machine_goals() {
    for rho in [0.3, 0.5, 0.8] {
        goals(rho);
    }
}
