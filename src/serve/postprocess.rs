//! Post-processing, the last stage before a response is encoded: the model's raw
//! output as it is, or turned into class probabilities (softmax) or the top-k
//! classes with their probabilities, as image classifiers behind the seeds' servers
//! answer. Timed as a stage of its own.

use tch::{Kind, Tensor};

use super::signature::OutputSlot;
use crate::error::{Error, Result};
use crate::oip::torch::from_torch;
use crate::oip::{Datatype, WireTensor};

/// What the server does with the model's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Postprocess {
    /// The output as the model returns it (`output__0`).
    None,
    /// Class probabilities over the last dimension (`probabilities`, FP32).
    Softmax,
    /// The k most probable classes (`classes`, INT64) and their probabilities
    /// (`scores`, FP32), most probable first.
    TopK(u32),
}

impl Postprocess {
    /// Parses `none`, `softmax` or `topk:K`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::config(
                "postprocess",
                format!("'{text}': expected none, softmax or topk:K (e.g. topk:5)"),
            )
        };
        match text.trim() {
            "none" => Ok(Self::None),
            "softmax" => Ok(Self::Softmax),
            other => match other.split_once(':') {
                Some(("topk", k)) => match k.parse::<u32>() {
                    Ok(k) if k >= 1 => Ok(Self::TopK(k)),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            },
        }
    }

    /// The name used in flags and reports.
    pub fn name(self) -> String {
        match self {
            Self::None => "none".into(),
            Self::Softmax => "softmax".into(),
            Self::TopK(k) => format!("topk:{k}"),
        }
    }

    /// The outputs clients receive for a model whose one sample's output is
    /// `per_sample` of `datatype`; an error when the model's output does not suit
    /// (softmax and top-k need one score per class: a `[classes]` sample).
    pub fn outputs(self, datatype: Datatype, per_sample: &[i64]) -> Result<Vec<OutputSlot>> {
        let classes = match (self, per_sample) {
            (Self::None, _) => {
                return Ok(vec![OutputSlot {
                    name: "output__0".into(),
                    datatype,
                    per_sample: per_sample.to_vec(),
                }])
            }
            (_, [c]) => *c,
            (_, other) => {
                return Err(Error::config(
                    "postprocess",
                    format!(
                        "{} needs a model that answers one score per class, [N, classes]; this one answers [N, {}]",
                        self.name(),
                        other.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        };
        let slot = |name: &str, datatype, n| OutputSlot {
            name: name.into(),
            datatype,
            per_sample: vec![n],
        };
        Ok(match self {
            Self::None => unreachable!("handled above"),
            Self::Softmax => vec![slot("probabilities", Datatype::Fp32, classes)],
            Self::TopK(k) if k as i64 > classes => {
                return Err(Error::config(
                    "postprocess",
                    format!("topk:{k} asks for more classes than the model's {classes}"),
                ))
            }
            Self::TopK(k) => vec![
                slot("classes", Datatype::Int64, k as i64),
                slot("scores", Datatype::Fp32, k as i64),
            ],
        })
    }

    /// The response's tensors for one request's host output `[samples, ...]`.
    pub fn apply(self, output: &Tensor) -> Result<Vec<WireTensor>> {
        match self {
            Self::None => Ok(vec![from_torch("output__0", output)?]),
            Self::Softmax => {
                let p = output.f_softmax(-1, Kind::Float)?;
                Ok(vec![from_torch("probabilities", &p)?])
            }
            Self::TopK(k) => {
                let p = output.f_softmax(-1, Kind::Float)?;
                let (scores, classes) = p.f_topk(k as i64, -1, true, true)?;
                Ok(vec![
                    from_torch("classes", &classes)?,
                    from_torch("scores", &scores)?,
                ])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oip::convert::to_f64;
    use crate::oip::TensorData;

    fn values(t: &WireTensor) -> Vec<f64> {
        let TensorData::Fixed(b) = &t.data else {
            panic!("fixed data")
        };
        to_f64(t.datatype, b).unwrap()
    }

    #[test]
    fn softmax_and_top_k_answer_as_a_classifier_does() {
        let logits = Tensor::from_slice(&[0.0f32, 2.0, 1.0, 5.0, 0.0, 0.0]).view([2, 3]);
        let [p] =
            <[WireTensor; 1]>::try_from(Postprocess::Softmax.apply(&logits).unwrap()).unwrap();
        let p = values(&p);
        assert!((p[..3].iter().sum::<f64>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0]);
        let [classes, scores] =
            <[WireTensor; 2]>::try_from(Postprocess::TopK(2).apply(&logits).unwrap()).unwrap();
        assert_eq!(classes.shape, vec![2, 2]);
        assert_eq!(values(&classes), vec![1.0, 2.0, 0.0, 1.0]);
        let s = values(&scores);
        assert!(s[0] > s[1] && (s[0] - p[1]).abs() < 1e-6);
    }

    #[test]
    fn flags_and_output_shapes_are_checked() {
        assert_eq!(Postprocess::parse("topk:5").unwrap(), Postprocess::TopK(5));
        for bad in ["topk:0", "topk", "top5", "max"] {
            assert!(Postprocess::parse(bad).is_err(), "{bad}");
        }
        let err = Postprocess::TopK(20)
            .outputs(Datatype::Fp32, &[10])
            .unwrap_err();
        assert!(err.to_string().contains("more classes"), "{err}");
        let err = Postprocess::Softmax
            .outputs(Datatype::Fp32, &[4, 4])
            .unwrap_err();
        assert!(err.to_string().contains("[N, 4, 4]"), "{err}");
        let raw = Postprocess::None.outputs(Datatype::Fp16, &[4, 4]).unwrap();
        assert_eq!(raw[0].per_sample, vec![4, 4]);
    }
}
