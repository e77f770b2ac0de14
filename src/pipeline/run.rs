//! One run end to end ([`run_with`]): load the [`Workload`], time the bare forward,
//! serve it for one measured window, stop, time the bare forward again, and
//! assemble the [`RunReport`].
//!
//! A run has a wall-clock limit ([`RunLimits`]); a configuration that could not end
//! within it is refused before anything starts. A window cut short (stall, time
//! limit, Ctrl-C) still gives a report of what it measured, marked incomplete.

use std::sync::Arc;
use std::time::Instant;

use super::server::{Server, Window, Workload};
use super::watch::Cut;
use crate::config::limits::RunLimits;
use crate::config::RunConfig;
use crate::device::{self, ComputeDevice};
use crate::error::{Error, Result};
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
    /// Wall-clock limit and stall timeout. Default: [`RunLimits::default`].
    pub limits: RunLimits,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            device: None,
            keep_trace: false,
            progress: Box::new(|_| {}),
            limits: RunLimits::default(),
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
    /// Why the window ended early; the report then covers what was measured and
    /// says so in [`RunReport::incomplete`].
    pub cut: Option<Cut>,
}

impl RunOutcome {
    /// The report of a whole window; an error naming the cut otherwise.
    pub fn into_complete(self) -> Result<RunReport> {
        match self.cut {
            None => Ok(self.report),
            Some(cut) => Err(cut.into_error()),
        }
    }
}

/// Runs the pipeline once as `cfg` describes (batching and device included).
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    run_with(cfg, RunOptions::default())?.into_complete()
}

/// Runs the pipeline once with explicit options.
pub fn run_with(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    let RunOptions {
        device,
        keep_trace,
        mut progress,
        limits,
    } = options;
    limits.check(cfg)?;
    let run_end = Instant::now() + limits.max_duration;
    let progress = progress.as_mut();
    cfg.validate()?;
    let device = match device {
        Some(device) => device,
        None => device::open(cfg.backend.device)?,
    };
    let work = Workload::load(cfg, Arc::clone(&device), progress)?;
    // The bare loop is timed half before and half after the pipeline window, and the
    // two throughputs averaged, so that a machine drifting faster or slower during the
    // run moves both sides of the efficiency ratio alike. Both halves run while no
    // backend thread exists: an idle worker's OpenMP team would slow the bare loop's
    // threads, and not the pipeline's (see `device::openmp`).
    let bare_iters = cfg.load.num_iters.div_ceil(2);
    let bare_before = if cfg.measure_bare_forward {
        progress("timing the bare forward (1/2)");
        Some(work.bare_forward(bare_iters))
    } else {
        None
    };
    if crate::pipeline::interrupt::requested() {
        return Err(Error::Interrupted);
    }
    let mut server = Server::serve(work, limits, Some(run_end), progress)?;
    progress("measuring");
    let window = server.measure_window(cfg.load.num_iters as u64, keep_trace);
    let facts = server.facts();
    let (work, stopped) = server.stop_keeping();
    let whole = matches!(&window, Ok(w) if w.cut.is_none()) && stopped.is_ok();
    let bare = match (whole, bare_before) {
        (true, Some(Ok(before))) => {
            progress("timing the bare forward (2/2)");
            Some(
                work.bare_forward(bare_iters)
                    .map(|after| (before + after) / 2.0),
            )
        }
        (_, Some(Err(e))) => Some(Err(e)),
        _ => None,
    };
    let h2d = match (whole, &bare) {
        (true, Some(Ok(_))) => {
            progress("probing host-to-device bandwidth");
            Some(work.h2d_bandwidth())
        }
        _ => None,
    };
    let bytes_per_sample = work.input_bytes_per_sample();
    let Window {
        mut collector,
        utilization,
        device_stages,
        cut,
        load_generator,
    } = window?;
    let Some(cut) = cut else {
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
        report.load_generator = load_generator;
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
        return Ok(RunOutcome {
            report,
            trace: collector.take_trace(),
            cut: None,
        });
    };
    // A window cut short reports what it measured; with nothing measured, the cut
    // is the error. A stage left behind is part of the story, not a second error.
    let Ok(figures) = collector.figures() else {
        return Err(cut.into_error());
    };
    let mut report = RunReport::new(
        cfg.clone(),
        facts,
        figures,
        utilization,
        bare.and_then(|b| b.ok()),
        Environment::detect(),
    );
    report.device_stages_ms = device_stages;
    report.load_generator = load_generator;
    report.incomplete = Some(match stopped {
        Ok(()) => cut.to_string(),
        Err(e) => format!("{cut}; {e}"),
    });
    Ok(RunOutcome {
        report,
        trace: collector.take_trace(),
        cut: Some(cut),
    })
}
