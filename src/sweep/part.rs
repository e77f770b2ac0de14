//! Which part of a sweep's grid a machine runs: [`Shard`], shard I of N, from
//! `--shard I/N` or `--shards N` with a Kubernetes Indexed Job's index. How the grid
//! is cut into shards, and what a shard writes, is `shard.rs`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The Kubernetes variable that holds an Indexed Job pod's index.
pub const JOB_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// One shard of `count`: shard `index` (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the sweep is cut into.
    pub count: u32,
}

impl Shard {
    /// A checked shard: `count ≥ 1` and `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        if count == 0 {
            return Err(Error::config("shards", "0; expected at least 1 shard"));
        }
        if index >= count {
            return Err(Error::config(
                "shard",
                format!(
                    "index {index} is out of range for {count} shards (expected 0..={})",
                    count - 1
                ),
            ));
        }
        Ok(Self { index, count })
    }

    /// Parses `I/N`, e.g. `2/4`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(
                "shard",
                format!("'{text}': expected INDEX/COUNT with INDEX from 0, e.g. 0/4"),
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse().map_err(|_| bad())?;
        let count = n.trim().parse().map_err(|_| bad())?;
        Self::new(index, count)
    }

    /// The shard a sweep runs: `--shard I/N` when given; else, with `--shards N`, the
    /// index from `JOB_COMPLETION_INDEX` (`job_index`, the variable's value if set);
    /// else none (the whole grid).
    pub fn resolve(
        shard: Option<&str>,
        shards: Option<u32>,
        job_index: Option<&str>,
    ) -> Result<Option<Self>> {
        match (shard, shards) {
            (Some(_), Some(_)) => Err(Error::config(
                "shards",
                "give either --shard I/N or --shards N (with JOB_COMPLETION_INDEX), not both",
            )),
            (Some(text), None) => Self::parse(text).map(Some),
            (None, Some(count)) => Self::from_job_index(count, job_index).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Shard `job_index` (the value of `JOB_COMPLETION_INDEX`) of `count`.
    fn from_job_index(count: u32, job_index: Option<&str>) -> Result<Self> {
        let text = job_index.ok_or_else(|| {
            Error::config(
                "shards",
                format!(
                    "--shards {count} takes this shard's index from {JOB_INDEX_VAR}, which is not set \
                     (a Kubernetes Indexed Job sets it); or give --shard I/{count}"
                ),
            )
        })?;
        let index = text.trim().parse().map_err(|_| {
            Error::config(
                "shard",
                format!("{JOB_INDEX_VAR}='{text}' is not a shard index (0, 1, 2, ...)"),
            )
        })?;
        if count > 0 && index >= count {
            return Err(Error::config(
                "shard",
                format!(
                    "{JOB_INDEX_VAR}={index} is out of range for --shards {count} (expected 0..={}); \
                     the Job's completions must equal --shards",
                    count - 1
                ),
            ));
        }
        Self::new(index, count)
    }

    /// The results file name of this shard of sweep `name`: `NAME-shard-I-of-N.jsonl`.
    pub fn file_name(&self, name: &str) -> String {
        format!("{name}-shard-{}-of-{}.jsonl", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}
