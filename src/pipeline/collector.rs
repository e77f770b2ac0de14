//! The metrics collector: turns each response's stamps into the run's figures.
//! A plain struct so that tests and instruction-count benches can feed it directly.

use crate::error::{Error, Result};
use crate::metrics::{LatencyRecorder, StageBreakdown};
use crate::request::{RequestMeta, StageScheme, Stamp};
use crate::results::WindowFigures;

/// Figures accumulated over the measured responses.
#[derive(Debug, Clone)]
pub struct Collector {
    /// End-to-end latencies.
    pub latency: LatencyRecorder,
    /// Per-stage sums.
    pub stages: StageBreakdown,
    first_intended: u64,
    last_received: u64,
    samples: u64,
    trace: Option<Vec<RequestMeta>>,
}

impl Collector {
    /// An empty collector of pipeline requests; with `keep_trace` it also keeps
    /// every request's stamps.
    pub fn new(keep_trace: bool) -> Self {
        Self::with_scheme(keep_trace, StageScheme::Pipeline)
    }

    /// An empty collector whose requests' stamps are read as `scheme`'s stages.
    pub fn with_scheme(keep_trace: bool, scheme: StageScheme) -> Self {
        Self {
            latency: LatencyRecorder::new(),
            stages: StageBreakdown::new(scheme),
            first_intended: u64::MAX,
            last_received: 0,
            samples: 0,
            trace: keep_trace.then(Vec::new),
        }
    }

    /// The kept stamps, in the order recorded (empty unless kept).
    pub fn take_trace(&mut self) -> Vec<RequestMeta> {
        self.trace.take().unwrap_or_default()
    }

    /// Adds a response whose [`Stamp::Received`] is set. Returns `false` (adding
    /// nothing) if its stamps are incomplete, which would be a pipeline bug.
    #[inline]
    pub fn record(&mut self, meta: &RequestMeta) -> bool {
        let Some(latency) = meta.stamps.latency_ns() else {
            return false;
        };
        if !self.stages.record(&meta.stamps) {
            return false;
        }
        self.latency.record(latency);
        self.first_intended = self.first_intended.min(meta.stamps.get(Stamp::Intended));
        self.last_received = self.last_received.max(meta.stamps.get(Stamp::Received));
        self.samples += meta.samples as u64;
        if let Some(trace) = &mut self.trace {
            trace.push(*meta);
        }
        true
    }

    /// Samples answered.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The measured window: first intended send to last response, in ns.
    pub fn window_ns(&self) -> Option<u64> {
        (self.last_received > self.first_intended && self.samples > 0)
            .then(|| self.last_received - self.first_intended)
    }

    /// Samples per second over the measured window.
    pub fn throughput(&self) -> Option<f64> {
        self.window_ns()
            .map(|w| self.samples as f64 / (w as f64 * 1e-9))
    }
}

impl Collector {
    /// The window's figures; an error when nothing was measured.
    pub fn figures(&self) -> Result<WindowFigures> {
        let missing = || Error::Pipeline("no measured responses; nothing to report".into());
        let window_ns = self.window_ns().ok_or_else(missing)?;
        Ok(WindowFigures {
            latency_ms: self.latency.summary().ok_or_else(missing)?,
            stages_ms: self.stages.summary().ok_or_else(missing)?,
            throughput_samples_per_s: self.throughput().ok_or_else(missing)?,
            requests: self.latency.count(),
            samples: self.samples,
            window_s: window_ns as f64 * 1e-9,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Stamps;

    fn meta(id: u64, samples: u32, intended: u64, received: u64) -> RequestMeta {
        let mut stamps = Stamps::default();
        for s in [
            Stamp::Intended,
            Stamp::Sent,
            Stamp::Dequeued,
            Stamp::Batched,
            Stamp::CopiedIn,
        ] {
            stamps.set(s, intended);
        }
        for s in [Stamp::Computed, Stamp::CopiedOut, Stamp::Received] {
            stamps.set(s, received);
        }
        RequestMeta {
            id,
            samples,
            batch_samples: samples,
            stamps,
        }
    }

    #[test]
    fn throughput_runs_from_first_request_to_last_response() {
        let mut c = Collector::new(false);
        // Three requests of 4 samples sent at 1 s, 1.5 s, 2 s; answered by 3 s.
        assert!(c.record(&meta(2, 4, 2_000_000_000, 3_000_000_000)));
        assert!(c.record(&meta(0, 4, 1_000_000_000, 2_000_000_000)));
        assert!(c.record(&meta(1, 4, 1_500_000_000, 2_500_000_000)));
        assert_eq!(c.window_ns(), Some(2_000_000_000));
        assert!(
            (c.throughput().unwrap() - 6.0).abs() < 1e-9,
            "12 samples / 2 s"
        );
        assert_eq!(c.samples(), 12);
    }

    #[test]
    fn incomplete_response_is_not_counted() {
        let mut c = Collector::new(false);
        let mut m = meta(0, 1, 10, 20);
        m.stamps.set(Stamp::Computed, 0);
        assert!(!c.record(&m));
        assert_eq!((c.samples(), c.latency.count()), (0, 0));
        assert_eq!(c.throughput(), None);
    }
}
