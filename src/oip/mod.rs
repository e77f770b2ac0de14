//! The Open Inference Protocol (KServe v2), as plain data and codecs: what
//! `inferbench serve` answers and what `--target` sends, over HTTP/JSON (with the
//! binary tensor data extension) and gRPC. Nothing here knows libtorch, sockets or
//! threads, so both sides and their tests share one reading of the protocol.
//!
//! - [`Datatype`] and [`WireTensor`]: a tensor as the protocol carries it, its
//!   data little-endian and row-major whichever encoding it came in.
//! - [`json`]: the REST bodies (inference request and response, metadata, errors).
//! - [`binary`]: the binary tensor data extension (a JSON header, then raw data).
//! - [`grpc`]: the `inference.GRPCInferenceService` messages, client and server
//!   traits (generated from `proto/inference.proto`).
//! - [`Refusal`]: why a request is refused, with the HTTP status and gRPC code the
//!   protocol gives it.
//! - `torch` (with libtorch): protocol tensors to and from libtorch's.

pub mod binary;
pub mod convert;
pub mod grpc;
pub mod json;
#[cfg(feature = "torch")]
pub mod torch;

use bytes::Bytes;

use crate::config::InputDtype;

/// The protocol's element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datatype {
    /// One byte, 0 or 1.
    Bool,
    /// Unsigned 8-bit integer.
    Uint8,
    /// Unsigned 16-bit integer.
    Uint16,
    /// Unsigned 32-bit integer.
    Uint32,
    /// Unsigned 64-bit integer.
    Uint64,
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer.
    Int16,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// IEEE half precision.
    Fp16,
    /// IEEE single precision.
    Fp32,
    /// IEEE double precision.
    Fp64,
    /// bfloat16.
    Bf16,
    /// Variable-length byte strings (encoded images, text).
    Bytes,
}

impl Datatype {
    const ALL: [(&'static str, Datatype); 14] = [
        ("BOOL", Datatype::Bool),
        ("UINT8", Datatype::Uint8),
        ("UINT16", Datatype::Uint16),
        ("UINT32", Datatype::Uint32),
        ("UINT64", Datatype::Uint64),
        ("INT8", Datatype::Int8),
        ("INT16", Datatype::Int16),
        ("INT32", Datatype::Int32),
        ("INT64", Datatype::Int64),
        ("FP16", Datatype::Fp16),
        ("FP32", Datatype::Fp32),
        ("FP64", Datatype::Fp64),
        ("BF16", Datatype::Bf16),
        ("BYTES", Datatype::Bytes),
    ];

    /// The protocol's spelling (`FP32`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, d)| *d == self)
            .map(|(n, _)| *n)
            .expect("every datatype has a name; this is a bug")
    }

    /// Parses the protocol's spelling; `None` for a name it does not define.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == text).map(|(_, d)| *d)
    }

    /// Bytes of one element; `None` for [`Datatype::Bytes`], whose elements vary.
    pub fn element_bytes(self) -> Option<usize> {
        Some(match self {
            Datatype::Bool | Datatype::Uint8 | Datatype::Int8 => 1,
            Datatype::Uint16 | Datatype::Int16 | Datatype::Fp16 | Datatype::Bf16 => 2,
            Datatype::Uint32 | Datatype::Int32 | Datatype::Fp32 => 4,
            Datatype::Uint64 | Datatype::Int64 | Datatype::Fp64 => 8,
            Datatype::Bytes => return None,
        })
    }

    /// The datatype of a model input of this element type.
    pub fn of_input(dtype: InputDtype) -> Self {
        match dtype {
            InputDtype::F32 => Datatype::Fp32,
            InputDtype::F16 => Datatype::Fp16,
            InputDtype::Bf16 => Datatype::Bf16,
            InputDtype::I64 => Datatype::Int64,
            InputDtype::I32 => Datatype::Int32,
            InputDtype::U8 => Datatype::Uint8,
        }
    }

    /// The model input element type of this datatype; `None` where no model input has it.
    pub fn input_dtype(self) -> Option<InputDtype> {
        Some(match self {
            Datatype::Fp32 => InputDtype::F32,
            Datatype::Fp16 => InputDtype::F16,
            Datatype::Bf16 => InputDtype::Bf16,
            Datatype::Int64 => InputDtype::I64,
            Datatype::Int32 => InputDtype::I32,
            Datatype::Uint8 => InputDtype::U8,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Datatype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor's elements as the protocol carries them.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Fixed-size elements, little-endian, row-major, no padding.
    Fixed(Bytes),
    /// [`Datatype::Bytes`] elements, each its own byte string.
    Strings(Vec<Bytes>),
}

/// One named tensor of a request or response.
#[derive(Debug, Clone, PartialEq)]
pub struct WireTensor {
    /// The tensor's name (`input__0`, `output__0`, …).
    pub name: String,
    /// Element type.
    pub datatype: Datatype,
    /// Shape, outermost dimension first.
    pub shape: Vec<i64>,
    /// The elements.
    pub data: TensorData,
}

impl WireTensor {
    /// Elements the shape calls for; `None` for a negative dimension or an overflow.
    pub fn elements(shape: &[i64]) -> Option<usize> {
        shape.iter().try_fold(1usize, |n, &d| {
            usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
        })
    }

    /// Checks that the data holds exactly the elements the shape calls for.
    pub fn check(&self) -> Result<(), Refusal> {
        let shape = &self.shape;
        let expected = Self::elements(shape).ok_or_else(|| {
            Refusal::bad_request(format!(
                "input '{}': shape {shape:?} has a negative dimension",
                self.name
            ))
        })?;
        let (have, unit) = match (&self.data, self.datatype.element_bytes()) {
            (TensorData::Fixed(b), Some(size)) => {
                if b.len() % size != 0 {
                    return Err(Refusal::bad_request(format!(
                        "input '{}': {} bytes of data is not a whole number of {} elements",
                        self.name,
                        b.len(),
                        self.datatype
                    )));
                }
                (b.len() / size, "elements")
            }
            (TensorData::Strings(s), None) => (s.len(), "byte strings"),
            _ => {
                return Err(Refusal::bad_request(format!(
                    "input '{}': the data does not suit datatype {}",
                    self.name, self.datatype
                )))
            }
        };
        if have != expected {
            return Err(Refusal::bad_request(format!(
                "input '{}': shape {shape:?} needs {expected} {unit}, the data has {have}",
                self.name
            )));
        }
        Ok(())
    }
}

/// What kind of refusal, by the status the protocol gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Malformed body, wrong shape, datatype or name: HTTP 400, gRPC INVALID_ARGUMENT.
    BadRequest,
    /// Unknown model (or version): HTTP 404, gRPC NOT_FOUND.
    NotFound,
    /// A body over the server's limit: HTTP 413, gRPC RESOURCE_EXHAUSTED.
    TooLarge,
    /// Not ready, or shutting down: HTTP 503, gRPC UNAVAILABLE.
    Unavailable,
    /// The model or pipeline failed on a valid request: HTTP 500, gRPC INTERNAL.
    Internal,
}

/// A request the server will not (or cannot) answer, and why: the protocol's error
/// body is `{"error": message}` with the kind's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status class.
    pub kind: RefusalKind,
    /// What is wrong, for the client.
    pub message: String,
}

impl Refusal {
    /// A malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::BadRequest,
            message: message.into(),
        }
    }

    /// An unknown model.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::NotFound,
            message: message.into(),
        }
    }

    /// A body over the limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::TooLarge,
            message: message.into(),
        }
    }

    /// Not ready or stopping.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::Unavailable,
            message: message.into(),
        }
    }

    /// The server failed on a valid request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: RefusalKind::Internal,
            message: message.into(),
        }
    }

    /// The HTTP status code.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            RefusalKind::BadRequest => 400,
            RefusalKind::NotFound => 404,
            RefusalKind::TooLarge => 413,
            RefusalKind::Unavailable => 503,
            RefusalKind::Internal => 500,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatype_names_round_trip() {
        for (name, d) in Datatype::ALL {
            assert_eq!(Datatype::parse(name), Some(d));
            assert_eq!(d.name(), name);
        }
        assert_eq!(
            Datatype::parse("fp32"),
            None,
            "the protocol spells them upper case"
        );
    }

    #[test]
    fn a_shape_and_its_data_must_agree() {
        let t = WireTensor {
            name: "x".into(),
            datatype: Datatype::Fp32,
            shape: vec![2, 3],
            data: TensorData::Fixed(Bytes::from(vec![0u8; 24])),
        };
        t.check().unwrap();
        let short = WireTensor {
            data: TensorData::Fixed(Bytes::from(vec![0u8; 20])),
            ..t.clone()
        };
        let err = short.check().unwrap_err();
        assert!(
            err.message.contains("needs 6 elements, the data has 5"),
            "{err}"
        );
        let ragged = WireTensor {
            data: TensorData::Fixed(Bytes::from(vec![0u8; 23])),
            ..t.clone()
        };
        assert!(ragged.check().is_err());
        let negative = WireTensor {
            shape: vec![-1, 3],
            ..t
        };
        assert!(negative.check().unwrap_err().message.contains("negative"));
    }
}
