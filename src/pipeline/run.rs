//! One run end to end ([`run_with`]): start a [`Server`], time the bare forward
//! half before and half after one measured window, stop, and assemble the
//! [`RunReport`].

use std::sync::Arc;

use super::server::{Server, Window};
use crate::config::RunConfig;
use crate::device::{self, ComputeDevice};
use crate::error::Result;
use crate::metrics::Limits;
use crate::request::RequestMeta;
use crate::results::{Environment, RunReport};

/// How to run, beyond what the configuration says.
pub struct RunOptions<'a> {
    /// An already opened device. Default: the one the configuration names, opened here.
    pub device: Option<Arc<dyn ComputeDevice>>,
    /// Keep every measured request's timestamps in [`RunOutcome::trace`]. Default false.
    pub keep_trace: bool,
    /// Told each phase as it starts (for a CLI's status line).
    pub progress: Box<dyn FnMut(&str) + 'a>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            device: None,
            keep_trace: false,
            progress: Box::new(|_| {}),
        }
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// The figures.
    pub report: RunReport,
    /// Each measured request's timestamps, in the order responses arrived
    /// (empty unless [`RunOptions::keep_trace`]).
    pub trace: Vec<RequestMeta>,
}

/// Runs the pipeline once as `cfg` describes (batching and device included).
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    run_with(cfg, RunOptions::default()).map(|outcome| outcome.report)
}

/// Runs the pipeline once with explicit options.
pub fn run_with(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    let RunOptions {
        device,
        keep_trace,
        mut progress,
    } = options;
    let progress = progress.as_mut();
    cfg.validate()?;
    let device = match device {
        Some(device) => device,
        None => device::open(cfg.backend.device)?,
    };
    let mut server = Server::start(cfg, Arc::clone(&device), progress)?;
    // The bare loop is timed half before and half after the pipeline window, and the
    // two throughputs averaged, so that a machine drifting faster or slower during the
    // run moves both sides of the efficiency ratio alike.
    let bare_iters = cfg.load.num_iters.div_ceil(2);
    let bare_before = if cfg.measure_bare_forward {
        progress("timing the bare forward (1/2)");
        Some(server.bare_forward(bare_iters))
    } else {
        None
    };
    progress("measuring");
    let window = server.measure(cfg.load.num_iters as u64, keep_trace);
    let bare = match (&window, bare_before) {
        (Ok(_), Some(Ok(before))) => {
            progress("timing the bare forward (2/2)");
            Some(
                server
                    .bare_forward(bare_iters)
                    .map(|after| (before + after) / 2.0),
            )
        }
        (_, Some(Err(e))) => Some(Err(e)),
        _ => None,
    };
    let h2d = match (&window, &bare) {
        (Ok(_), Some(Ok(_))) => {
            progress("probing host-to-device bandwidth");
            Some(server.h2d_bandwidth())
        }
        _ => None,
    };
    let bytes_per_sample = server.input_bytes_per_sample();
    let facts = server.facts();
    let stopped = server.stop();
    let Window {
        mut collector,
        utilization,
        device_stages,
    } = window?;
    stopped?;
    let bare = bare.transpose()?;
    let h2d = h2d.transpose()?.flatten();
    let mut report = RunReport::new(
        cfg.clone(),
        facts,
        collector.figures()?,
        utilization,
        bare,
        Environment::detect(),
    );
    report.device_stages_ms = device_stages;
    report.limits = match (bare, h2d) {
        (Some(compute), Some(bandwidth)) => Limits::assess(
            compute,
            bandwidth,
            bytes_per_sample,
            cfg.load.batch_size,
            report.throughput_samples_per_s,
        ),
        _ => None,
    };
    Ok(RunOutcome {
        report,
        trace: collector.take_trace(),
    })
}
