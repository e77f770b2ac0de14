//! Measuring a server over the network (`--target URL`): any server that speaks the
//! Open Inference Protocol over REST or gRPC (inferbench serve, Triton, KServe,
//! MLServer, …) gets the same load as the in-process pipeline (burst, closed loop,
//! Poisson on a schedule, with latency from the intended send time) and the same
//! report, less what only the server knows.
//!
//! A [`RemoteServer`] is the client's counterpart of [`crate::pipeline::Server`]:
//! it reads the model's metadata, builds and encodes the requests before timing,
//! starts the network side ([`backend`]), warms up, and measures windows with the
//! load generator's own functions. [`run`] runs a configuration to its report:
//! against its target when it has one, in process otherwise.
//!
//! - [`client`]: REST and gRPC clients, and the check of every answer.
//! - [`inputs`]: what the requests carry, from the metadata or `--input`, or image files.
//! - [`scrape`]: the server's own figures from its Prometheus metrics.

pub mod answer;
pub mod backend;
pub mod client;
mod endpoint;
pub mod inputs;
mod remote;
pub mod scrape;

use std::time::Instant;

pub use self::endpoint::Endpoint;
pub use self::remote::RemoteServer;

use crate::config::RunConfig;
use crate::error::Result;
use crate::pipeline::{RunOptions, RunOutcome, Window};
use crate::results::{Environment, RunReport};

/// Runs `cfg` once: against its target when it has one, in process otherwise.
pub fn run(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    match cfg.target {
        Some(_) => run_target(cfg, options),
        None => crate::pipeline::run_with(cfg, options),
    }
}

/// Runs `cfg` against its target: start, warm up, one measured window, report.
pub fn run_target(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    let RunOptions {
        keep_trace,
        mut progress,
        limits,
        ..
    } = options;
    limits.check(cfg)?;
    let run_end = Instant::now() + limits.max_duration;
    let mut server = RemoteServer::start(cfg, limits, Some(run_end), progress.as_mut())?;
    progress("measuring");
    let window = server.measure_window(cfg.load.num_iters as u64, keep_trace);
    let facts = server.facts();
    let target = server.target_facts();
    server.stop();
    let Window {
        mut collector,
        utilization,
        cut,
        load_generator,
        ..
    } = window?;
    let figures = match (collector.figures(), &cut) {
        (Ok(f), _) => f,
        (Err(_), Some(cut)) => return Err(cut.clone().into_error()),
        (Err(e), None) => return Err(e),
    };
    let mut report = RunReport::new(
        cfg.clone(),
        facts,
        figures,
        utilization,
        None,
        Environment::detect(),
    );
    report.load_generator = load_generator;
    report.target = Some(target);
    report.incomplete = cut.as_ref().map(ToString::to_string);
    Ok(RunOutcome {
        report,
        trace: collector.take_trace(),
        cut,
    })
}
