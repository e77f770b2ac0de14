//! Putting a sharded sweep back together. `inferbench report` reads any number of
//! files and folders; when they hold shard headers ([`ShardRecord`]) it checks that
//! they are the shards of one sweep (one spec hash, one shard count), that no shard
//! and no configuration is there twice, and that none is missing (a missing shard is
//! named with its configurations). Then the configurations are put back in grid
//! order, so the report reads as the unsharded sweep's would.
//!
//! Whatever the input, configurations measured on different hardware (GPU model, or
//! CPU model where there is no GPU) are not ranked against each other unless the
//! caller allows it: such a ranking would compare machines, not configurations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{read_records, SweepData};
use crate::error::{Error, Result};
use crate::sweep::record::{ConfigRecord, Record, ShardRecord, SweepEnvironment};
use crate::sweep::shard;

/// The files named by `inputs`: files as given, folders replaced by the `.jsonl`
/// files directly inside them, sorted by name.
pub fn input_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let entries = std::fs::read_dir(input)
            .map_err(|e| Error::io("cannot read results folder", input, e))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        if found.is_empty() {
            return Err(Error::config(
                "input",
                format!("folder {} holds no .jsonl results files", input.display()),
            ));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Reads `inputs` (files and folders), checks the shards as the module docs say, and
/// returns the data in grid order. `mixed_hardware` allows configurations from
/// different GPU (or CPU) models in one ranking.
pub fn load(inputs: &[PathBuf], mixed_hardware: bool) -> Result<SweepData> {
    let mut segments = Vec::new();
    for path in input_files(inputs)? {
        segments.extend(split_by_header(&path, read_records(&path)?));
    }
    check_shards(&segments)?;
    let sharded = segments.iter().any(|s| s.header.is_some());
    let mut data = SweepData::from_records(segments.into_iter().flat_map(Segment::into_records))?;
    if !mixed_hardware {
        check_one_hardware(&data.configs)?;
    }
    if sharded {
        data.configs.sort_by_key(|c| c.index);
    }
    Ok(data)
}

/// A run of records in one file: a shard's header and what follows it up to the next
/// header, or the records before any header (an unsharded sweep, a curve).
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    header: Option<ShardRecord>,
    records: Vec<Record>,
}

impl Segment {
    fn into_records(self) -> impl Iterator<Item = Record> {
        self.header
            .map(Record::Shard)
            .into_iter()
            .chain(self.records)
    }

    fn configs(&self) -> impl Iterator<Item = &ConfigRecord> {
        self.records.iter().filter_map(|r| match r {
            Record::Config(c) => Some(c),
            _ => None,
        })
    }

    /// `shard 1/4 (path)`.
    fn name(&self) -> String {
        match &self.header {
            Some(h) => format!("shard {} ({})", h.shard, self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

fn split_by_header(path: &Path, records: Vec<Record>) -> Vec<Segment> {
    let mut segments = vec![Segment {
        path: path.to_path_buf(),
        header: None,
        records: Vec::new(),
    }];
    for record in records {
        match record {
            Record::Shard(header) => segments.push(Segment {
                path: path.to_path_buf(),
                header: Some(header),
                records: Vec::new(),
            }),
            other => segments
                .last_mut()
                .expect("starts with one segment; this is a bug")
                .records
                .push(other),
        }
    }
    segments.retain(|s| s.header.is_some() || !s.records.is_empty());
    segments
}

fn check_shards(segments: &[Segment]) -> Result<()> {
    let headers: Vec<(&Segment, &ShardRecord)> = segments
        .iter()
        .filter_map(|s| Some((s, s.header.as_ref()?)))
        .collect();
    let Some(&(_, first)) = headers.first() else {
        return Ok(()); // no shards: an unsharded sweep and curves, read as ever
    };
    if let Some(loose) = segments
        .iter()
        .find(|s| s.header.is_none() && s.configs().next().is_some())
    {
        return Err(Error::config(
            "input",
            format!(
                "{} holds configurations without a shard header (an unsharded sweep) next to the shards of sweep '{}'; report it separately",
                loose.path.display(),
                first.sweep
            ),
        ));
    }
    one_sweep(&headers)?;
    every_shard_once(&headers, first)?;
    for (segment, header) in &headers {
        complete_shard(segment, header)?;
    }
    Ok(())
}

/// One spec hash and one shard count among the headers.
fn one_sweep(headers: &[(&Segment, &ShardRecord)]) -> Result<()> {
    let mut by_hash: BTreeMap<(&str, u32), Vec<String>> = BTreeMap::new();
    for (segment, h) in headers {
        by_hash
            .entry((h.spec_hash.as_str(), h.shard.count))
            .or_default()
            .push(format!("'{}' {}", h.sweep, segment.name()));
    }
    if by_hash.len() == 1 {
        return Ok(());
    }
    let groups: Vec<String> = by_hash
        .iter()
        .map(|((hash, count), names)| {
            format!("spec {hash} in {count} shards: {}", names.join(", "))
        })
        .collect();
    Err(Error::config(
        "input",
        format!(
            "the shards come from different sweeps (or one sweep cut in different shard counts): {}; report the shards of one sweep at a time",
            groups.join("; ")
        ),
    ))
}

/// Each index 0..count exactly once; a missing shard is named with its configurations.
fn every_shard_once(headers: &[(&Segment, &ShardRecord)], first: &ShardRecord) -> Result<()> {
    let mut seen: BTreeMap<u32, &Segment> = BTreeMap::new();
    for (segment, h) in headers {
        if let Some(earlier) = seen.insert(h.shard.index, segment) {
            return Err(Error::config(
                "input",
                format!(
                    "shard {} is there twice: {} and {}; keep one (a rerun of a shard rewrites its file)",
                    h.shard,
                    earlier.path.display(),
                    segment.path.display()
                ),
            ));
        }
    }
    let count = first.shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| missing_shard(first, i))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::config(
        "input",
        format!(
            "sweep '{}' ran in {count} shards; missing: {}. Did its pod finish? Rerun a shard with `inferbench sweep … --shard I/{count}`",
            first.sweep,
            missing.join("; ")
        ),
    ))
}

/// `shard 3/4 (configurations a, b)`, from the spec any header carries.
fn missing_shard(header: &ShardRecord, index: u32) -> String {
    let label = format!("shard {index}/{}", header.shard.count);
    let Ok(configs) = header.spec.expand() else {
        return label;
    };
    let Ok(s) = shard::Shard::new(index, header.shard.count) else {
        return label;
    };
    let ids: Vec<String> = shard::select(&configs, header.spec.repeats, s)
        .into_iter()
        .map(|i| configs[i].id())
        .collect();
    if ids.is_empty() {
        format!("{label} (no configurations)")
    } else {
        format!("{label} (configurations {})", ids.join(", "))
    }
}

/// The shard holds exactly the configurations its header lists, each once.
fn complete_shard(segment: &Segment, header: &ShardRecord) -> Result<()> {
    let expected: BTreeSet<usize> = header.configs.iter().copied().collect();
    let mut seen = BTreeSet::new();
    for c in segment.configs() {
        let problem = if c.sweep != header.sweep {
            Some(format!(
                "holds configuration `{}` of sweep '{}'",
                c.id, c.sweep
            ))
        } else if !expected.contains(&c.index) {
            Some(format!(
                "holds configuration `{}` (grid position {}), which is not this shard's",
                c.id, c.index
            ))
        } else if !seen.insert(c.index) {
            Some(format!(
                "holds configuration `{}` twice (the shard ran twice into one file?)",
                c.id
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::config(
                "input",
                format!("{} {problem}", segment.name()),
            ));
        }
    }
    let missing: Vec<usize> = expected.difference(&seen).copied().collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = match header.spec.expand() {
        Ok(configs) => missing
            .iter()
            .map(|&i| configs.get(i).map_or(format!("#{i}"), |c| c.id()))
            .collect(),
        Err(_) => missing.iter().map(|i| format!("#{i}")).collect(),
    };
    Err(Error::config(
        "input",
        format!(
            "{} is incomplete: {} missing (the shard stopped early?); rerun it with --shard {}",
            segment.name(),
            names.join(", "),
            header.shard
        ),
    ))
}

/// What a configuration was measured on: the GPU model, or the CPU model without one.
pub fn hardware(env: &SweepEnvironment) -> String {
    match &env.gpu {
        Some(gpu) => format!("GPU {gpu}"),
        None => format!(
            "CPU {}",
            env.cpu_model.as_deref().unwrap_or("(model unknown)")
        ),
    }
}

/// The distinct hardware of `configs`, each with its configurations' ids.
pub fn hardware_groups(configs: &[ConfigRecord]) -> BTreeMap<String, Vec<&str>> {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in configs {
        groups.entry(hardware(&c.env)).or_default().push(&c.id);
    }
    groups
}

fn check_one_hardware(configs: &[ConfigRecord]) -> Result<()> {
    let groups = hardware_groups(configs);
    if groups.len() <= 1 {
        return Ok(());
    }
    let listed: Vec<String> = groups
        .iter()
        .map(|(hw, ids)| format!("{hw} ({} configurations, e.g. `{}`)", ids.len(), ids[0]))
        .collect();
    Err(Error::config(
        "mixed-hardware",
        format!(
            "the configurations were measured on different hardware: {}. Ranking them would compare machines, not configurations; \
             run every shard on one GPU type (the Job's node selector), or pass --mixed-hardware to report them anyway",
            listed.join(", ")
        ),
    ))
}

/// The report's line on where the figures come from when they were merged from
/// shards or measured on mixed hardware; `None` for one unsharded sweep on one machine.
pub fn provenance(data: &SweepData) -> Option<String> {
    let mut lines = Vec::new();
    if let Some(first) = data.shards.first() {
        lines.push(format!(
            "Merged from {} shards of sweep '{}' (spec hash {}), one results file each.",
            first.shard.count, first.sweep, first.spec_hash
        ));
    }
    let groups = hardware_groups(&data.configs);
    if groups.len() > 1 {
        let listed: Vec<String> = groups
            .iter()
            .map(|(hw, ids)| format!("{hw}: {} configurations", ids.len()))
            .collect();
        lines.push(format!(
            "**Mixed hardware** ({}): ranked together because --mixed-hardware was given; differences include the machines'.",
            listed.join(", ")
        ));
    }
    (!lines.is_empty()).then(|| lines.join("\n\n"))
}

#[cfg(test)]
mod tests;
