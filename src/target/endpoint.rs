//! One type for "the server a measurement runs against": the pipeline in this
//! process, or a server over the network, so that every harness that measures
//! windows on a long-lived server (A/B's window servers, criterion suites) takes
//! `--target` the same way a single run does.

use std::time::Instant;

use super::RemoteServer;
use crate::config::limits::RunLimits;
use crate::config::RunConfig;
use crate::error::Result;
use crate::pipeline::{Server, Window};
use crate::results::{Environment, RunReport};

/// A started, warmed-up server that measures windows.
pub enum Endpoint {
    /// The pipeline in this process.
    Local(Box<Server>),
    /// A server over the network.
    Remote(Box<RemoteServer>),
}

impl Endpoint {
    /// Starts `cfg`'s server: its target when it has one, the pipeline on its
    /// device otherwise. Every wait ends by `run_end` when one is given.
    pub fn start(
        cfg: &RunConfig,
        limits: RunLimits,
        run_end: Option<Instant>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        Ok(match cfg.target {
            Some(_) => Endpoint::Remote(Box::new(RemoteServer::start(
                cfg, limits, run_end, progress,
            )?)),
            None => {
                let device = crate::device::open(cfg.backend.device)?;
                Endpoint::Local(Box::new(Server::start_within(
                    cfg, device, limits, run_end, progress,
                )?))
            }
        })
    }

    /// One window of `n` requests; a window cut short comes back with what it
    /// collected and [`Window::cut`] set.
    pub fn measure_window(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        match self {
            Endpoint::Local(s) => s.measure_window(n, keep_trace),
            Endpoint::Remote(s) => s.measure_window(n, keep_trace),
        }
    }

    /// One whole window of `n` requests; an error if it was cut short.
    pub fn measure(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        let window = self.measure_window(n, keep_trace)?;
        match window.cut {
            Some(cut) => Err(cut.into_error()),
            None => Ok(window),
        }
    }

    /// The report of a whole window of `cfg` (no bare forward).
    pub fn report(&self, cfg: &RunConfig, window: Window, env: Environment) -> Result<RunReport> {
        let facts = match self {
            Endpoint::Local(s) => s.facts(),
            Endpoint::Remote(s) => s.facts(),
        };
        let mut report = RunReport::new(
            cfg.clone(),
            facts,
            window.collector.figures()?,
            window.utilization,
            None,
            env,
        );
        report.device_stages_ms = window.device_stages;
        report.load_generator = window.load_generator;
        if let Endpoint::Remote(s) = self {
            report.target = Some(s.target_facts());
        }
        Ok(report)
    }

    /// Stops the server (the pipeline's stages; the network client).
    pub fn stop(self) -> Result<()> {
        match self {
            Endpoint::Local(s) => s.stop(),
            Endpoint::Remote(s) => {
                s.stop();
                Ok(())
            }
        }
    }
}
