//! Where `tune` starts under a latency budget. The first point a search measures
//! has no bar to beat, so its rate search runs in full, and its probes are as slow
//! as the point is (100 requests at 50 requests/s are 2 s). So before climbing, the
//! seed's start and its neighbours are screened by their burst capacity, a single
//! short run each and an upper bound of what their rate search can find, and the
//! search starts at the highest if it is clearly higher than the seed's start
//! ([`MOVE_MARGIN`]): its full search is then the cheaper one (its probes are the
//! faster), and the bar it sets lets the others be skipped on the capacity
//! already measured here. Capacities closer than that say little about which
//! point keeps a latency budget at the higher rate (the largest batch has the
//! highest capacity and the longest batches), and the search would pay a full
//! search of a point further from the answer for little.

use std::collections::HashMap;

use super::curve_run::{capacity_rps, CurveRun};
use super::progress::Progress;
use super::spec::SweepSpec;
use super::tune::{flat_index, start_and_neighbours, Axis};
use super::tune_options::TuneOptions;
use crate::config::RunConfig;
use crate::error::{Error, Result};

/// How much higher (a ratio) a neighbour's burst capacity must be than the seed's
/// start for the search to start there instead.
pub const MOVE_MARGIN: f64 = 1.5;

/// Burst capacities measured so far, requests/s, by grid position: a point the
/// screen measured is not measured again when the search reaches it.
#[derive(Debug, Default)]
pub(super) struct Capacities(HashMap<usize, f64>);

impl Capacities {
    /// The burst capacity of the point at `index`, measured now unless known.
    pub(super) fn of(&mut self, index: usize, run: &CurveRun<'_>) -> Result<f64> {
        if let Some(&c) = self.0.get(&index) {
            return Ok(c);
        }
        let c = capacity_rps(run)?;
        self.0.insert(index, c);
        Ok(c)
    }
}

/// How tune runs one point's bursts and rate probes: quietly, within the run
/// limits, until stable where the grid asks for it.
pub(super) fn point_run<'a>(
    spec: &'a SweepSpec,
    cfg: &'a RunConfig,
    opts: &TuneOptions,
) -> CurveRun<'a> {
    CurveRun {
        sweep: &spec.name,
        cfg,
        until: spec.until_stable.as_ref(),
        limits: opts.limits,
        quiet: true,
    }
}

/// What the screen measured: each candidate's id and burst capacity in samples/s
/// (absent: its burst failed), in the order screened.
pub type Screened = Vec<(String, Option<f64>)>;

/// The start: the candidate (the seed's start, then its neighbours) with the
/// highest burst capacity in samples/s where that is at least [`MOVE_MARGIN`] times
/// the seed's start's (or the seed's start's burst failed), else the seed's start. Only an interruption is an error; a burst that fails leaves its
/// point unranked (the search measures it again if it gets there, and says why it
/// failed then).
pub(super) fn screen_start(
    spec: &SweepSpec,
    (axes, configs): (&[Axis], &[RunConfig]),
    opts: &TuneOptions,
    capacities: &mut Capacities,
    progress: &mut Progress,
) -> Result<(Vec<usize>, Screened)> {
    let candidates = start_and_neighbours(axes, opts.seed);
    let mut screened = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    for (k, point) in candidates.iter().enumerate() {
        let index = flat_index(axes, point);
        let cfg = &configs[index];
        let run = point_run(spec, cfg, opts);
        let capacity = match capacities.of(index, &run) {
            Ok(c) => Some(c * cfg.load.batch_size as f64),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                if !opts.quiet {
                    progress.note(&format!("[tune] screen: {} failed: {e}", cfg.id()));
                }
                None
            }
        };
        if !opts.quiet {
            if let Some(c) = capacity {
                progress.note(&format!(
                    "[tune] screen: {} bursts at {c:.1} samples/s",
                    cfg.id()
                ));
            }
        }
        if let Some(c) = capacity.filter(|&c| best.is_none_or(|(_, b)| c > b)) {
            best = Some((k, c));
        }
        screened.push((cfg.id(), capacity));
    }
    let own = screened.first().and_then(|(_, c)| *c);
    let start = match (best, own) {
        (Some((k, c)), Some(own)) if c >= own * MOVE_MARGIN => k,
        (Some((k, _)), None) => k,
        _ => 0,
    };
    Ok((candidates.get(start).cloned().unwrap_or_default(), screened))
}
