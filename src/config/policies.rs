//! How the server groups requests into forwards ([`BatchPolicy`]) and how long its
//! stages poll an empty queue before parking ([`parse_spin_wait`]).

use serde::{Deserialize, Serialize};

use super::parse_duration_us;
use crate::error::Result;

/// How requests are grouped into forwards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum BatchPolicy {
    /// Each request is its own forward (the seed's server); no batcher thread runs.
    #[default]
    None,
    /// Requests are combined up to `max_batch_samples`, waiting at most `timeout_us`
    /// for the batch to fill.
    Dynamic {
        /// Most samples in one forward.
        max_batch_samples: u32,
        /// Longest wait, in microseconds, of the oldest queued request.
        timeout_us: u64,
    },
}

impl BatchPolicy {
    /// The largest batch (in samples) a worker may receive, given the request size.
    pub fn max_samples(&self, request_samples: u32) -> u32 {
        match *self {
            BatchPolicy::None => request_samples,
            BatchPolicy::Dynamic {
                max_batch_samples, ..
            } => max_batch_samples.max(request_samples),
        }
    }
}

impl BatchPolicy {
    /// Dynamic batching up to `max_batch_samples` (none or 0: off), waiting at most
    /// `timeout` (a duration such as `5ms`) for a batch to fill. Flags and sweep files
    /// both come through here. The timeout is parsed even when batching is off, so
    /// that a typo in it is never silently ignored.
    pub fn from_limits(max_batch_samples: Option<u32>, timeout: &str) -> Result<Self> {
        let timeout_us = parse_duration_us("batch-timeout", timeout)?;
        Ok(match max_batch_samples {
            None | Some(0) => Self::None,
            Some(max_batch_samples) => Self::Dynamic {
                max_batch_samples,
                timeout_us,
            },
        })
    }
}

/// `--spin-wait`: `0` (park at once) or a duration such as `10ms`, in µs.
pub fn parse_spin_wait(text: &str) -> Result<u64> {
    parse_duration_us("spin-wait", text)
}
