//! Paired A/B comparisons: the base and the head measured in the same job,
//! alternately, and judged on the paired ratios head/base.
//!
//! A comparison against a baseline saved on another day measures the day as much
//! as the code: on a shared machine a GEMM probe read 314 GFLOP/s one day and 196
//! the next, and an unchanged tree came out 30 % "slower". Here both versions run
//! in the same job, one configuration at a time, in the order A B B A A B B A ….
//! By default each side is a server that stays up for a block and measures one
//! short window whenever asked ([`serve`], [`windows`]), so the two sides' windows
//! sit milliseconds apart; with `--process-per-run` each run is a fresh `run`
//! process ([`child`]), for a base built before the servers existed. Within each
//! A B B A round both sides run once first and once second, symmetrically in time,
//! so an order effect and a steady drift of the machine cancel.
//!
//! Per configuration and figure ([`figures`]) the mean log ratio of each block
//! gives a signed-rank interval for the ratio ([`stats`], which says why ranks and
//! not a bootstrap), a verdict against a threshold (the rule of
//! [`crate::compare::verdict`]), and the smallest change this run would have
//! called 19 times out of 20. The job stops as soon as every verdict is settled, or
//! at its time cap ([`procedure`]). Blocks come from any [`procedure::Measure`]:
//! servers, processes, or synthetic data in tests. [`render`] prints the table and
//! the github-action-benchmark files. The same procedure compares two LLM servers
//! (`llm-ab`): each run one `llm` window against that side's server ([`llm_runs`]).

pub mod child;
pub mod figures;
#[cfg(feature = "torch")]
pub mod llm_runs;
pub mod procedure;
pub mod program;
pub mod render;
#[cfg(feature = "torch")]
pub mod serve;
pub mod stats;
pub mod windows;

use std::time::Duration;

use serde::Serialize;

use crate::compare::{Estimate, Verdict};
use crate::error::{Error, Result};
pub use figures::{Figure, Measurement};

/// Which build a run is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The reference (A).
    Base,
    /// The change under test (B).
    Head,
}

impl Side {
    /// `base` or `head`, as messages name the side.
    pub fn name(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// How long to measure and how to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct AbOptions {
    /// A change counts only when its whole interval lies beyond ±threshold (fraction).
    pub threshold: f64,
    /// Confidence of the intervals (0.95).
    pub confidence: f64,
    /// Blocks (A B B A: two pairs) before any verdict may settle; at least what
    /// the confidence needs for an interval: 6 at 95 %, 8 at 99 %.
    pub min_blocks: u32,
    /// Most blocks per configuration.
    pub max_blocks: u32,
    /// Wall time after which no new block starts.
    pub max_time: Duration,
    /// The figures judged (and that gate the exit status and the early stop).
    pub figures: Vec<Figure>,
}

impl Default for AbOptions {
    fn default() -> Self {
        Self {
            threshold: 0.02,
            confidence: 0.95,
            min_blocks: 6,
            max_blocks: 50,
            max_time: Duration::from_secs(300),
            figures: Figure::ALL.to_vec(),
        }
    }
}

impl AbOptions {
    /// Options from command-line values: percentages, a duration such as `180s` or `3min`,
    /// figure names of [`Figure::ALL`] (none = all); validated.
    pub fn from_flags(
        threshold_pct: f64,
        confidence_pct: f64,
        min_blocks: u32,
        max_blocks: u32,
        max_time: &str,
        figures: &[String],
    ) -> Result<Self> {
        Self::from_flags_in(
            &Figure::ALL,
            threshold_pct,
            confidence_pct,
            (min_blocks, max_blocks),
            max_time,
            figures,
        )
    }

    /// As [`AbOptions::from_flags`], with the figures named from `family` (none = all of it).
    pub fn from_flags_in(
        family: &[Figure],
        threshold_pct: f64,
        confidence_pct: f64,
        (min_blocks, max_blocks): (u32, u32),
        max_time: &str,
        figures: &[String],
    ) -> Result<Self> {
        let max_time = crate::config::parse_duration("max-time", max_time)?;
        let figures = if figures.is_empty() {
            family.to_vec()
        } else {
            figures
                .iter()
                .map(|f| Figure::parse_in(f, family))
                .collect::<Result<_>>()?
        };
        let options = Self {
            threshold: threshold_pct / 100.0,
            confidence: confidence_pct / 100.0,
            min_blocks,
            max_blocks,
            max_time,
            figures,
        };
        options.validate()?;
        Ok(options)
    }

    /// Checks ranges, and that `min_blocks` is enough for an interval at `confidence`.
    pub fn validate(&self) -> Result<()> {
        if !(self.threshold.is_finite() && self.threshold >= 0.0 && self.threshold < 1.0) {
            return Err(Error::config(
                "threshold",
                format!(
                    "{}%: expected a percentage in [0, 100), e.g. 2",
                    self.threshold * 100.0
                ),
            ));
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(Error::config(
                "confidence",
                format!(
                    "{}%: expected a percentage in (50, 100), e.g. 95",
                    self.confidence * 100.0
                ),
            ));
        }
        let needed = (1..=64)
            .find(|&n| stats::critical_rank(n, 1.0 - self.confidence).is_some())
            .unwrap_or(64) as u32;
        if self.min_blocks < needed {
            return Err(Error::config(
                "min-blocks",
                format!(
                    "{}: an interval at {}% needs at least {needed} blocks",
                    self.min_blocks,
                    self.confidence * 100.0
                ),
            ));
        }
        if self.max_blocks < self.min_blocks {
            return Err(Error::config(
                "max-blocks",
                format!(
                    "{} is below --min-blocks {}",
                    self.max_blocks, self.min_blocks
                ),
            ));
        }
        if self.figures.is_empty() {
            return Err(Error::config(
                "figures",
                "none; give at least one, e.g. throughput,mean",
            ));
        }
        if self.max_time.is_zero() {
            return Err(Error::config(
                "max-time",
                "0; expected a duration such as 3m or 180s",
            ));
        }
        Ok(())
    }
}

/// One figure of one configuration, head against base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureResult {
    /// Which figure.
    pub figure: Figure,
    /// Its unit.
    pub unit: &'static str,
    /// Blocks (A B B A) in which all four runs measured it.
    pub blocks: u32,
    /// Median over the base's runs; `None` when never measured.
    pub base: Option<f64>,
    /// Median over the head's runs; `None` when never measured.
    pub head: Option<f64>,
    /// Ratio head/base − 1 with its interval; `None` with too few pairs.
    pub change: Option<Estimate>,
    /// The verdict (within noise until an interval exists).
    pub verdict: Verdict,
    /// Whether more pairs would not change the verdict: the interval clears the
    /// threshold, or lies inside it.
    pub settled: bool,
    /// The smallest change (fraction) this run would have called 19 times out of 20:
    /// the threshold plus 1.84 × the interval's half-width at 95 % ([`stats::detectable_change`]).
    pub detectable: Option<f64>,
}

/// One configuration: its pairs and figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigResult {
    /// The configuration id (`RunConfig::id` of the head's runs, else its flags).
    pub id: String,
    /// The `run` flags the configuration was given.
    pub run_args: String,
    /// Completed pairs (twice the blocks).
    pub pairs: u32,
    /// The judged figures, in table order ([`Figure::ALL`], then [`Figure::LLM`]);
    /// ones neither side measured are left out.
    pub figures: Vec<FigureResult>,
}

impl ConfigResult {
    /// Whether every figure is settled (and there is at least one).
    pub fn settled(&self) -> bool {
        !self.figures.is_empty() && self.figures.iter().all(|f| f.settled)
    }
}

/// Why the job stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Every verdict settled.
    Settled,
    /// Some configuration reached `max_blocks` unsettled.
    MaxBlocks,
    /// The time cap came first.
    TimeCap,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbReport {
    /// What ran as the base (program and extra flags).
    pub base: String,
    /// What ran as the head.
    pub head: String,
    /// The threshold (fraction).
    pub threshold: f64,
    /// The intervals' confidence.
    pub confidence: f64,
    /// Per configuration.
    pub configurations: Vec<ConfigResult>,
    /// Why it stopped.
    pub stopped: Stop,
    /// Wall time of the whole job, seconds.
    pub wall_s: f64,
}

impl AbReport {
    /// Whether nothing regressed (what the exit status says).
    pub fn passed(&self) -> bool {
        self.configurations
            .iter()
            .flat_map(|c| &c.figures)
            .all(|f| f.verdict != Verdict::Regressed)
    }
}

#[cfg(test)]
mod tests;
