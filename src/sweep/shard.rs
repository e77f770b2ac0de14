//! Splitting a sweep over machines: the expanded grid is cut into `N` shards, one per
//! machine (a Kubernetes Indexed Job's pod, say), each a deterministic function of the
//! spec and `N`, so that every machine computes the same partition without talking to
//! the others and `inferbench report` can check the pieces fit back together.
//!
//! Shards are balanced by an estimate of each configuration's cost, not by count: a
//! batch-256 point at 224 px costs hundreds of times a batch-1 point at 32 px. The
//! estimate ([`cost`]) is the pixels the configuration pushes through the model,
//! `batch × image² × requests × repeats`: forward time grows about linearly with it
//! for the convolutional models here (the spin model, whose forward takes a fixed
//! time, is the exception; a shard of it is still valid, only less balanced).
//!
//! The partition is greedy list scheduling in longest-processing-time order (LPT):
//! configurations sorted by falling cost (ties by position), each given to the shard
//! with the least cost so far (ties to the lowest shard). Bound: the most loaded shard
//! exceeds the least loaded by at most the largest single cost. (Take the last item
//! `x` given to the most loaded shard: at that moment that shard was the least loaded,
//! so `max − x` ≤ every other shard's load then ≤ its final load, hence
//! `max ≤ min + x ≤ min + largest`.) LPT also keeps `max` within 4/3 of the best
//! possible partition (Graham, 1969).

use std::path::{Path, PathBuf};

use super::record::{Record, ShardRecord, SweepEnvironment};
use super::spec::SweepSpec;
use crate::config::RunConfig;
use crate::error::{Error, Result};

pub use super::part::{Shard, JOB_INDEX_VAR};

/// The cost estimate of one configuration run `repeats` times: pixels through the
/// model, `batch × image² × (measured requests) × repeats`. Saturates instead of
/// overflowing (only absurd grids get near it).
pub fn cost(cfg: &RunConfig, repeats: u32) -> u128 {
    let side = u128::from(cfg.model.image_size);
    u128::from(cfg.load.batch_size)
        .saturating_mul(side * side)
        .saturating_mul(u128::from(cfg.load.num_iters.max(1)))
        .saturating_mul(u128::from(repeats.max(1)))
}

/// Cuts items of the given costs into `count` shards (LPT, see the module docs):
/// returns, per shard, the items' positions in ascending order. Deterministic; every
/// position lands in exactly one shard; some shards are empty when there are fewer
/// items than shards.
pub fn partition(costs: &[u128], count: u32) -> Vec<Vec<usize>> {
    let count = count.max(1) as usize;
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].cmp(&costs[a]).then(a.cmp(&b)));
    let mut loads = vec![0u128; count];
    let mut shards = vec![Vec::new(); count];
    for item in order {
        let lightest = (0..count)
            .min_by_key(|&s| (loads[s], s))
            .expect("count ≥ 1; this is a bug");
        loads[lightest] = loads[lightest].saturating_add(costs[item]);
        shards[lightest].push(item);
    }
    for shard in &mut shards {
        shard.sort_unstable();
    }
    shards
}

/// Each shard's share of the grid's estimated cost, in `count` shards: the largest is
/// the fraction of one machine's wall time that `count` machines still take.
pub fn cost_shares(configs: &[RunConfig], repeats: u32, count: u32) -> Vec<f64> {
    let costs: Vec<u128> = configs.iter().map(|c| cost(c, repeats)).collect();
    let total = costs.iter().sum::<u128>().max(1) as f64;
    partition(&costs, count)
        .iter()
        .map(|s| s.iter().map(|&i| costs[i]).sum::<u128>() as f64 / total)
        .collect()
}

/// The positions (in the expanded grid) of the configurations `shard` runs.
pub fn select(configs: &[RunConfig], repeats: u32, shard: Shard) -> Vec<usize> {
    let costs: Vec<u128> = configs.iter().map(|c| cost(c, repeats)).collect();
    partition(&costs, shard.count).swap_remove(shard.index as usize)
}

/// A fingerprint of the expanded sweep: FNV-1a (64 bit) over the JSON of its name,
/// repeats and every configuration in order. Shards agree on it exactly when they ran
/// the same grid, whatever the spelling of the spec (`5ms` or `5000us`). Stable across
/// runs, machines and builds (unlike std's hasher, which promises neither).
pub fn spec_hash(name: &str, repeats: u32, configs: &[RunConfig]) -> String {
    let text = serde_json::to_string(&(name, repeats, configs))
        .expect("configurations serialise; this is a bug");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The expanded grid and the positions in it that `shard` runs (all without one).
pub fn plan(spec: &SweepSpec, shard: Option<Shard>) -> Result<(Vec<RunConfig>, Vec<usize>)> {
    let configs = spec.expand()?;
    let chosen = match shard {
        Some(s) => select(&configs, spec.repeats, s),
        None => (0..configs.len()).collect(),
    };
    Ok((configs, chosen))
}

/// Where a shard writes: `out` itself when it names a `.jsonl` file, else
/// [`Shard::file_name`] inside the folder `out` (one results volume for every pod;
/// created if missing), or inside `default_dir` without `out`.
pub fn results_path(out: Option<&Path>, default_dir: &Path, name: &str, shard: Shard) -> PathBuf {
    match out {
        Some(file) if file.extension().is_some_and(|x| x == "jsonl") => file.to_path_buf(),
        Some(dir) => dir.join(shard.file_name(name)),
        None => default_dir.join(shard.file_name(name)),
    }
}

/// Where a sweep writes its results: a shard's file ([`results_path`] under
/// `results/sweeps`, an earlier run of the same shard removed, see [`start_fresh`]),
/// or, unsharded, `out` or the `default` (a fresh timestamped file).
pub fn sweep_output(
    out: Option<PathBuf>,
    name: &str,
    part: Option<Shard>,
    default: impl FnOnce() -> PathBuf,
) -> Result<PathBuf> {
    match part {
        Some(p) => {
            let path = results_path(out.as_deref(), Path::new("results/sweeps"), name, p);
            if path.file_name() != Some(p.file_name(name).as_ref()) {
                // A file the user named: replaced only if it is this shard's own.
                check_own_file(&path, name, p)?;
            }
            start_fresh(&path)?;
            Ok(path)
        }
        None => Ok(out.unwrap_or_else(default)),
    }
}

/// What `inferbench report --input` reads after a sweep wrote `path`: a shard's file
/// is one of several, so their folder; an unsharded sweep's file itself.
pub fn report_input(path: &Path, part: Option<Shard>) -> PathBuf {
    match part {
        Some(_) => path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        None => path.to_path_buf(),
    }
}

/// The dry run's text: the configurations `chosen` to run, the run count, and a
/// shard's share of the grid's estimated cost.
pub fn render_plan(
    spec: &SweepSpec,
    configs: &[RunConfig],
    chosen: &[usize],
    part: Option<Shard>,
) -> String {
    let mut text: String = chosen.iter().map(|&i| configs[i].id() + "\n").collect();
    let of = part.map_or_else(String::new, |p| {
        format!(" (shard {p} of {})", configs.len())
    });
    text += &format!(
        "{} configurations{of} × {} repeats = {} runs\n",
        chosen.len(),
        spec.repeats,
        chosen.len() * spec.repeats as usize
    );
    if let Some(p) = part {
        let shares = cost_shares(configs, spec.repeats, p.count);
        text += &format!(
            "estimated cost (batch × image² × requests × repeats): this shard {:.1} % of the grid, the largest of {} shards {:.1} %\n",
            100.0 * shares[p.index as usize],
            p.count,
            100.0 * shares.iter().copied().fold(0.0, f64::max)
        );
    }
    text
}

/// Refuses to let a shard replace `path` unless it is empty or an earlier run of
/// the same shard of the same sweep (its first line is that shard's header): a
/// `--out` naming another file (a whole sweep's results, a run's) would be deleted.
fn check_own_file(path: &Path, name: &str, shard: Shard) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => {}
        _ => return Ok(()),
    }
    let first = crate::results::file::first_line(path)
        .map_err(|e| Error::io("cannot read results file", path, e))?;
    let own = matches!(
        serde_json::from_str::<Record>(&first),
        Ok(Record::Shard(h)) if h.sweep == name && h.shard == shard
    );
    if own {
        return Ok(());
    }
    Err(Error::config(
        "out",
        format!(
            "{} exists and is not a results file of shard {shard} of sweep '{name}' (a rerun of a shard replaces only its own file): give another --out, or a folder",
            path.display()
        ),
    ))
}

/// Removes an earlier run's file of this shard: a shard's file holds exactly one run
/// of it, so a retried pod replaces its partial file instead of doubling records.
pub fn start_fresh(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io("cannot replace results file", path, e))
        }
        _ => Ok(()),
    }
}

/// The header of `shard`'s results file; `chosen` is [`select`]'s answer.
pub fn header(
    spec: &SweepSpec,
    configs: &[RunConfig],
    shard: Shard,
    chosen: &[usize],
    env: &SweepEnvironment,
) -> ShardRecord {
    ShardRecord {
        sweep: spec.name.clone(),
        spec_hash: spec_hash(&spec.name, spec.repeats, configs),
        shard,
        configs: chosen.to_vec(),
        grid_size: configs.len(),
        spec: spec.clone(),
        env: env.clone(),
    }
}

#[cfg(test)]
mod tests;
