//! Request inputs, generated before any timing starts (seed 001, PR 116188: a
//! `randn` between sends once made latencies scale with batch size).

use tch::{Kind, Tensor};

use crate::error::Result;

/// Memory the pre-built inputs may take; past it, requests reuse inputs in turn.
pub const INPUT_POOL_BYTES: usize = 256 << 20;

/// Pre-built input tensors, cycled through by request id.
pub struct InputPool {
    inputs: Vec<Tensor>,
}

impl InputPool {
    /// `count` distinct `[batch, 3, image, image]` inputs drawn from `seed`, capped so the
    /// pool stays within [`INPUT_POOL_BYTES`] (at least one input).
    pub fn generate(count: u32, batch: u32, image: u32, seed: u64) -> Result<Self> {
        let shape = [batch as i64, 3, image as i64, image as i64];
        let bytes = shape.iter().product::<i64>() as usize * 4;
        let count = (count as usize).min(INPUT_POOL_BYTES / bytes.max(1)).max(1);
        tch::manual_seed(seed as i64);
        let inputs = (0..count)
            .map(|_| Tensor::f_randn(shape, (Kind::Float, tch::Device::Cpu)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { inputs })
    }

    /// The input for request `id` (a cheap handle to shared storage).
    pub fn get(&self, id: u64) -> Tensor {
        self.inputs[(id % self.inputs.len() as u64) as usize].shallow_clone()
    }

    /// Distinct inputs held.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether the pool is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}
