//! The part of a sweep file that only the criterion suite reads: how many criterion
//! samples each configuration gets, how many requests make one sample, and which
//! latency statistic the tail-latency measurement reports. It lives in the sweep
//! file (as its `[criterion]` table) so that one file describes a grid for
//! `inferbench sweep` and for `cargo bench` alike; a sweep ignores it, just as the
//! suite ignores `iters` and `repeats` (criterion decides how often to measure).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::percentile::Percentile;

/// Criterion's smallest sample count; it refuses fewer.
pub const MIN_SAMPLES: usize = 10;

/// How the criterion suite measures each configuration.
///
/// ```toml
/// [criterion]
/// samples = 10               # criterion samples per benchmark, at least 10
/// requests_per_sample = 16   # requests in each sample's pipeline window
/// percentile = "p99"         # the tail-latency benchmark: mean, p50, p90, p95, p99, p99.9
/// tail_in_flight_per_worker = 2  # the tail-latency benchmark's steady load (closed loop)
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriterionSettings {
    /// Criterion samples per benchmark. Default 10 (criterion's minimum).
    pub samples: usize,
    /// Requests in each sample's window, sent as the sweep's arrival process describes.
    /// A window too short for a measurement (utilisation needs one sampling period) is
    /// measured again with twice the requests, up to 64×. Default 16.
    pub requests_per_sample: u32,
    /// The statistic of each window that the tail-latency benchmark reports; the
    /// environment variable `INFERBENCH_PERCENTILE` overrides it. Default p99.
    pub percentile: Percentile,
    /// The tail-latency benchmark's load: a closed loop with this many requests in
    /// flight per worker, whatever the sweep's arrival process. Its windows have at
    /// least 100 requests per 1 % of tail (100 for p99, 1,000 for p99.9), so that the
    /// statistic is a percentile of a steady load, not the drain time of a short
    /// burst. Default 2: each worker has its next request queued as it finishes one.
    pub tail_in_flight_per_worker: u32,
}

impl Default for CriterionSettings {
    fn default() -> Self {
        Self {
            samples: MIN_SAMPLES,
            requests_per_sample: 16,
            percentile: Percentile::P99,
            tail_in_flight_per_worker: 2,
        }
    }
}

impl CriterionSettings {
    /// Refuses what criterion or the pipeline cannot measure, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.samples < MIN_SAMPLES {
            return Err(Error::config(
                "criterion.samples",
                format!(
                    "{} is below criterion's minimum; expected at least {MIN_SAMPLES}",
                    self.samples
                ),
            ));
        }
        if self.tail_in_flight_per_worker == 0 {
            return Err(Error::config(
                "criterion.tail_in_flight_per_worker",
                "0; expected at least 1 request in flight per worker",
            ));
        }
        if self.requests_per_sample == 0 {
            return Err(Error::config(
                "criterion.requests_per_sample",
                "0; expected at least 1 request in each sample's window",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        CriterionSettings::default().validate().unwrap();
        let few = CriterionSettings {
            samples: 9,
            ..Default::default()
        };
        let err = few.validate().unwrap_err().to_string();
        assert!(
            err.contains("criterion.samples") && err.contains("10"),
            "{err}"
        );
        let empty = CriterionSettings {
            requests_per_sample: 0,
            ..Default::default()
        };
        let err = empty.validate().unwrap_err().to_string();
        assert!(err.contains("requests_per_sample"), "{err}");
    }
}
