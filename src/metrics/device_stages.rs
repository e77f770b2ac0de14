//! Device time per stage, from timing events recorded around each piece of work
//! (see the pipeline's `ordering` module). Reported beside the host stamps: on a GPU the
//! host only queues work, so a host stage time is when the host knew, and the device
//! time is what the work took on its stream. Absent on the CPU, which has no
//! timing events (its host stamps are the stage times).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Mean device milliseconds per batch of each stage over the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeviceStageSummary {
    /// Host-to-device copy of one batch.
    pub copy_in: f64,
    /// Forward of one batch.
    pub forward: f64,
    /// Device-to-host copy of one batch.
    pub copy_out: f64,
    /// Batches the means are over.
    pub batches: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    sums_ms: [f64; 3],
    batches: u64,
}

/// Sums of per-batch device times, shared by the stage that reads them (the one
/// whose host wait makes them readable) and the run that reports them.
#[derive(Debug, Default)]
pub struct DeviceStageTimes {
    totals: Mutex<Totals>,
}

impl DeviceStageTimes {
    /// Adds one batch's copy-in, forward and copy-out device times, in ms.
    pub fn add(&self, ms: [f64; 3]) {
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        for (sum, v) in t.sums_ms.iter_mut().zip(ms) {
            *sum += v;
        }
        t.batches += 1;
    }

    /// Means since the last call (which starts a new window), or `None` if no batch
    /// had device times.
    pub fn take(&self) -> Option<DeviceStageSummary> {
        let t = std::mem::take(&mut *self.totals.lock().unwrap_or_else(|e| e.into_inner()));
        (t.batches > 0).then(|| {
            let [copy_in, forward, copy_out] = t.sums_ms.map(|s| s / t.batches as f64);
            DeviceStageSummary {
                copy_in,
                forward,
                copy_out,
                batches: t.batches,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_per_batch_and_a_fresh_window_after_take() {
        let times = DeviceStageTimes::default();
        assert_eq!(times.take(), None, "no timing events: absent, not zero");
        times.add([1.0, 10.0, 0.5]);
        times.add([3.0, 20.0, 1.5]);
        let s = times.take().unwrap();
        assert_eq!(
            (s.copy_in, s.forward, s.copy_out, s.batches),
            (2.0, 15.0, 1.0, 2)
        );
        assert_eq!(times.take(), None);
    }
}
