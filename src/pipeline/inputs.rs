//! Request inputs, generated before any timing starts (seed 001, PR 116188: a
//! `randn` between sends once made latencies scale with batch size).

use tch::Tensor;

use super::stages::Inputs;
use crate::config::InputSpec;
use crate::device::ComputeDevice;
use crate::error::Result;

/// Memory the pre-built inputs may take; past it, requests reuse inputs in turn.
pub const INPUT_POOL_BYTES: usize = 256 << 20;

/// Pre-built request inputs (one tensor per model input), cycled through by request id.
pub struct InputPool {
    inputs: Vec<Inputs>,
}

impl InputPool {
    /// `count` distinct requests of `batch` samples, each with one tensor per spec
    /// drawn from `seed` ([`crate::model::draw`]), in the host memory `device` sends
    /// from (pinned for a GPU); capped so the pool stays within [`INPUT_POOL_BYTES`]
    /// (at least one request).
    pub fn generate(
        count: u32,
        batch: u32,
        specs: &[InputSpec],
        seed: u64,
        device: &dyn ComputeDevice,
    ) -> Result<Self> {
        let bytes: u64 = specs
            .iter()
            .map(|s| s.bytes_per_sample() * batch as u64)
            .sum();
        let count = (count as usize)
            .min(INPUT_POOL_BYTES / (bytes as usize).max(1))
            .max(1);
        let inputs = crate::model::seeded(seed, || {
            (0..count)
                .map(|_| {
                    specs
                        .iter()
                        .map(|spec| host_copy(spec, batch, device))
                        .collect()
                })
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(Self { inputs })
    }

    /// The inputs for request `id` (cheap handles to shared storage).
    pub fn get(&self, id: u64) -> Inputs {
        self.inputs[(id % self.inputs.len() as u64) as usize]
            .iter()
            .map(Tensor::shallow_clone)
            .collect()
    }

    /// Distinct requests held.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether the pool is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }
}

/// One input drawn and copied into host memory of `device`'s kind.
fn host_copy(spec: &InputSpec, batch: u32, device: &dyn ComputeDevice) -> Result<Tensor> {
    let drawn = crate::model::draw::draw(spec, batch)?;
    let mut host = device.alloc_host(&drawn.size(), drawn.kind())?;
    host.f_copy_(&drawn)?;
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Precision;
    use crate::device::CpuDevice;

    #[test]
    fn inputs_are_cast_once_to_the_runs_precision_with_the_same_draws() {
        let image = |p| InputSpec::image(4, p);
        let fp32 = InputPool::generate(2, 1, &[image(Precision::Fp32)], 7, &CpuDevice).unwrap();
        let fp16 = InputPool::generate(2, 1, &[image(Precision::Fp16)], 7, &CpuDevice).unwrap();
        assert_eq!(fp16.get(1)[0].kind(), tch::Kind::Half);
        let back = fp16.get(1)[0].to_kind(tch::Kind::Float);
        let diff = (back - &fp32.get(1)[0]).abs().max().double_value(&[]);
        assert!(diff < 1e-2, "fp16 rounding only, got {diff}");
    }

    #[test]
    fn every_request_carries_one_tensor_per_spec() {
        let specs: Vec<InputSpec> = ["16:i64:0..100", "16:i64:0..2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let pool = InputPool::generate(3, 4, &specs, 1, &CpuDevice).unwrap();
        let request = pool.get(5);
        assert_eq!(request.len(), 2);
        assert!(request.iter().all(|t| t.size() == [4, 16]));
        assert!(request[1].max().int64_value(&[]) <= 1);
    }
}
