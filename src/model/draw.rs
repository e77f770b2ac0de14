//! Input values drawn for a spec ([`InputSpec`]): standard normal floats, or uniform
//! in `[lo, hi)` (integers: token ids, class labels). The model layer draws the
//! probe that checks a spec against a model file; the pipeline draws its input
//! pool with the same function, so the probe sees what the requests will carry.

use tch::{Device, Kind, Tensor};

use crate::config::{InputSpec, ValueRange};
use crate::error::Result;

/// `batch` samples of `spec` on the CPU, from libtorch's generator (seed it first:
/// [`super::seeded`]). Floats are drawn in fp32 and cast, so every precision gets
/// the same values up to rounding.
pub fn draw(spec: &InputSpec, batch: u32) -> Result<Tensor> {
    let shape = spec.batched(batch);
    let options = (Kind::Float, Device::Cpu);
    let kind = spec.dtype.kind();
    let drawn = match spec.range {
        ValueRange::Normal => Tensor::f_randn(&shape, options)?,
        ValueRange::Uniform { lo, hi } if spec.dtype.is_integer() => {
            return Ok(Tensor::f_randint_low(
                lo as i64,
                hi as i64,
                &shape,
                (Kind::Int64, Device::Cpu),
            )?
            .f_to_kind(kind)?)
        }
        ValueRange::Uniform { lo, hi } => Tensor::f_rand(&shape, options)?
            .f_mul_scalar(hi - lo)?
            .f_add_scalar(lo)?,
    };
    Ok(drawn.f_to_kind(kind)?)
}

/// One batch of every input of a model, on `device`.
pub fn draw_all(specs: &[InputSpec], batch: u32, device: Device) -> Result<Vec<Tensor>> {
    specs
        .iter()
        .map(|spec| Ok(draw(spec, batch)?.f_to_device(device)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_spec() {
        // Random draws under the seed lock: other tests compare two seeded builds.
        let draw =
            |spec: &str, batch| crate::model::seeded(0, || draw(&spec.parse().unwrap(), batch));
        let ids = draw("64:i64:5..9", 3).unwrap();
        assert_eq!((ids.size(), ids.kind()), (vec![3, 64], Kind::Int64));
        let (lo, hi) = (ids.min().int64_value(&[]), ids.max().int64_value(&[]));
        assert!(
            (5..9).contains(&lo) && (5..9).contains(&hi) && lo < hi,
            "{lo}..{hi}"
        );
        let half = draw("2x8:f16:-1..1", 2).unwrap();
        assert_eq!((half.size(), half.kind()), (vec![2, 2, 8], Kind::Half));
        let max = half.abs().max().to_kind(Kind::Float).double_value(&[]);
        assert!(max <= 1.0 && max > 0.0, "{max}");
        let normal = draw("1000:f32", 1).unwrap();
        let std = normal.std(true).double_value(&[]);
        assert!((0.8..1.2).contains(&std), "standard normal, got std {std}");
    }
}
