//! An answer read off the wire, decoded only after its read is stamped, and the
//! check every answer passes: a server answering errors or nonsense cannot pass
//! for a fast one.

use bytes::Bytes;

use crate::oip::binary::decode_response;
use crate::oip::grpc::response_outputs;
use crate::oip::WireTensor;

/// An answer read off the wire, not yet decoded.
pub enum Answer {
    /// A REST body.
    Http {
        /// The body.
        body: Bytes,
        /// `Inference-Header-Content-Length`, when binary data follows the JSON.
        header_len: Option<usize>,
    },
    /// A gRPC response message.
    Grpc(crate::oip::grpc::ModelInferResponse),
}

impl Answer {
    /// The answer's outputs; an error says what is malformed.
    pub fn outputs(self) -> std::result::Result<Vec<WireTensor>, String> {
        let decoded = match self {
            Answer::Http { body, header_len } => decode_response(&body, header_len).map(|(_, o)| o),
            Answer::Grpc(message) => response_outputs(message),
        };
        decoded.map_err(|r| format!("the answer is malformed: {r}"))
    }
}

/// Checks an answer: at least one output, each with one row per sample of the request.
pub fn check_answer(outputs: &[WireTensor], samples: u32) -> std::result::Result<(), String> {
    if outputs.is_empty() {
        return Err("the answer has no outputs".into());
    }
    for o in outputs {
        match o.shape.first() {
            Some(&rows) if rows == samples as i64 => {}
            _ => {
                return Err(format!(
                    "output '{}' has shape {:?} for a request of {samples} samples",
                    o.name, o.shape
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oip::{Datatype, TensorData};

    #[test]
    fn an_answer_needs_one_row_per_sample_in_every_output() {
        let out = |shape: Vec<i64>| WireTensor {
            name: "o".into(),
            datatype: Datatype::Fp32,
            shape,
            data: TensorData::Fixed(Bytes::new()),
        };
        assert!(check_answer(&[out(vec![4, 10])], 4).is_ok());
        assert!(check_answer(&[out(vec![1, 10])], 4)
            .unwrap_err()
            .contains("4 samples"));
        assert!(check_answer(&[], 4).unwrap_err().contains("no outputs"));
        assert!(check_answer(&[out(vec![])], 1).is_err());
    }
}
