//! A hung forward leaves only itself behind. In the dedicated layout the copy
//! stages wait on queues whose senders the hung worker holds, so they never saw a
//! hang-up and stayed parked for the life of the process: a long sweep in one
//! process gathered two threads per hung run. Now the cancel that follows the stall
//! wakes them and they exit.
//!
//! This file holds one test, so that no other test's threads come and go in the
//! count (one test binary is one process).

use std::time::{Duration, Instant};

use inferbench::config::limits::RunLimits;
use inferbench::config::{RunConfig, StreamLayout};
use inferbench::pipeline::{run_with, RunOptions};

/// Threads of this process now.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task is readable")
        .count()
}

/// One run of `model` in the dedicated layout that hangs, ended by a short stall.
fn hung_run(model: &str) {
    let mut cfg = RunConfig::default();
    cfg.model.name = model.into();
    cfg.model.image_size = 8;
    cfg.load.num_iters = 20;
    cfg.backend.streams = StreamLayout::Dedicated;
    cfg.measure_bare_forward = false;
    let options = RunOptions {
        limits: RunLimits {
            stall_timeout: Some(Duration::from_millis(300)),
            ..RunLimits::default()
        },
        ..RunOptions::default()
    };
    // Mid-window the run comes back cut short; in the warm-up it is an error.
    match run_with(&cfg, options) {
        Ok(outcome) => assert!(outcome.cut.is_some(), "{model}: the run did not stall"),
        Err(e) => assert!(e.to_string().contains("stalled"), "{model}: {e}"),
    }
}

#[test]
fn hung_runs_leave_only_their_hung_worker_behind() {
    // The first run starts whatever the process keeps (libtorch's pools, …).
    hung_run("fail:spin:1ms@10:hang");
    let before = threads();
    let runs = [
        "fail:spin:1ms@10:hang", // in the measured window
        "fail:spin:1ms@2:hang",  // in the warm-up
        "fail:spin:1ms@10:hang",
        "fail:spin:1ms@2:hang",
    ];
    for model in runs {
        hung_run(model);
    }
    // Each run leaves its hung worker, which nothing can stop; its copy-in and
    // copy-out stages exit (they used to add two threads a run). Exiting threads
    // take a moment to leave /proc: wait for them, generously.
    let allowed = before + runs.len();
    let waited = Instant::now();
    while threads() > allowed && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        threads() <= allowed,
        "{} threads after {} hung runs, {before} before: the stages parked behind a hung worker did not exit",
        threads(),
        runs.len()
    );
}
