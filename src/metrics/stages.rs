//! Where a request's time goes: the mean of each stage over the measured requests.

use serde::{Deserialize, Serialize};

use super::ms;
use crate::request::{Stage, Stamps};

/// Sums stage durations over requests.
#[derive(Debug, Clone, Default)]
pub struct StageBreakdown {
    totals_ns: [u64; Stage::ALL.len()],
    count: u64,
    sender_lag_total_ns: u64,
    sender_lag_max_ns: u64,
}

/// Mean time per stage, in milliseconds; the stages add up to the mean latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    /// In the request queue (includes sender lag).
    pub queue: f64,
    /// Waiting in the batcher.
    pub batch: f64,
    /// Host-to-device copy, including the wait for a buffer.
    pub copy_in: f64,
    /// Forward, including the wait for a worker.
    pub compute: f64,
    /// Device-to-host copy, including the wait for the copy-out stage.
    pub copy_out: f64,
    /// Response queue hop to the collector.
    pub response: f64,
    /// Mean time the sender was behind the intended send time.
    pub sender_lag_mean: f64,
    /// Longest time the sender was behind.
    pub sender_lag_max: f64,
}

impl StageBreakdown {
    /// Adds one request. Returns `false` (and adds nothing) if a stamp is missing.
    #[inline]
    pub fn record(&mut self, stamps: &Stamps) -> bool {
        let mut durations = [0u64; Stage::ALL.len()];
        for (slot, stage) in durations.iter_mut().zip(Stage::ALL) {
            match stamps.stage_ns(stage) {
                Some(ns) => *slot = ns,
                None => return false,
            }
        }
        for (total, d) in self.totals_ns.iter_mut().zip(durations) {
            *total += d;
        }
        let lag = stamps.sender_lag_ns();
        self.sender_lag_total_ns += lag;
        self.sender_lag_max_ns = self.sender_lag_max_ns.max(lag);
        self.count += 1;
        true
    }

    /// Requests added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean per stage, or `None` if nothing was added.
    pub fn summary(&self) -> Option<StageSummary> {
        if self.count == 0 {
            return None;
        }
        let mean = |total: u64| ms(total as f64 / self.count as f64);
        let [queue, batch, copy_in, compute, copy_out, response] = self.totals_ns.map(mean);
        Some(StageSummary {
            queue,
            batch,
            copy_in,
            compute,
            copy_out,
            response,
            sender_lag_mean: mean(self.sender_lag_total_ns),
            sender_lag_max: ms(self.sender_lag_max_ns as f64),
        })
    }
}

impl StageSummary {
    /// Sum of the stage means (equals the mean latency).
    pub fn total(&self) -> f64 {
        self.queue + self.batch + self.copy_in + self.compute + self.copy_out + self.response
    }

    /// The stages with their report names, in pipeline order.
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            (Stage::Queue.name(), self.queue),
            (Stage::Batch.name(), self.batch),
            (Stage::CopyIn.name(), self.copy_in),
            (Stage::Compute.name(), self.compute),
            (Stage::CopyOut.name(), self.copy_out),
            (Stage::Response.name(), self.response),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Stamp;

    fn stamps(times: [u64; 8]) -> Stamps {
        let mut s = Stamps::default();
        let order = Stamp::ALL;
        for (stamp, t) in order.into_iter().zip(times) {
            s.set(stamp, t);
        }
        s
    }

    #[test]
    fn means_per_stage_and_lag() {
        let mut b = StageBreakdown::default();
        assert!(b.record(&stamps([
            1_000_000, 1_000_000, 2_000_000, 2_000_000, 3_000_000, 7_000_000, 8_000_000, 9_000_000
        ])));
        assert!(b.record(&stamps([
            1_000_000, 3_000_000, 4_000_000, 4_000_000, 5_000_000, 9_000_000, 10_000_000,
            11_000_000
        ])));
        let s = b.summary().unwrap();
        assert_eq!(
            (s.queue, s.batch, s.copy_in, s.compute, s.copy_out, s.response),
            (2.0, 0.0, 1.0, 4.0, 1.0, 1.0)
        );
        assert_eq!((s.sender_lag_mean, s.sender_lag_max), (1.0, 2.0));
        assert_eq!(s.total(), 9.0);
    }

    #[test]
    fn incomplete_stamps_are_refused() {
        let mut b = StageBreakdown::default();
        assert!(!b.record(&stamps([1, 1, 2, 0, 3, 4, 5, 6])));
        assert_eq!(b.count(), 0);
        assert!(b.summary().is_none());
    }
}
