//! Running `inferbench tune` in rounds from a results folder (`--round-dir DIR`), so
//! that a round's candidates run as the shards of a Kubernetes Indexed Job:
//!
//! - `tune --round-dir DIR --shard I/N` (or `--shards N` in a pod) replays the search
//!   ([`super::tune_rounds`]) from every `round-*.jsonl` in DIR, cuts the pending
//!   round's points into N shards by estimated cost (as a sweep's shards are cut), and
//!   measures its part's unmeasured points into `round-K-shard-I-of-N.jsonl`.
//! - `tune --round-dir DIR` with no shard says what is pending, or, once the search is
//!   over, writes its `tune` record to `DIR/tune.jsonl` and returns it.
//!
//! `DIR/tune-plan.json` pins the search (grid, goal, seed, gain, budget) on first use,
//! so that results of another search are never replayed into this one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::environment::probe_record;
use super::progress::Progress;
use super::record::{Record, SweepEnvironment, TuneRecord};
use super::shard::{cost, partition, Shard};
use super::spec::SweepSpec;
use super::tune::{axes_of, flat_index};
use super::tune_explain::{tune_record, Timing};
use super::tune_options::{Goal, TuneOptions};
use super::tune_round_plan::pin_plan;
use super::tune_rounds::{next_round, Round};
use super::tune_run::{config_score, max_rate_score, measure_point};
use super::tune_screen::Capacities;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::results::jsonl::JsonlSink;

/// The finished search's record.
pub const RESULT_FILE: &str = "tune.jsonl";

/// Where the search stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundState {
    /// Round `number` has points to measure: their ids (all of the round's) and how
    /// many of them are measured already.
    Pending {
        /// The round, from 0.
        number: usize,
        /// Every configuration of the round.
        ids: Vec<String>,
        /// How many of them have a result.
        measured: usize,
    },
    /// The search is over; its record is in `DIR/tune.jsonl`.
    Done(Box<TuneRecord>),
}

/// What one shard did.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardOutcome {
    /// It measured `measured` points of its `part` in round `number`, into `file`.
    Measured {
        /// The round.
        number: usize,
        /// Points measured now.
        measured: usize,
        /// Points in this shard's part of the round.
        part: usize,
        /// The shard's results file.
        file: PathBuf,
    },
    /// Nothing to measure: its part is empty or already measured (`part` points).
    NothingLeft {
        /// The round.
        number: usize,
        /// Points in this shard's part of the round.
        part: usize,
    },
    /// The search is over.
    Finished,
}

/// Where the search in `dir` stands; when it is over, writes `DIR/tune.jsonl`.
pub fn round_state(spec: &SweepSpec, opts: &TuneOptions, dir: &Path) -> Result<RoundState> {
    state(spec, opts, dir, true)
}

/// [`round_state`], writing (and removing a stale) `DIR/tune.jsonl` only if `write`.
fn state(spec: &SweepSpec, opts: &TuneOptions, dir: &Path, write: bool) -> Result<RoundState> {
    let configs = spec.expand()?;
    pin_plan(spec, opts, &configs, dir)?;
    let known = known_scores(dir, &configs, opts.goal)?;
    let result = dir.join(RESULT_FILE);
    match replay(spec, opts, &known) {
        Round::Pending { number, points, .. } => {
            if write && result.exists() {
                std::fs::remove_file(&result)
                    .map_err(|e| Error::io("cannot remove the stale", &result, e))?;
            }
            let axes = axes_of(spec);
            let index = |p: &Vec<usize>| flat_index(&axes, p);
            Ok(RoundState::Pending {
                number,
                measured: points
                    .iter()
                    .filter(|p| known.contains_key(&index(p)))
                    .count(),
                ids: points.iter().map(|p| configs[index(p)].id()).collect(),
            })
        }
        Round::Done { search, rounds } => {
            let env = SweepEnvironment::detect();
            let record = tune_record(
                spec,
                opts,
                (&search, &[]),
                &configs,
                Timing::Rounds(rounds),
                env,
            );
            if write {
                let mut line = serde_json::to_vec(&Record::Tune(record.clone()))
                    .expect("records serialise; this is a bug");
                line.push(b'\n');
                crate::results::file::write_atomically(&result, &line)?;
            }
            Ok(RoundState::Done(Box::new(record)))
        }
    }
}

/// Measures `shard`'s part of the pending round in `dir`.
pub fn measure_shard(
    spec: &SweepSpec,
    opts: &TuneOptions,
    dir: &Path,
    shard: Shard,
) -> Result<ShardOutcome> {
    let configs = spec.expand()?;
    pin_plan(spec, opts, &configs, dir)?;
    let known = known_scores(dir, &configs, opts.goal)?;
    let Round::Pending {
        number,
        points,
        bar,
    } = replay(spec, opts, &known)
    else {
        return Ok(ShardOutcome::Finished);
    };
    let axes = axes_of(spec);
    let indices: Vec<usize> = points.iter().map(|p| flat_index(&axes, p)).collect();
    let costs: Vec<u128> = indices
        .iter()
        .map(|&i| cost(&configs[i], spec.repeats))
        .collect();
    let part: Vec<usize> = partition(&costs, shard.count)
        .swap_remove(shard.index as usize)
        .into_iter()
        .map(|k| indices[k])
        .collect();
    let todo: Vec<usize> = part
        .iter()
        .copied()
        .filter(|i| !known.contains_key(i))
        .collect();
    if todo.is_empty() {
        return Ok(ShardOutcome::NothingLeft {
            number,
            part: part.len(),
        });
    }
    let file = dir.join(format!(
        "round-{number}-shard-{}-of-{}.jsonl",
        shard.index, shard.count
    ));
    let fresh = !file.exists();
    let mut sink = JsonlSink::open(&file)?;
    let env = SweepEnvironment::detect();
    if fresh {
        sink.append(&Record::Probe(probe_record(&spec.name, &env)?))?;
    }
    let mut progress = Progress::start("tune round", todo.len());
    for &index in &todo {
        let cfg = &configs[index];
        if !opts.quiet {
            progress.show(&cfg.id());
        }
        let measured = measure_point(
            spec,
            (index, cfg),
            opts,
            (bar, &mut Capacities::default()),
            &env,
            &mut sink,
            &mut progress,
        )?;
        progress.finish_one();
        if !opts.quiet {
            let shown = measured
                .score()
                .map_or("no score".into(), |s| format!("{s:.1} samples/s"));
            progress.note(&format!("[tune] round {number}: {}: {shown}", cfg.id()));
        }
    }
    if !opts.quiet {
        progress.end();
    }
    Ok(ShardOutcome::Measured {
        number,
        measured: todo.len(),
        part: part.len(),
        file,
    })
}

/// Measures `shard`'s part of every round until the search is over, waiting
/// between rounds (polling `dir` each second) for the other shards to finish theirs,
/// at most `wait` a round: one Indexed Job for the whole search. Shard 0 writes
/// `DIR/tune.jsonl` at the end; every shard returns the finished search's state.
pub fn follow_shard(
    spec: &SweepSpec,
    opts: &TuneOptions,
    dir: &Path,
    shard: Shard,
    wait: std::time::Duration,
) -> Result<RoundState> {
    let configs = spec.expand()?;
    loop {
        let number = match measure_shard(spec, opts, dir, shard)? {
            ShardOutcome::Finished => break,
            ShardOutcome::Measured { number, .. } | ShardOutcome::NothingLeft { number, .. } => {
                number
            }
        };
        let started = std::time::Instant::now();
        loop {
            let known = known_scores(dir, &configs, opts.goal)?;
            let still = match replay(spec, opts, &known) {
                Round::Pending {
                    number: n, points, ..
                } if n == number => points,
                _ => break,
            };
            if crate::pipeline::interrupt::requested() {
                return Err(Error::Interrupted);
            }
            if started.elapsed() >= wait {
                let axes = axes_of(spec);
                let missing: Vec<String> = still
                    .iter()
                    .map(|p| flat_index(&axes, p))
                    .filter(|i| !known.contains_key(i))
                    .map(|i| configs[i].id())
                    .collect();
                return Err(Error::config(
                    "round-wait",
                    format!(
                        "shard {shard} waited {:.0} s for round {number}'s other shards, which have not measured {}; is every shard of {} running? (a rerun of the missing shard resumes the round)",
                        wait.as_secs_f64(),
                        missing.join(", "),
                        shard.count
                    ),
                ));
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    // Shard 0 writes the end; the others only read it.
    state(spec, opts, dir, shard.index == 0)
}

fn replay(spec: &SweepSpec, opts: &TuneOptions, known: &HashMap<usize, Option<f64>>) -> Round {
    let axes = axes_of(spec);
    next_round(&axes, opts.seed, opts.min_gain, opts.max_runs, |p| {
        known.get(&flat_index(&axes, p)).copied()
    })
}

/// The score of every point measured in `dir`'s round files, by grid position.
fn known_scores(
    dir: &Path,
    configs: &[RunConfig],
    goal: Goal,
) -> Result<HashMap<usize, Option<f64>>> {
    let by_id: HashMap<String, usize> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id(), i))
        .collect();
    let mut known = HashMap::new();
    for path in round_files(dir)? {
        for record in read_records(&path)? {
            let (id, score) = match (&record, goal) {
                (Record::Config(c), Goal::Throughput) => (&c.id, config_score(c).score()),
                (Record::MaxRate(m), Goal::MaxRate(..)) => {
                    let Some(&i) = by_id.get(&m.id) else { continue };
                    let batch = configs[i].load.batch_size as f64;
                    (&m.id, max_rate_score(m, batch).score())
                }
                _ => continue,
            };
            if let Some(&i) = by_id.get(id) {
                known.insert(i, score);
            }
        }
    }
    Ok(known)
}

/// `round-*.jsonl` in `dir`, by name.
fn round_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot read the round folder", dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| x == "jsonl")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("round-"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Every record of one round file; a line that is not one names the file and line.
fn read_records(path: &Path) -> Result<Vec<Record>> {
    crate::results::jsonl::read_records(path, |n, _, e| {
        Error::config(
            "round-dir",
            format!("{}:{n}: not a tune record ({e})", path.display()),
        )
    })
}
