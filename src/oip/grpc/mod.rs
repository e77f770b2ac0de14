//! The protocol over gRPC: `inference.GRPCInferenceService`'s messages, its client
//! (`grpc_inference_service_client`) and its server trait
//! (`grpc_inference_service_server`), generated from `proto/inference.proto` by
//! `scripts/gen-grpc.sh` and committed, so that no build needs protoc; and the
//! conversions between its infer messages and [`WireTensor`]s, for both sides.

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod inference;

pub use inference::*;

use bytes::Bytes;

use super::convert::{self, Scalars};
use super::{Datatype, Refusal, TensorData, WireTensor};
use model_infer_request::InferInputTensor;
use model_infer_response::InferOutputTensor;

/// A request's inputs: from `raw_input_contents` when it has them (one per input,
/// in order), from each input's typed `contents` otherwise.
pub fn request_inputs(request: ModelInferRequest) -> Result<Vec<WireTensor>, Refusal> {
    let raw = request.raw_input_contents;
    if !raw.is_empty() && raw.len() != request.inputs.len() {
        return Err(Refusal::bad_request(format!(
            "raw_input_contents has {} entries for {} inputs",
            raw.len(),
            request.inputs.len()
        )));
    }
    let mut raw = raw.into_iter();
    request
        .inputs
        .into_iter()
        .map(|input| {
            let InferInputTensor {
                name,
                datatype,
                shape,
                contents,
                ..
            } = input;
            tensor(name, &datatype, shape, raw.next(), contents)
        })
        .collect()
}

/// A response's outputs, as [`request_inputs`] reads a request's.
pub fn response_outputs(response: ModelInferResponse) -> Result<Vec<WireTensor>, Refusal> {
    let raw = response.raw_output_contents;
    if !raw.is_empty() && raw.len() != response.outputs.len() {
        return Err(Refusal::bad_request(format!(
            "raw_output_contents has {} entries for {} outputs",
            raw.len(),
            response.outputs.len()
        )));
    }
    let mut raw = raw.into_iter();
    response
        .outputs
        .into_iter()
        .map(|o| tensor(o.name, &o.datatype, o.shape, raw.next(), o.contents))
        .collect()
}

fn tensor(
    name: String,
    datatype: &str,
    shape: Vec<i64>,
    raw: Option<Vec<u8>>,
    contents: Option<InferTensorContents>,
) -> Result<WireTensor, Refusal> {
    let datatype = Datatype::parse(datatype).ok_or_else(|| {
        Refusal::bad_request(format!("tensor '{name}': unknown datatype '{datatype}'"))
    })?;
    let data = match (raw, contents) {
        (Some(raw), _) => match datatype {
            Datatype::Bytes => {
                TensorData::Strings(convert::strings_from_raw(&name, Bytes::from(raw))?)
            }
            _ => TensorData::Fixed(Bytes::from(raw)),
        },
        (None, Some(c)) => typed(&name, datatype, c)?,
        (None, None) => {
            return Err(Refusal::bad_request(format!(
                "tensor '{name}' has neither raw contents nor typed contents"
            )))
        }
    };
    let t = WireTensor {
        name,
        datatype,
        shape,
        data,
    };
    t.check()?;
    Ok(t)
}

/// Typed contents in the raw form.
fn typed(name: &str, datatype: Datatype, c: InferTensorContents) -> Result<TensorData, Refusal> {
    let values = match datatype {
        Datatype::Bytes => {
            return Ok(TensorData::Strings(
                c.bytes_contents.into_iter().map(Bytes::from).collect(),
            ))
        }
        Datatype::Bool => Scalars::Bools(c.bool_contents),
        Datatype::Int8 | Datatype::Int16 | Datatype::Int32 => {
            Scalars::Ints(c.int_contents.into_iter().map(i64::from).collect())
        }
        Datatype::Int64 => Scalars::Ints(c.int64_contents),
        Datatype::Uint8 | Datatype::Uint16 | Datatype::Uint32 => {
            Scalars::Ints(c.uint_contents.into_iter().map(i64::from).collect())
        }
        Datatype::Uint64 => Scalars::Floats(c.uint64_contents.into_iter().map(|x| x as f64).collect()),
        Datatype::Fp32 => Scalars::Floats(c.fp32_contents.into_iter().map(f64::from).collect()),
        Datatype::Fp64 => Scalars::Floats(c.fp64_contents),
        Datatype::Fp16 | Datatype::Bf16 => {
            return Err(Refusal::bad_request(format!(
                "tensor '{name}': {datatype} data must come as raw contents (the protocol has no typed field for it)"
            )))
        }
    };
    Ok(TensorData::Fixed(convert::to_raw(name, datatype, &values)?))
}

/// A request for `model` carrying `inputs` as raw contents.
pub fn infer_request(model: &str, inputs: &[WireTensor]) -> ModelInferRequest {
    ModelInferRequest {
        model_name: model.into(),
        inputs: inputs
            .iter()
            .map(|t| InferInputTensor {
                name: t.name.clone(),
                datatype: t.datatype.name().into(),
                shape: t.shape.clone(),
                ..Default::default()
            })
            .collect(),
        raw_input_contents: inputs
            .iter()
            .map(|t| super::binary::raw_bytes(t).to_vec())
            .collect(),
        ..Default::default()
    }
}

/// A response from `model` carrying `outputs` as raw contents.
pub fn infer_response(model: &str, id: String, outputs: &[WireTensor]) -> ModelInferResponse {
    ModelInferResponse {
        model_name: model.into(),
        model_version: "1".into(),
        id,
        outputs: outputs
            .iter()
            .map(|t| InferOutputTensor {
                name: t.name.clone(),
                datatype: t.datatype.name().into(),
                shape: t.shape.clone(),
                ..Default::default()
            })
            .collect(),
        raw_output_contents: outputs
            .iter()
            .map(|t| super::binary::raw_bytes(t).to_vec())
            .collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_typed_contents_give_the_same_tensor() {
        let values = [1.0f32, -2.5, 3.0];
        let t = WireTensor {
            name: "input__0".into(),
            datatype: Datatype::Fp32,
            shape: vec![1, 3],
            data: TensorData::Fixed(Bytes::from(
                values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
            )),
        };
        let raw = infer_request("m", std::slice::from_ref(&t));
        assert_eq!(request_inputs(raw).unwrap(), vec![t.clone()]);
        let mut typed = infer_request("m", std::slice::from_ref(&t));
        typed.raw_input_contents.clear();
        typed.inputs[0].contents = Some(InferTensorContents {
            fp32_contents: values.to_vec(),
            ..Default::default()
        });
        assert_eq!(request_inputs(typed).unwrap(), vec![t.clone()]);
        let response = infer_response("m", "1".into(), std::slice::from_ref(&t));
        assert_eq!(response_outputs(response).unwrap(), vec![t]);
    }

    #[test]
    fn contents_that_do_not_fit_are_refused() {
        let mut r = ModelInferRequest {
            inputs: vec![InferInputTensor {
                name: "x".into(),
                datatype: "FP32".into(),
                shape: vec![2],
                ..Default::default()
            }],
            raw_input_contents: vec![vec![0u8; 4]],
            ..Default::default()
        };
        let err = request_inputs(r.clone()).unwrap_err();
        assert!(err.message.contains("needs 2 elements"), "{err}");
        r.raw_input_contents.push(vec![]);
        let err = request_inputs(r.clone()).unwrap_err();
        assert!(err.message.contains("2 entries for 1 inputs"), "{err}");
        r.raw_input_contents.clear();
        let err = request_inputs(r).unwrap_err();
        assert!(
            err.message.contains("neither raw contents nor typed"),
            "{err}"
        );
    }
}
