//! The A/B procedure: the A B B A schedule, the judgement of each configuration
//! after every block, and the stopping rule.
//!
//! The unit of the statistics is a block: one or more rounds of two pairs, A B then
//! B A, whose value is the mean of its pairs' log ratios. Within a round each side
//! runs once first and once second, and its two runs sit symmetrically in time, so
//! an order effect (the second run of a pair being faster, or a cache the other side
//! emptied) and a linear drift of the machine cancel exactly instead of merely
//! averaging out. A block is also the unit of independence: with servers taking
//! turns ([`super::windows`]) each block starts both servers afresh, so whatever
//! luck a process has (its memory layout, where its threads landed) stays inside
//! one observation instead of leaning on every one. Where the runs come from is a
//! [`Measure`]; nothing here knows about processes, so the statistics and the
//! stopping rule are tested on synthetic data with known answers.

use std::time::{Duration, Instant};

use super::stats::{detectable_change, ratio_change};
use super::{AbOptions, AbReport, ConfigResult, Figure, FigureResult, Measurement, Side, Stop};
use crate::compare::{verdict, Verdict};
use crate::error::Result;
use crate::metrics::median;

/// Something that can measure one block of configuration `config`.
pub trait Measure {
    /// The block's pairs (base, head), in the order they ran: rounds of A B, B A
    /// (so an even number, at least two).
    fn block(&mut self, config: usize) -> Result<Vec<Pair>>;
}

/// Something that can run configuration `config` once on one side and say what it measured.
pub trait MeasureRun {
    /// One fresh run (a new process, or a new window).
    fn measure(&mut self, config: usize, side: Side) -> Result<Measurement>;
}

impl<M: MeasureRun + ?Sized> MeasureRun for &mut M {
    fn measure(&mut self, config: usize, side: Side) -> Result<Measurement> {
        (**self).measure(config, side)
    }
}

/// Blocks of `rounds` A B B A rounds, each run from `runs`.
pub struct RunBlocks<M> {
    /// Where the runs come from.
    pub runs: M,
    /// A B B A rounds per block (at least 1).
    pub rounds: u32,
}

impl<M: MeasureRun> Measure for RunBlocks<M> {
    fn block(&mut self, config: usize) -> Result<Vec<Pair>> {
        let mut pairs = Vec::new();
        for index in 0..2 * self.rounds.max(1) as usize {
            pairs.push(run_pair(&mut self.runs, config, order(index))?);
        }
        Ok(pairs)
    }
}

/// The order of pair `index`: A B, then B A, then A B …, so the whole sequence
/// reads A B B A A B B A and each side goes second in half the pairs.
pub fn order(index: usize) -> [Side; 2] {
    if index.is_multiple_of(2) {
        [Side::Base, Side::Head]
    } else {
        [Side::Head, Side::Base]
    }
}

/// One pair: (base, head).
pub type Pair = (Measurement, Measurement);

/// The mean log ratio head/base of one figure in each block, over the block's
/// rounds (A B, B A) in which all four runs measured it: a round missing one run
/// would lose the A B B A symmetry, so it is left out whole (a window shorter than
/// the CPU sampler's period has no CPU figure); a block with no such round is left out.
pub fn block_log_ratios(figure: Figure, blocks: &[Vec<Pair>]) -> Vec<f64> {
    let log_ratio = |(b, h): &Pair| Some((h.get(figure)? / b.get(figure)?).ln());
    blocks
        .iter()
        .filter_map(|block| {
            let rounds: Vec<f64> = block
                .chunks_exact(2)
                .filter_map(|round| Some((log_ratio(&round[0])? + log_ratio(&round[1])?) / 2.0))
                .collect();
            (!rounds.is_empty()).then(|| rounds.iter().sum::<f64>() / rounds.len() as f64)
        })
        .collect()
}

/// The result of one figure over the pairs so far; `None` when neither side ever
/// measured it (GPU utilisation on a CPU machine).
pub fn judge_figure(
    figure: Figure,
    blocks: &[Vec<Pair>],
    options: &AbOptions,
) -> Option<FigureResult> {
    let pairs = || blocks.iter().flatten();
    let base: Vec<f64> = pairs().filter_map(|(b, _)| b.get(figure)).collect();
    let head: Vec<f64> = pairs().filter_map(|(_, h)| h.get(figure)).collect();
    if base.is_empty() && head.is_empty() {
        return None;
    }
    let logs = block_log_ratios(figure, blocks);
    let enough = logs.len() >= options.min_blocks as usize;
    let change = ratio_change(&logs, options.confidence).filter(|_| enough);
    let t = options.threshold;
    let (verdict, settled) = match &change {
        Some(c) => {
            let v = verdict(c, t, figure.smaller_is_better());
            (
                v,
                v != Verdict::WithinNoise || (c.lower > -t && c.upper < t),
            )
        }
        // Only one side measures it: no pair will ever judge it, so it holds nothing up.
        None => (Verdict::WithinNoise, base.is_empty() || head.is_empty()),
    };
    Some(FigureResult {
        figure,
        unit: figure.unit(),
        blocks: logs.len() as u32,
        base: median(&base),
        head: median(&head),
        detectable: change
            .as_ref()
            .map(|c| detectable_change(c, t, options.confidence)),
        change,
        verdict,
        settled,
    })
}

/// One configuration's result over its blocks so far.
pub fn judge(id: &str, run_args: &str, blocks: &[Vec<Pair>], options: &AbOptions) -> ConfigResult {
    ConfigResult {
        id: id.to_string(),
        run_args: run_args.to_string(),
        pairs: blocks.iter().map(Vec::len).sum::<usize>() as u32,
        figures: table_order(&options.figures)
            .into_iter()
            .filter_map(|f| judge_figure(f, blocks, options))
            .collect(),
    }
}

/// The figures in table order (as declared: [`Figure::ALL`], then [`Figure::LLM`]),
/// each once.
fn table_order(figures: &[Figure]) -> Vec<Figure> {
    let mut sorted = figures.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// Whether another block fits: it is expected to take as long as the last one did.
pub fn block_fits(elapsed: Duration, last_block: Option<Duration>, max_time: Duration) -> bool {
    elapsed + last_block.unwrap_or_default() <= max_time
}

/// One line of progress: each figure's current interval.
pub fn progress_line(result: &ConfigResult, elapsed: Duration) -> String {
    let figures: Vec<String> = result
        .figures
        .iter()
        .map(|f| match &f.change {
            Some(c) => format!(
                "{} {:+.2}% [{:+.2}%, {:+.2}%]",
                f.figure.name(),
                c.point * 100.0,
                c.lower * 100.0,
                c.upper * 100.0
            ),
            None => format!("{} -", f.figure.name()),
        })
        .collect();
    let settled = result.figures.iter().filter(|f| f.settled).count();
    format!(
        "[ab] {:.0}s {} block {}: {}; {settled}/{} settled",
        elapsed.as_secs_f64(),
        result.id,
        result.figures.iter().map(|f| f.blocks).max().unwrap_or(0),
        figures.join(", "),
        result.figures.len()
    )
}

/// The configurations of a job, by their `run` flags, and what each side is.
pub struct Job<'a> {
    /// The `run` flags of each configuration.
    pub run_args: &'a [String],
    /// How the base is described in the report.
    pub base: String,
    /// How the head is described in the report.
    pub head: String,
}

struct Config {
    id: Option<String>,
    blocks: Vec<Vec<Pair>>,
    last_block: Option<Duration>,
}

/// Runs a block (A B B A) of every configuration, round after round, until each is
/// settled or has `max_blocks`, or the next block would pass `max_time`; `progress`
/// gets a line per block. A configuration that has settled runs no more blocks.
pub fn run_ab(
    job: &Job,
    measure: &mut dyn Measure,
    options: &AbOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<AbReport> {
    options.validate()?;
    let start = Instant::now();
    let mut configs: Vec<Config> = job
        .run_args
        .iter()
        .map(|_| Config {
            id: None,
            blocks: Vec::new(),
            last_block: None,
        })
        .collect();
    let id = |c: &Config, k: usize| {
        c.id.clone()
            .unwrap_or_else(|| match job.run_args[k].trim() {
                "" => "run-defaults".into(),
                flags => flags.to_string(),
            })
    };
    let done = |c: &Config, k: usize| {
        let blocks = c.blocks.len();
        blocks >= options.max_blocks as usize
            || (blocks >= options.min_blocks as usize
                && judge(&id(c, k), "", &c.blocks, options).settled())
    };
    let stopped = 'rounds: loop {
        let active: Vec<usize> = (0..configs.len())
            .filter(|&k| !done(&configs[k], k))
            .collect();
        if active.is_empty() {
            break 'rounds Stop::Settled;
        }
        for k in active {
            let c = &mut configs[k];
            if !block_fits(start.elapsed(), c.last_block, options.max_time) {
                break 'rounds Stop::TimeCap;
            }
            let t0 = Instant::now();
            let block = measure.block(k)?;
            if c.id.is_none() {
                c.id = block.first().and_then(|pair| pair.1.config_id.clone());
            }
            c.blocks.push(block);
            c.last_block = Some(t0.elapsed());
            progress(&progress_line(
                &judge(&id(c, k), &job.run_args[k], &c.blocks, options),
                start.elapsed(),
            ));
        }
    };
    let configurations: Vec<ConfigResult> = configs
        .iter()
        .enumerate()
        .map(|(k, c)| judge(&id(c, k), &job.run_args[k], &c.blocks, options))
        .collect();
    let stopped = match stopped {
        Stop::Settled if !configurations.iter().all(ConfigResult::settled) => Stop::MaxBlocks,
        s => s,
    };
    Ok(AbReport {
        base: job.base.clone(),
        head: job.head.clone(),
        threshold: options.threshold,
        confidence: options.confidence,
        configurations: disambiguate(configurations),
        stopped,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Runs one pair in the given order; returns (base, head).
fn run_pair(measure: &mut dyn MeasureRun, config: usize, order: [Side; 2]) -> Result<Pair> {
    let first = measure.measure(config, order[0])?;
    let second = measure.measure(config, order[1])?;
    Ok(match order[0] {
        Side::Base => (first, second),
        Side::Head => (second, first),
    })
}

/// Two configurations with the same id (differing only in, say, `--iters`) get
/// `#2`, `#3` … so that benchmark names stay unique.
fn disambiguate(mut configs: Vec<ConfigResult>) -> Vec<ConfigResult> {
    for k in 1..configs.len() {
        let seen = configs[..k]
            .iter()
            .filter(|c| c.id == configs[k].id || c.id.starts_with(&format!("{}#", configs[k].id)))
            .count();
        if seen > 0 {
            configs[k].id = format!("{}#{}", configs[k].id, seen + 1);
        }
    }
    configs
}
