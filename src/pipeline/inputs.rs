//! Request inputs, generated before any timing starts (seed 001, PR 116188: a
//! `randn` between sends once made latencies scale with batch size).

use tch::{Kind, Tensor};

use crate::device::ComputeDevice;
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
        Self::generate_for(
            count,
            batch,
            image,
            seed,
            Kind::Float,
            &crate::device::CpuDevice,
        )
    }

    /// As [`InputPool::generate`], in element type `kind` (the run's precision, cast
    /// here, before any timing) and in the host memory `device` sends from (pinned for a
    /// GPU). The values are the same fp32 draws whatever the kind.
    pub fn generate_for(
        count: u32,
        batch: u32,
        image: u32,
        seed: u64,
        kind: Kind,
        device: &dyn ComputeDevice,
    ) -> Result<Self> {
        let shape = [batch as i64, 3, image as i64, image as i64];
        let bytes = shape.iter().product::<i64>() as usize * kind.elt_size_in_bytes();
        let count = (count as usize).min(INPUT_POOL_BYTES / bytes.max(1)).max(1);
        let inputs = crate::model::seeded(seed, || {
            (0..count)
                .map(|_| {
                    let drawn = Tensor::f_randn(shape, (Kind::Float, tch::Device::Cpu))?;
                    let mut host = device.alloc_host(&shape, kind)?;
                    host.f_copy_(&drawn)?;
                    Ok(host)
                })
                .collect::<Result<Vec<_>>>()
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_cast_once_to_the_runs_precision_with_the_same_draws() {
        let fp32 = InputPool::generate(2, 1, 4, 7).unwrap();
        let fp16 =
            InputPool::generate_for(2, 1, 4, 7, Kind::Half, &crate::device::CpuDevice).unwrap();
        assert_eq!(fp16.get(1).kind(), Kind::Half);
        let back = fp16.get(1).to_kind(Kind::Float);
        let diff = (back - fp32.get(1)).abs().max().double_value(&[]);
        assert!(diff < 1e-2, "fp16 rounding only, got {diff}");
    }
}
