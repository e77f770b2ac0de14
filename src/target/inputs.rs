//! What the client sends a target: the inputs' names, types and per-sample shapes
//! (from the model's metadata, or `--input` in the metadata's order), and the pool
//! of requests built and encoded before timing starts, cycled through by request id
//! as the in-process pipeline cycles its input pool. With `--images DIR` the one
//! BYTES input carries the folder's files, in name order, a batch's worth each.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::client::Encoded;
use crate::config::target::{Encoding, Protocol, TargetConfig};
use crate::config::{InputDtype, InputSpec, ValueRange};
use crate::error::{Error, Result};
use crate::oip::json::ModelMetadata;
use crate::oip::{Datatype, TensorData, WireTensor};
use crate::pipeline::inputs::INPUT_POOL_BYTES;
use crate::pipeline::loadgen::Payloads;

/// One input of the target's model as the client fills it.
#[derive(Debug, Clone, PartialEq)]
pub enum InputPlan {
    /// Values drawn for a spec.
    Drawn {
        /// The input's name on the server.
        name: String,
        /// One sample's shape, type and value range.
        spec: InputSpec,
    },
    /// Encoded images from a folder (a BYTES input).
    Images {
        /// The input's name on the server.
        name: String,
    },
}

impl InputPlan {
    /// As the report lists inputs: `name 3x224x224:f32`, `image BYTES (files)`.
    pub fn describe(&self) -> String {
        match self {
            InputPlan::Drawn { name, spec } => format!("{name} {spec}"),
            InputPlan::Images { name } => format!("{name} BYTES (encoded image files)"),
        }
    }
}

/// Values drawn for an integer input whose range the metadata cannot give: a range
/// every index input accepts (an embedding of any size, a class, a mask).
const DEFAULT_INT_RANGE: ValueRange = ValueRange::Uniform { lo: 0.0, hi: 2.0 };

/// Plans the inputs: `given` specs (one per input, in the metadata's order), or
/// the metadata's own; an input the client cannot fill is an error naming it.
pub fn plan(metadata: &ModelMetadata, given: &[InputSpec], images: bool) -> Result<Vec<InputPlan>> {
    let refuse = |why: String| Error::config("input", format!("model '{}': {why}", metadata.name));
    if metadata.inputs.is_empty() {
        return Err(refuse("its metadata lists no inputs".into()));
    }
    if !given.is_empty() && given.len() != metadata.inputs.len() {
        return Err(refuse(format!(
            "{} --input given for {} inputs ({})",
            given.len(),
            metadata.inputs.len(),
            names(metadata)
        )));
    }
    let bytes_inputs = metadata
        .inputs
        .iter()
        .filter(|t| t.datatype == "BYTES")
        .count();
    if images && (bytes_inputs != 1 || metadata.inputs.len() != 1) {
        return Err(refuse(format!(
            "--images needs a model with one BYTES input; this one takes {}",
            names(metadata)
        )));
    }
    metadata
        .inputs
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if t.datatype == "BYTES" {
                return if images {
                    Ok(InputPlan::Images { name: t.name.clone() })
                } else {
                    Err(refuse(format!(
                        "input '{}' is BYTES (encoded data such as images): give a folder of JPEG or PNG files with --images DIR",
                        t.name
                    )))
                };
            }
            let spec = match given.get(k) {
                Some(spec) => spec.clone(),
                None => spec_of(t).map_err(refuse)?,
            };
            Ok(InputPlan::Drawn {
                name: t.name.clone(),
                spec,
            })
        })
        .collect()
}

fn names(m: &ModelMetadata) -> String {
    m.inputs
        .iter()
        .map(|t| format!("{} {} {:?}", t.name, t.datatype, t.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A spec from metadata: the datatype a model input can have, the shape after the
/// batch dimension, with every dimension known.
fn spec_of(t: &crate::oip::json::TensorMetadata) -> std::result::Result<InputSpec, String> {
    let dtype = Datatype::parse(&t.datatype)
        .and_then(Datatype::input_dtype)
        .ok_or_else(|| {
            format!(
                "input '{}' has datatype {}, which the client cannot draw (FP32, FP16, BF16, INT64, INT32, UINT8); give it with --input",
                t.name, t.datatype
            )
        })?;
    let per_sample = match t.shape.split_first() {
        Some((&first, rest)) if first < 0 => rest.to_vec(),
        _ => {
            return Err(format!(
                "input '{}' has shape {:?} with no batch dimension (-1 first); give its per-sample shape with --input",
                t.name, t.shape
            ))
        }
    };
    if per_sample.iter().any(|&d| d <= 0) {
        return Err(format!(
            "input '{}' has shape {:?}, a dimension of any size: give the size to send with --input",
            t.name, t.shape
        ));
    }
    let range = match dtype {
        InputDtype::F32 | InputDtype::F16 | InputDtype::Bf16 => ValueRange::Normal,
        _ => DEFAULT_INT_RANGE,
    };
    Ok(InputSpec {
        shape: per_sample,
        dtype,
        range,
    })
}

/// The image files of a folder, in name order.
pub fn image_files(dir: &Path) -> Result<Vec<Bytes>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot read the image folder", dir, e))?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(Error::config(
            "images",
            format!("{}: no .jpg, .jpeg or .png files", dir.display()),
        ));
    }
    paths
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map(Bytes::from)
                .map_err(|e| Error::io("cannot read the image", p, e))
        })
        .collect()
}

/// The requests the client sends, encoded; request `id` sends entry `id % len`.
#[derive(Clone)]
pub struct EncodedPool {
    /// Each request's encoding and the samples it carries.
    pub requests: Arc<Vec<Encoded>>,
    /// Input bytes of one request, as sent (before encoding).
    pub request_bytes: u64,
}

impl Payloads<usize> for EncodedPool {
    #[inline]
    fn payload(&self, id: u64) -> usize {
        (id % self.requests.len() as u64) as usize
    }
}

impl EncodedPool {
    /// `count` distinct requests of `batch` samples (fewer where they would pass the
    /// in-process pool's memory cap; at least one), drawn from `seed`, encoded for
    /// `target`.
    pub fn build(
        target: &TargetConfig,
        encoding: Encoding,
        plan: &[InputPlan],
        images: &[Bytes],
        batch: u32,
        count: u32,
        seed: u64,
    ) -> Result<Self> {
        let per_request: u64 = plan
            .iter()
            .map(|p| match p {
                InputPlan::Drawn { spec, .. } => spec.bytes_per_sample() * batch as u64,
                InputPlan::Images { .. } => {
                    images.iter().map(|i| i.len() as u64).sum::<u64>() / images.len().max(1) as u64
                        * batch as u64
                }
            })
            .sum();
        let count = (count as usize)
            .min(INPUT_POOL_BYTES / (per_request as usize).max(1))
            .max(1);
        let tensors: Vec<Vec<WireTensor>> = crate::model::seeded(seed, || {
            (0..count)
                .map(|k| plan.iter().map(|p| tensor(p, images, batch, k)).collect())
                .collect::<Result<_>>()
        })?;
        let requests = tensors
            .iter()
            .map(|inputs| encode(target, encoding, inputs))
            .collect();
        Ok(Self {
            requests: Arc::new(requests),
            request_bytes: per_request,
        })
    }
}

fn tensor(p: &InputPlan, images: &[Bytes], batch: u32, k: usize) -> Result<WireTensor> {
    match p {
        InputPlan::Drawn { name, spec } => {
            let drawn = crate::model::draw::draw(spec, batch)?;
            crate::oip::torch::from_torch(name, &drawn)
        }
        InputPlan::Images { name } => Ok(WireTensor {
            name: name.clone(),
            datatype: Datatype::Bytes,
            shape: vec![batch as i64],
            data: TensorData::Strings(
                (0..batch as usize)
                    .map(|i| images[(k * batch as usize + i) % images.len()].clone())
                    .collect(),
            ),
        }),
    }
}

fn encode(target: &TargetConfig, encoding: Encoding, inputs: &[WireTensor]) -> Encoded {
    match target.url.protocol {
        Protocol::Http => {
            let binary = encoding == Encoding::Binary;
            let body = crate::oip::binary::encode_request(inputs, binary, binary);
            Encoded::Http {
                body: body.bytes,
                header_len: body.header_len,
            }
        }
        Protocol::Grpc => {
            let mut request = crate::oip::grpc::infer_request(&target.url.model, inputs);
            request.model_version = target.url.version.clone().unwrap_or_default();
            Encoded::Grpc(request)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oip::json::TensorMetadata;

    fn metadata(inputs: Vec<(&str, &str, Vec<i64>)>) -> ModelMetadata {
        ModelMetadata {
            name: "m".into(),
            versions: vec![],
            platform: String::new(),
            inputs: inputs
                .into_iter()
                .map(|(n, d, s)| TensorMetadata {
                    name: n.into(),
                    datatype: d.into(),
                    shape: s,
                })
                .collect(),
            outputs: vec![],
        }
    }

    #[test]
    fn inputs_come_from_the_metadata_or_the_flags_in_its_order() {
        let m = metadata(vec![
            ("ids", "INT64", vec![-1, 16]),
            ("x", "FP16", vec![-1, 3, 8, 8]),
        ]);
        let plan = plan(&m, &[], false).unwrap();
        assert_eq!(plan[0].describe(), "ids 16:i64:0..2");
        assert_eq!(plan[1].describe(), "x 3x8x8:f16");
        let given: Vec<InputSpec> = vec![
            "16:i64:0..30522".parse().unwrap(),
            "3x8x8:f16".parse().unwrap(),
        ];
        let plan = super::plan(&m, &given, false).unwrap();
        assert_eq!(plan[0].describe(), "ids 16:i64:0..30522");
    }

    #[test]
    fn inputs_the_client_cannot_fill_are_named() {
        let cases = [
            (
                metadata(vec![("x", "FP32", vec![-1, -1])]),
                "dimension of any size",
            ),
            (
                metadata(vec![("x", "FP32", vec![3, 4])]),
                "no batch dimension",
            ),
            (metadata(vec![("x", "FP64", vec![-1, 4])]), "cannot draw"),
            (metadata(vec![("image", "BYTES", vec![-1])]), "--images DIR"),
            (metadata(vec![]), "lists no inputs"),
        ];
        for (m, expected) in cases {
            let err = plan(&m, &[], false).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
        let two = metadata(vec![("a", "FP32", vec![-1, 1]), ("b", "FP32", vec![-1, 1])]);
        let err = plan(&two, &["1:f32".parse().unwrap()], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 --input given for 2 inputs"), "{err}");
        let err = plan(&two, &[], true).unwrap_err().to_string();
        assert!(err.contains("one BYTES input"), "{err}");
    }

    #[test]
    fn the_pool_cycles_by_id_and_encodes_for_the_protocol() {
        let m = metadata(vec![("x", "FP32", vec![-1, 4])]);
        let plan = plan(&m, &[], false).unwrap();
        let rest = TargetConfig::new("http://a:1/v2/models/m".parse().unwrap());
        let pool = EncodedPool::build(&rest, Encoding::Binary, &plan, &[], 2, 3, 7).unwrap();
        assert_eq!(pool.requests.len(), 3);
        assert_eq!((pool.payload(4), pool.request_bytes), (1, 32));
        let Encoded::Http { body, header_len } = &pool.requests[0] else {
            panic!("REST")
        };
        let decoded = crate::oip::binary::decode_request(body, *header_len).unwrap();
        assert_eq!(decoded.inputs[0].shape, vec![2, 4]);
        assert!(decoded.outputs.binary_all);
        let grpc = TargetConfig::new("grpc://a:1/m/3".parse().unwrap());
        let pool = EncodedPool::build(&grpc, Encoding::Binary, &plan, &[], 2, 1, 7).unwrap();
        let Encoded::Grpc(r) = &pool.requests[0] else {
            panic!("gRPC")
        };
        assert_eq!(
            (r.model_name.as_str(), r.model_version.as_str()),
            ("m", "3")
        );
        assert_eq!(r.raw_input_contents[0].len(), 32);
    }
}
