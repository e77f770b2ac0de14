//! The first error of any stage is the one a run reports, never the hang-up it
//! causes. A worker whose forward fails returns from its loop, which drops its end
//! of the request queue, and only then sends its error; a client that sends in that
//! gap (a closed loop sends after every response) used to fail with "the backend
//! stopped taking requests", the fault's cause lost, about one run in four.
//!
//! Many short runs of fast faulty models (0-1 ms forwards, the fault early) in every
//! arrival process and both layouts: the old order failed this within a few runs.

use inferbench::config::{Arrival, RunConfig, StreamLayout};

#[test]
fn a_stage_error_is_reported_not_the_hang_up_it_caused() {
    let arrivals = [
        Arrival::Concurrency(2),
        Arrival::Concurrency(4),
        Arrival::Burst,
        Arrival::Poisson(5000.0),
    ];
    for k in 0..60usize {
        let mut cfg = RunConfig::default();
        let spin = ["0ms", "200us", "1ms"][k % 3];
        let at = 6 + k % 5;
        cfg.model.name = format!("fail:spin:{spin}@{at}");
        cfg.model.image_size = 8;
        cfg.load.num_iters = 20;
        cfg.load.arrival = arrivals[k % arrivals.len()];
        cfg.backend.workers = 1 + (k / 4 % 2) as u32;
        cfg.backend.streams = match k / 8 % 2 {
            0 => StreamLayout::Shared,
            _ => StreamLayout::Dedicated,
        };
        cfg.measure_bare_forward = false;
        let err = match inferbench::pipeline::run(&cfg) {
            Ok(_) => panic!("run {k} ({}) ended without its fault", cfg.id()),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&format!("injected fault: forward {at} failed")),
            "run {k} ({}) lost the fault's cause: {err}",
            cfg.id()
        );
    }
}
