//! The child side of windowed A/B runs (`inferbench serve-windows FLAGS`): one
//! server, started and warmed up once, that measures one window per line it reads
//! and writes each window's report as one JSON line.
//!
//! Why a server and not a process per run: on a shared machine the speed drifts
//! over seconds (a ResNet-18 forward on the 2-core VM moved between 6.4 and 8.5 ms
//! from one 0.8 s stretch to the next within one process). A run that starts a
//! process spends most of its time loading and warming up, so the base's and the
//! head's windows sit seconds apart and see different machines. Two servers that
//! take turns put the two windows a few milliseconds apart, and the drift cancels
//! in their ratio. The protocol is a line per window so that the parent decides the
//! order and nothing runs while the other side measures: an idle server waits in a
//! blocking read.

use std::io::{BufRead, Write};

use super::windows::WINDOW_REQUEST;
use crate::config::limits::RunLimits;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::results::Environment;
use crate::target::Endpoint;

/// Starts the server `cfg` describes, then answers each [`WINDOW_REQUEST`] line on
/// `requests` with one window of `cfg.load.num_iters` requests, as one line of
/// `run --json`'s report on `reports` (no bare forward). Every wait ends by
/// `limits` (the wall-clock limit counts from each window's start). Returns at the
/// end of `requests`, after stopping the server; any other line is an error.
pub fn serve_windows(
    cfg: &RunConfig,
    limits: RunLimits,
    requests: &mut dyn BufRead,
    reports: &mut dyn Write,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    cfg.validate()?;
    // As `run` does: a window that could not end within the limit is refused now.
    limits.check(cfg)?;
    let mut server = Endpoint::start(cfg, limits, None, progress)?;
    let served = answer(&mut server, cfg, requests, reports);
    let stopped = server.stop();
    served.and(stopped)
}

/// The request loop of [`serve_windows`]; the caller stops the server, whatever this returns.
fn answer(
    server: &mut Endpoint,
    cfg: &RunConfig,
    requests: &mut dyn BufRead,
    reports: &mut dyn Write,
) -> Result<()> {
    let env = Environment::detect();
    let mut line = String::new();
    loop {
        line.clear();
        let read = requests
            .read_line(&mut line)
            .map_err(|e| Error::Ab(format!("serve-windows: cannot read a request: {e}")))?;
        if read == 0 {
            return Ok(());
        }
        if line.trim() != WINDOW_REQUEST {
            return Err(Error::Ab(format!(
                "serve-windows: '{}' is not a request; each line must be '{WINDOW_REQUEST}'",
                line.trim()
            )));
        }
        let window = server.measure(cfg.load.num_iters as u64, false)?;
        let report = server.report(cfg, window, env.clone())?;
        let text = serde_json::to_string(&report)
            .map_err(|e| Error::Ab(format!("serve-windows: cannot encode a report: {e}")))?;
        writeln!(reports, "{text}")
            .and_then(|_| reports.flush())
            .map_err(|e| Error::Ab(format!("serve-windows: cannot write a report: {e}")))?;
    }
}
