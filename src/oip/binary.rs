//! Whole REST bodies, with or without the binary tensor data extension: a JSON
//! header whose length is the `Inference-Header-Content-Length` header, then each
//! binary tensor's raw data in the order the header lists them, each tensor saying
//! its size in its `binary_data_size` parameter. Both sides use these: the server
//! to read requests and write responses, the client (`--target`) to build requests
//! before timing starts and to check each response.

use bytes::{BufMut, Bytes, BytesMut};

use super::convert::{self, Scalars};
use super::json::{
    bool_parameter, int_parameter, FlatData, InferRequest, InferResponse, Parameters, RequestInput,
    RequestOutput, ResponseOutput,
};
use super::{Datatype, Refusal, TensorData, WireTensor};

/// The HTTP header that carries the JSON header's length.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// The parameter that gives a binary tensor's size.
pub const BINARY_DATA_SIZE: &str = "binary_data_size";

/// Which outputs a request wants, and in which form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputWish {
    /// `binary_data_output: true`: every output as raw data.
    pub binary_all: bool,
    /// The outputs named, each with its own `binary_data`; `None`: all outputs.
    pub named: Option<Vec<(String, bool)>>,
}

impl OutputWish {
    /// Whether `output` is wanted, and then whether as raw data.
    pub fn wants(&self, output: &str) -> Option<bool> {
        match &self.named {
            None => Some(self.binary_all),
            Some(named) => named
                .iter()
                .find(|(n, _)| n == output)
                .map(|(_, binary)| *binary || self.binary_all),
        }
    }
}

/// A request read off the wire.
#[derive(Debug, Clone)]
pub struct DecodedRequest {
    /// The request's id, to echo.
    pub id: Option<String>,
    /// The inputs, data checked against shape and datatype.
    pub inputs: Vec<WireTensor>,
    /// The outputs wanted.
    pub outputs: OutputWish,
}

/// Splits a body into its JSON header and the binary part after it.
fn split(body: &Bytes, header_len: Option<usize>) -> Result<(Bytes, Bytes), Refusal> {
    match header_len {
        None => Ok((body.clone(), Bytes::new())),
        Some(n) if n > body.len() => Err(Refusal::bad_request(format!(
            "{HEADER_LENGTH} is {n} but the body has only {} bytes",
            body.len()
        ))),
        Some(n) => Ok((body.slice(..n), body.slice(n..))),
    }
}

/// Reads an inference request body (JSON, or JSON then binary data).
pub fn decode_request(body: &Bytes, header_len: Option<usize>) -> Result<DecodedRequest, Refusal> {
    let (header, mut binary) = split(body, header_len)?;
    let request: InferRequest = serde_json::from_slice(&header).map_err(|e| {
        Refusal::bad_request(format!(
            "the request body is not a valid inference request: {e}"
        ))
    })?;
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for input in request.inputs {
        inputs.push(decode_input(input, &mut binary)?);
    }
    if !binary.is_empty() {
        return Err(Refusal::bad_request(format!(
            "{} bytes of binary data follow the header that no input's binary_data_size claims",
            binary.len()
        )));
    }
    let outputs = OutputWish {
        binary_all: bool_parameter(&request.parameters, "binary_data_output"),
        named: request.outputs.map(|outs| {
            outs.into_iter()
                .map(|o| {
                    let binary = bool_parameter(&o.parameters, "binary_data");
                    (o.name, binary)
                })
                .collect()
        }),
    };
    Ok(DecodedRequest {
        id: request.id,
        inputs,
        outputs,
    })
}

fn decode_input(input: RequestInput, binary: &mut Bytes) -> Result<WireTensor, Refusal> {
    let name = input.name;
    let datatype = Datatype::parse(&input.datatype).ok_or_else(|| {
        Refusal::bad_request(format!(
            "input '{name}': unknown datatype '{}' (the protocol's are BOOL, UINT8 … UINT64, INT8 … INT64, FP16, FP32, FP64, BF16, BYTES)",
            input.datatype
        ))
    })?;
    let data = match (
        int_parameter(&input.parameters, BINARY_DATA_SIZE),
        input.data,
    ) {
        (Some(_), Some(_)) => {
            return Err(Refusal::bad_request(format!(
                "input '{name}' has both data and binary_data_size"
            )))
        }
        (Some(size), None) => {
            let size = usize::try_from(size).map_err(|_| {
                Refusal::bad_request(format!(
                    "input '{name}': binary_data_size {size} is negative"
                ))
            })?;
            if size > binary.len() {
                return Err(Refusal::bad_request(format!(
                    "input '{name}': binary_data_size {size} runs past the body ({} bytes left)",
                    binary.len()
                )));
            }
            let raw = binary.split_to(size);
            match datatype {
                Datatype::Bytes => TensorData::Strings(convert::strings_from_raw(&name, raw)?),
                _ => TensorData::Fixed(raw),
            }
        }
        (None, Some(FlatData(Scalars::Strings(s)))) if datatype == Datatype::Bytes => {
            TensorData::Strings(s.into_iter().map(Bytes::from).collect())
        }
        (None, Some(FlatData(values))) => {
            TensorData::Fixed(convert::to_raw(&name, datatype, &values)?)
        }
        (None, None) => {
            return Err(Refusal::bad_request(format!(
                "input '{name}' has neither data nor binary_data_size"
            )))
        }
    };
    let tensor = WireTensor {
        name,
        datatype,
        shape: input.shape,
        data,
    };
    tensor.check()?;
    Ok(tensor)
}

/// A body in the form the protocol's HTTP side sends, with the JSON header's
/// length when binary data follows it.
#[derive(Debug, Clone)]
pub struct Body {
    /// The whole body.
    pub bytes: Bytes,
    /// `Inference-Header-Content-Length`, when the body has binary data.
    pub header_len: Option<usize>,
}

/// The request body for `inputs`: raw data after the header when `binary`, JSON
/// numbers otherwise; `binary_outputs` asks for every output as raw data.
pub fn encode_request(inputs: &[WireTensor], binary: bool, binary_outputs: bool) -> Body {
    let mut raw = Vec::new();
    let json_inputs = inputs
        .iter()
        .map(|t| {
            let (data, parameters) = if binary {
                let bytes = raw_bytes(t);
                let size = bytes.len();
                raw.push(bytes);
                (None, Some(size_parameter(size)))
            } else {
                (Some(json_data(t)), None)
            };
            RequestInput {
                name: t.name.clone(),
                shape: t.shape.clone(),
                datatype: t.datatype.name().into(),
                parameters,
                data,
            }
        })
        .collect();
    let request = InferRequest {
        id: None,
        parameters: binary_outputs.then(|| {
            Parameters::from([("binary_data_output".into(), serde_json::Value::Bool(true))])
        }),
        inputs: json_inputs,
        outputs: None,
    };
    assemble(&request, raw)
}

/// The response body for `outputs`, each as raw data or JSON as `wish` says; an
/// output not wanted is left out.
pub fn encode_response(
    model_name: &str,
    id: Option<String>,
    outputs: &[WireTensor],
    wish: &OutputWish,
) -> Body {
    let mut raw = Vec::new();
    let json_outputs = outputs
        .iter()
        .filter_map(|t| {
            let binary = wish.wants(&t.name)?;
            let (data, parameters) = if binary {
                let bytes = raw_bytes(t);
                let size = bytes.len();
                raw.push(bytes);
                (None, Some(size_parameter(size)))
            } else {
                (Some(json_values(t)), None)
            };
            Some(ResponseOutput {
                name: t.name.clone(),
                shape: t.shape.clone(),
                datatype: t.datatype.name().into(),
                parameters,
                data,
            })
        })
        .collect();
    let response = InferResponse {
        model_name: model_name.into(),
        model_version: None,
        id,
        parameters: None,
        outputs: json_outputs,
    };
    assemble(&response, raw)
}

/// Reads a response body into its outputs; an error says what is malformed.
pub fn decode_response(
    body: &Bytes,
    header_len: Option<usize>,
) -> Result<(InferResponse, Vec<WireTensor>), Refusal> {
    let (header, mut binary) = split(body, header_len)?;
    let response: InferResponse = serde_json::from_slice(&header).map_err(|e| {
        Refusal::bad_request(format!("the response is not an inference response: {e}"))
    })?;
    let mut tensors = Vec::with_capacity(response.outputs.len());
    for out in &response.outputs {
        let input = RequestInput {
            name: out.name.clone(),
            shape: out.shape.clone(),
            datatype: out.datatype.clone(),
            parameters: out.parameters.clone(),
            data: out
                .data
                .as_ref()
                .map(|values| flat_from_values(values))
                .transpose()?,
        };
        tensors.push(decode_input(input, &mut binary)?);
    }
    Ok((response, tensors))
}

fn flat_from_values(values: &[serde_json::Value]) -> Result<FlatData, Refusal> {
    serde_json::from_value(serde_json::Value::Array(values.to_vec()))
        .map_err(|e| Refusal::bad_request(format!("output data: {e}")))
}

fn size_parameter(size: usize) -> Parameters {
    Parameters::from([(BINARY_DATA_SIZE.into(), serde_json::Value::from(size))])
}

/// A tensor's data in the raw form.
pub fn raw_bytes(t: &WireTensor) -> Bytes {
    match &t.data {
        TensorData::Fixed(b) => b.clone(),
        TensorData::Strings(s) => convert::strings_to_raw(s),
    }
}

fn json_values(t: &WireTensor) -> Vec<serde_json::Value> {
    match &t.data {
        TensorData::Fixed(b) => convert::to_json(t.datatype, b),
        TensorData::Strings(s) => s
            .iter()
            .map(|e| serde_json::Value::String(String::from_utf8_lossy(e).into_owned()))
            .collect(),
    }
}

fn json_data(t: &WireTensor) -> FlatData {
    let values = json_values(t);
    serde_json::from_value(serde_json::Value::Array(values))
        .expect("a tensor's own values read back; this is a bug")
}

fn assemble<T: serde::Serialize>(header: &T, raw: Vec<Bytes>) -> Body {
    let json = serde_json::to_vec(header).expect("protocol bodies serialise; this is a bug");
    if raw.is_empty() {
        return Body {
            bytes: Bytes::from(json),
            header_len: None,
        };
    }
    let len = json.len() + raw.iter().map(Bytes::len).sum::<usize>();
    let mut out = BytesMut::with_capacity(len);
    out.put_slice(&json);
    raw.iter().for_each(|r| out.put_slice(r));
    Body {
        bytes: out.freeze(),
        header_len: Some(json.len()),
    }
}

/// The wanted outputs of a request, as the JSON body's `outputs` field writes them.
pub fn requested_outputs(names: &[&str], binary: bool) -> Vec<RequestOutput> {
    names
        .iter()
        .map(|n| RequestOutput {
            name: (*n).into(),
            parameters: binary
                .then(|| Parameters::from([("binary_data".into(), serde_json::Value::Bool(true))])),
        })
        .collect()
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
