//! Tensors between the protocol's raw form and libtorch's, on the host: a served
//! request's inputs become the host tensors the pipeline copies in, a response's
//! host tensor becomes raw little-endian data, and a client's drawn inputs become
//! the tensors it sends. One copy each way; the element types agree by
//! construction ([`Datatype::of_input`], [`datatype_of`]).

use bytes::Bytes;
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::oip::{Datatype, Refusal, TensorData, WireTensor};

/// The protocol's datatype of a libtorch element type; `None` for one it has no
/// name for (complex numbers, quantized types).
pub fn datatype_of(kind: Kind) -> Option<Datatype> {
    Some(match kind {
        Kind::Bool => Datatype::Bool,
        Kind::Uint8 => Datatype::Uint8,
        Kind::Int8 => Datatype::Int8,
        Kind::Int16 => Datatype::Int16,
        Kind::Int => Datatype::Int32,
        Kind::Int64 => Datatype::Int64,
        Kind::Half => Datatype::Fp16,
        Kind::BFloat16 => Datatype::Bf16,
        Kind::Float => Datatype::Fp32,
        Kind::Double => Datatype::Fp64,
        _ => return None,
    })
}

/// A checked request input as a host tensor of `kind` (the model input's own type).
pub fn to_torch(t: &WireTensor, kind: Kind) -> std::result::Result<Tensor, Refusal> {
    let TensorData::Fixed(data) = &t.data else {
        return Err(Refusal::bad_request(format!(
            "input '{}': BYTES data for a tensor input",
            t.name
        )));
    };
    Tensor::f_from_data_size(data, &t.shape, kind)
        .map_err(|e| Refusal::internal(format!("input '{}': {e}", t.name)))
}

/// A host tensor as a protocol tensor named `name` (made contiguous first).
pub fn from_torch(name: &str, t: &Tensor) -> Result<WireTensor> {
    let kind = t.f_kind()?;
    let datatype = datatype_of(kind).ok_or_else(|| {
        Error::Pipeline(format!(
            "the model's output has element type {kind:?}, which the protocol cannot carry"
        ))
    })?;
    let t = t.f_contiguous()?;
    let numel = t.numel();
    let mut data = vec![0u8; numel * kind.elt_size_in_bytes()];
    t.f_copy_data_u8(&mut data, numel)?;
    Ok(WireTensor {
        name: name.into(),
        datatype,
        shape: t.size(),
        data: TensorData::Fixed(Bytes::from(data)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_round_trips_through_the_raw_form() {
        let t = Tensor::from_slice(&[1.5f32, -2.0, 3.25, 4.0]).view([2, 2]);
        let wire = from_torch("out", &t).unwrap();
        assert_eq!(
            (wire.datatype, wire.shape.clone()),
            (Datatype::Fp32, vec![2, 2])
        );
        wire.check().unwrap();
        let back = to_torch(&wire, Kind::Float).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(back.view([-1])).unwrap(),
            [1.5, -2.0, 3.25, 4.0]
        );
        let strided = t.transpose(0, 1);
        let wire = from_torch("out", &strided).unwrap();
        let back = to_torch(&wire, Kind::Float).unwrap();
        assert_eq!(
            Vec::<f32>::try_from(back.view([-1])).unwrap(),
            [1.5, 3.25, -2.0, 4.0]
        );
    }
}
