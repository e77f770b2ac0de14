//! The synthetic model: each forward busy-waits a fixed time, whatever the batch
//! (plus, where asked, a time per sample, and a drift that grows with the time since
//! the model was built).
//!
//! With a known service time the harness can be checked against known answers:
//! one worker in burst mode must give throughput = batch / service time, request k
//! must wait k service times, and so on. It busy-waits rather than sleeps because a
//! sleep's wake-up jitter (tens of µs) would blur exactly what is being calibrated.

use std::time::{Duration, Instant};

use tch::{Kind, Tensor};

use super::Forward;
use crate::error::Result;

/// A forward that takes `per_batch + batch × per_sample + drift_per_s × seconds
/// since built` and returns zeros of shape `[batch, classes]`.
#[derive(Debug, Clone, Copy)]
pub struct SpinModel {
    /// Time one forward takes, whatever the batch.
    pub per_batch: Duration,
    /// Time added per sample (a known best batch size for search tests).
    pub per_sample: Duration,
    /// Time added per second since `built` (a server that never settles).
    pub drift_per_s: Duration,
    /// When the model was built: where the drift starts.
    pub built: Instant,
    /// Width of the output.
    pub classes: i64,
}

/// Busy-waits for `d`.
pub fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

impl Forward for SpinModel {
    fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let first = inputs.first();
        let batch = first.and_then(|t| t.size().first().copied()).unwrap_or(1);
        let drift = self.drift_per_s.mul_f64(self.built.elapsed().as_secs_f64());
        spin_for(self.per_batch + self.per_sample * batch.max(0) as u32 + drift);
        let device = first.map_or(tch::Device::Cpu, |t| t.device());
        Ok(Tensor::f_zeros(
            [batch, self.classes],
            (Kind::Float, device),
        )?)
    }
}
