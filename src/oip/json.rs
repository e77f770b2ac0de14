//! The protocol's REST bodies as serde types: the inference request and response,
//! model and server metadata, and the error body. A tensor's `data` is read by
//! [`FlatData`], which flattens nested arrays in row-major order on the fly (no
//! `serde_json::Value` per element: a 224 × 224 image is 150,528 numbers).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::convert::Scalars;

/// A request's or tensor's `parameters`: names to booleans, numbers or strings.
pub type Parameters = BTreeMap<String, serde_json::Value>;

/// `POST /v2/models/{name}/infer`'s body (the JSON part, with the binary extension).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InferRequest {
    /// Echoed in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Request parameters, e.g. `binary_data_output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// The input tensors.
    pub inputs: Vec<RequestInput>,
    /// The outputs wanted (all when absent), with per-output parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One input tensor of a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestInput {
    /// The model input it feeds.
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its element type, as the protocol spells it.
    pub datatype: String,
    /// `binary_data_size` when the data follows the JSON header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// The elements, flat or nested, row-major; absent with binary data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<FlatData>,
}

/// One output a request asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestOutput {
    /// The output's name.
    pub name: String,
    /// `binary_data: true` for this output as raw data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

/// The response to an inference request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferResponse {
    /// The model that answered.
    pub model_name: String,
    /// Its version, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// The request's id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Response parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// The output tensors.
    pub outputs: Vec<ResponseOutput>,
}

/// One output tensor of a response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseOutput {
    /// The output's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its element type.
    pub datatype: String,
    /// `binary_data_size` when the data follows the JSON header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// The elements, flat, row-major; absent with binary data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<serde_json::Value>>,
}

/// A model's name, datatype and shape of one tensor (-1: any size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorMetadata {
    /// The tensor's name.
    pub name: String,
    /// Its element type.
    pub datatype: String,
    /// Its shape; -1 marks a dimension of any size.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// The model's name.
    pub name: String,
    /// Versions available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// What runs it.
    #[serde(default)]
    pub platform: String,
    /// Its inputs.
    pub inputs: Vec<TensorMetadata>,
    /// Its outputs.
    #[serde(default)]
    pub outputs: Vec<TensorMetadata>,
}

/// `GET /v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// The server's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The protocol extensions it supports.
    pub extensions: Vec<String>,
}

/// The protocol's error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

/// A parameter's value as a whole number (`binary_data_size`), if it is one.
pub fn int_parameter(parameters: &Option<Parameters>, name: &str) -> Option<i64> {
    parameters.as_ref()?.get(name)?.as_i64()
}

/// A parameter's value as a boolean (`binary_data`, `binary_data_output`).
pub fn bool_parameter(parameters: &Option<Parameters>, name: &str) -> bool {
    parameters
        .as_ref()
        .and_then(|p| p.get(name))
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// A tensor's `data`, flattened: nested arrays of one kind of element, read in
/// row-major order. Serialises as a flat array.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatData(pub Scalars);

impl Serialize for FlatData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Scalars::Ints(v) => v.serialize(s),
            Scalars::Floats(v) => v.serialize(s),
            Scalars::Bools(v) => v.serialize(s),
            Scalars::Strings(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FlatData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut acc = Accumulator::default();
        d.deserialize_any(FlatVisitor(&mut acc))?;
        Ok(FlatData(acc.finish()))
    }
}

/// Elements as they come, promoted to floats when a fraction appears.
#[derive(Default)]
struct Accumulator {
    values: Option<Scalars>,
}

impl Accumulator {
    fn push<E: de::Error>(&mut self, element: Element) -> Result<(), E> {
        let mismatch = || E::custom("tensor data mixes numbers, booleans and strings");
        match (&mut self.values, element) {
            (None, e) => {
                self.values = Some(match e {
                    Element::Int(x) => Scalars::Ints(vec![x]),
                    Element::Float(x) => Scalars::Floats(vec![x]),
                    Element::Bool(b) => Scalars::Bools(vec![b]),
                    Element::Str(s) => Scalars::Strings(vec![s]),
                })
            }
            (Some(Scalars::Ints(v)), Element::Int(x)) => v.push(x),
            (Some(Scalars::Floats(v)), Element::Int(x)) => v.push(x as f64),
            (Some(Scalars::Floats(v)), Element::Float(x)) => v.push(x),
            (Some(Scalars::Ints(v)), Element::Float(x)) => {
                let mut floats: Vec<f64> = v.iter().map(|&i| i as f64).collect();
                floats.push(x);
                self.values = Some(Scalars::Floats(floats));
            }
            (Some(Scalars::Bools(v)), Element::Bool(b)) => v.push(b),
            (Some(Scalars::Strings(v)), Element::Str(s)) => v.push(s),
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn finish(self) -> Scalars {
        self.values.unwrap_or(Scalars::Floats(Vec::new()))
    }
}

enum Element {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

struct FlatVisitor<'a>(&'a mut Accumulator);

impl<'de> Visitor<'de> for FlatVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array (possibly nested) of numbers, booleans or strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Nested(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<(), E> {
        self.0.push(Element::Int(x))
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<(), E> {
        match i64::try_from(x) {
            Ok(i) => self.0.push(Element::Int(i)),
            Err(_) => self.0.push(Element::Float(x as f64)),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<(), E> {
        self.0.push(Element::Float(x))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.0.push(Element::Bool(b))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.0.push(Element::Str(s.to_string()))
    }
}

struct Nested<'a>(&'a mut Accumulator);

impl<'de> de::DeserializeSeed<'de> for Nested<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(FlatVisitor(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_data_is_flattened_in_row_major_order() {
        let input: RequestInput = serde_json::from_str(
            r#"{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3.5,4]]}"#,
        )
        .unwrap();
        assert_eq!(
            input.data,
            Some(FlatData(Scalars::Floats(vec![1.0, 2.0, 3.5, 4.0])))
        );
        let ids: FlatData = serde_json::from_str("[9007199254740993, 2]").unwrap();
        assert_eq!(
            ids.0,
            Scalars::Ints(vec![9_007_199_254_740_993, 2]),
            "exact"
        );
    }

    #[test]
    fn mixed_data_is_refused() {
        let err = serde_json::from_str::<FlatData>(r#"[1, "a"]"#).unwrap_err();
        assert!(err.to_string().contains("mixes"), "{err}");
        let err = serde_json::from_str::<FlatData>(r#"[{"a": 1}]"#).unwrap_err();
        assert!(err.to_string().contains("array"), "{err}");
    }

    #[test]
    fn parameters_are_read_by_type() {
        let req: InferRequest =
            serde_json::from_str(r#"{"inputs":[],"parameters":{"binary_data_output":true,"n":3}}"#)
                .unwrap();
        assert!(bool_parameter(&req.parameters, "binary_data_output"));
        assert_eq!(int_parameter(&req.parameters, "n"), Some(3));
        assert!(!bool_parameter(&req.parameters, "missing"));
    }
}
