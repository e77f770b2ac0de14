//! What the served model looks like on the wire, and the check every request
//! passes before it reaches the pipeline: the model's inputs by name, datatype and
//! per-sample shape, how many samples one request may carry, and the outputs after
//! post-processing. A request the model would refuse is refused here, with a 400
//! naming the input, so that no request can make a pipeline stage fail.

use crate::config::InputSpec;
use crate::oip::json::{ModelMetadata, TensorMetadata};
use crate::oip::{Datatype, Refusal, TensorData, WireTensor};

/// One input of the model as clients send it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSlot {
    /// The name clients use (`input__0`, … as Triton names a PyTorch model's inputs).
    pub name: String,
    /// One sample's shape and element type.
    pub spec: InputSpec,
}

/// One output as clients receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSlot {
    /// Its name.
    pub name: String,
    /// Its element type.
    pub datatype: Datatype,
    /// One sample's shape.
    pub per_sample: Vec<i64>,
}

/// How many samples one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRange {
    /// Any number from 1 to this many (the pipeline's buffers hold this many).
    UpTo(u32),
    /// Exactly this many (a package compiled for one batch size).
    Exactly(u32),
}

impl SampleRange {
    fn admits(self, n: i64) -> bool {
        match self {
            SampleRange::UpTo(max) => n >= 1 && n <= max as i64,
            SampleRange::Exactly(k) => n == k as i64,
        }
    }

    fn describe(self) -> String {
        match self {
            SampleRange::UpTo(max) => format!("1 to {max} (the server's --batch-size)"),
            SampleRange::Exactly(k) => {
                format!("exactly {k} (the model was compiled for that batch)")
            }
        }
    }
}

/// The model as the protocol sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// The name clients address it by.
    pub model: String,
    /// Its inputs, in the order of the forward's arguments.
    pub inputs: Vec<InputSlot>,
    /// Its outputs, after post-processing.
    pub outputs: Vec<OutputSlot>,
    /// Samples per request.
    pub samples: SampleRange,
    /// With image pre-processing: the name of the one BYTES input that carries
    /// encoded images (the model's own input is then filled by decoding them).
    pub image_input: Option<String>,
}

/// The name of the BYTES input that carries encoded images.
pub const IMAGE_INPUT: &str = "image";

/// A request's inputs, checked: one tensor per model input, in the model's order,
/// and the samples they carry.
#[derive(Debug)]
pub struct Checked {
    /// Samples in the request.
    pub samples: u32,
    /// The model's inputs, in order (with image pre-processing: the one BYTES tensor).
    pub tensors: Vec<WireTensor>,
}

impl Signature {
    /// The protocol's model metadata.
    pub fn metadata(&self, platform: &str) -> ModelMetadata {
        let batched = |shape: &[i64]| std::iter::once(-1).chain(shape.iter().copied()).collect();
        let inputs = match &self.image_input {
            Some(name) => vec![TensorMetadata {
                name: name.clone(),
                datatype: Datatype::Bytes.name().into(),
                shape: vec![-1],
            }],
            None => self
                .inputs
                .iter()
                .map(|slot| TensorMetadata {
                    name: slot.name.clone(),
                    datatype: Datatype::of_input(slot.spec.dtype).name().into(),
                    shape: batched(&slot.spec.shape),
                })
                .collect(),
        };
        ModelMetadata {
            name: self.model.clone(),
            versions: vec!["1".into()],
            platform: platform.into(),
            inputs,
            outputs: self
                .outputs
                .iter()
                .map(|o| TensorMetadata {
                    name: o.name.clone(),
                    datatype: o.datatype.name().into(),
                    shape: batched(&o.per_sample),
                })
                .collect(),
        }
    }

    /// Checks a request's inputs against the model; the refusal names the input and
    /// what was expected.
    pub fn check(&self, mut given: Vec<WireTensor>) -> Result<Checked, Refusal> {
        if let Some(name) = &self.image_input {
            return self.check_images(name, given);
        }
        let expected: Vec<&str> = self.inputs.iter().map(|s| s.name.as_str()).collect();
        if let Some(unknown) = given.iter().find(|t| !expected.contains(&t.name.as_str())) {
            return Err(Refusal::bad_request(format!(
                "unknown input '{}': model '{}' takes {}",
                unknown.name,
                self.model,
                expected.join(", ")
            )));
        }
        let mut tensors = Vec::with_capacity(self.inputs.len());
        let mut samples = None;
        for slot in &self.inputs {
            let at = given
                .iter()
                .position(|t| t.name == slot.name)
                .ok_or_else(|| {
                    Refusal::bad_request(format!(
                        "input '{}' is missing: model '{}' takes {}",
                        slot.name,
                        self.model,
                        expected.join(", ")
                    ))
                })?;
            let tensor = given.swap_remove(at);
            let n = self.check_one(slot, &tensor)?;
            match samples {
                Some(m) if m != n => {
                    return Err(Refusal::bad_request(format!(
                        "inputs disagree on the batch: '{}' has {n} samples, another {m}",
                        slot.name
                    )))
                }
                _ => samples = Some(n),
            }
            tensors.push(tensor);
        }
        if let Some(dup) = given.first() {
            return Err(Refusal::bad_request(format!(
                "input '{}' is given twice",
                dup.name
            )));
        }
        Ok(Checked {
            samples: samples.expect("a model has at least one input; this is a bug"),
            tensors,
        })
    }

    fn check_one(&self, slot: &InputSlot, t: &WireTensor) -> Result<u32, Refusal> {
        let want = Datatype::of_input(slot.spec.dtype);
        if t.datatype != want {
            return Err(Refusal::bad_request(format!(
                "input '{}': datatype {} where the model takes {want}",
                t.name, t.datatype
            )));
        }
        let shape_ok =
            t.shape.len() == slot.spec.shape.len() + 1 && t.shape[1..] == slot.spec.shape[..];
        if !shape_ok {
            let mut wanted = vec!["N".to_string()];
            wanted.extend(slot.spec.shape.iter().map(|d| d.to_string()));
            return Err(Refusal::bad_request(format!(
                "input '{}': shape {:?} where the model takes [{}]",
                t.name,
                t.shape,
                wanted.join(", ")
            )));
        }
        self.samples_of(&t.name, t.shape[0])
    }

    fn samples_of(&self, name: &str, n: i64) -> Result<u32, Refusal> {
        if !self.samples.admits(n) {
            return Err(Refusal::bad_request(format!(
                "input '{name}': {n} samples; this server takes {} per request",
                self.samples.describe()
            )));
        }
        Ok(n as u32)
    }

    fn check_images(&self, name: &str, given: Vec<WireTensor>) -> Result<Checked, Refusal> {
        let [tensor] = <[WireTensor; 1]>::try_from(given).map_err(|given| {
            Refusal::bad_request(format!(
                "model '{}' takes one input, '{name}' (BYTES: encoded JPEG or PNG images); the request has {}",
                self.model,
                given.len()
            ))
        })?;
        if tensor.name != name || tensor.datatype != Datatype::Bytes {
            return Err(Refusal::bad_request(format!(
                "input '{}' ({}): model '{}' takes '{name}' as BYTES (encoded JPEG or PNG images)",
                tensor.name, tensor.datatype, self.model
            )));
        }
        let n = match (tensor.shape.as_slice(), &tensor.data) {
            ([n], TensorData::Strings(_)) | ([n, 1], TensorData::Strings(_)) => *n,
            _ => {
                return Err(Refusal::bad_request(format!(
                    "input '{name}': shape {:?} where the model takes [N] (one encoded image each)",
                    tensor.shape
                )))
            }
        };
        let samples = self.samples_of(name, n)?;
        Ok(Checked {
            samples,
            tensors: vec![tensor],
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn signature() -> Signature {
        Signature {
            model: "m".into(),
            inputs: vec![
                InputSlot {
                    name: "input__0".into(),
                    spec: "4:i64:0..10".parse().unwrap(),
                },
                InputSlot {
                    name: "input__1".into(),
                    spec: "4:i64:0..2".parse().unwrap(),
                },
            ],
            outputs: vec![],
            samples: SampleRange::UpTo(2),
            image_input: None,
        }
    }

    fn ids(name: &str, shape: Vec<i64>) -> WireTensor {
        let n = WireTensor::elements(&shape).unwrap();
        WireTensor {
            name: name.into(),
            datatype: Datatype::Int64,
            shape,
            data: TensorData::Fixed(Bytes::from(vec![0u8; n * 8])),
        }
    }

    #[test]
    fn inputs_are_put_in_the_models_order() {
        let checked = signature()
            .check(vec![
                ids("input__1", vec![2, 4]),
                ids("input__0", vec![2, 4]),
            ])
            .unwrap();
        assert_eq!(checked.samples, 2);
        let names: Vec<_> = checked.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["input__0", "input__1"]);
    }

    #[test]
    fn every_mismatch_is_named() {
        let s = signature();
        let cases = [
            (vec![ids("input__0", vec![2, 4])], "'input__1' is missing"),
            (vec![ids("x", vec![2, 4])], "unknown input 'x'"),
            (
                vec![ids("input__0", vec![2, 5]), ids("input__1", vec![2, 4])],
                "[N, 4]",
            ),
            (
                vec![ids("input__0", vec![3, 4]), ids("input__1", vec![3, 4])],
                "1 to 2",
            ),
            (
                vec![ids("input__0", vec![1, 4]), ids("input__1", vec![2, 4])],
                "disagree",
            ),
            (
                vec![
                    ids("input__0", vec![1, 4]),
                    ids("input__1", vec![1, 4]),
                    ids("input__1", vec![1, 4]),
                ],
                "given twice",
            ),
        ];
        for (given, expected) in cases {
            let err = s.check(given).unwrap_err();
            assert!(err.message.contains(expected), "{expected}: {err}");
        }
        let mut float = ids("input__0", vec![1, 4]);
        float.datatype = Datatype::Fp64;
        let err = s
            .check(vec![float, ids("input__1", vec![1, 4])])
            .unwrap_err();
        assert!(
            err.message
                .contains("datatype FP64 where the model takes INT64"),
            "{err}"
        );
    }

    #[test]
    fn a_model_compiled_for_one_batch_takes_only_that_batch() {
        let s = Signature {
            samples: SampleRange::Exactly(2),
            ..signature()
        };
        let err = s
            .check(vec![
                ids("input__0", vec![1, 4]),
                ids("input__1", vec![1, 4]),
            ])
            .unwrap_err();
        assert!(err.message.contains("exactly 2"), "{err}");
    }
}
