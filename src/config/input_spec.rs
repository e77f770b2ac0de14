//! One model input as the user states it (`--input`, `inputs = [...]` in a sweep file):
//! the shape of one sample without the batch dimension, the element type, and the
//! range values are drawn from.
//!
//! ```text
//! 3x224x224:f32          images: standard normal values
//! 128:i64:0..30522       token ids: integers drawn uniformly from [0, 30522)
//! 16x16:f16:-1..1        uniform in [-1, 1)
//! ```
//!
//! Parsed here, before anything is loaded, so that a typo is an error naming the
//! spec and the part that is wrong rather than a libtorch message from the warm-up.
//! A run without specs has one input, `3 × image_size × image_size` in the run's
//! precision ([`InputSpec::image`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Element types an input may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputDtype {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16.
    Bf16,
    /// 64-bit integer (token ids, indices).
    I64,
    /// 32-bit integer.
    I32,
    /// Unsigned byte (raw pixels).
    U8,
}

impl InputDtype {
    const ALL: [(&'static str, InputDtype); 6] = [
        ("f32", InputDtype::F32),
        ("f16", InputDtype::F16),
        ("bf16", InputDtype::Bf16),
        ("i64", InputDtype::I64),
        ("i32", InputDtype::I32),
        ("u8", InputDtype::U8),
    ];

    /// The spelling in specs.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, d)| *d == self)
            .map(|(n, _)| *n)
            .expect("every dtype has a name")
    }

    /// Bytes of one element.
    pub fn bytes(self) -> u64 {
        match self {
            InputDtype::F32 | InputDtype::I32 => 4,
            InputDtype::F16 | InputDtype::Bf16 => 2,
            InputDtype::I64 => 8,
            InputDtype::U8 => 1,
        }
    }

    /// libtorch's element type.
    #[cfg(feature = "torch")]
    pub fn kind(self) -> tch::Kind {
        match self {
            InputDtype::F32 => tch::Kind::Float,
            InputDtype::F16 => tch::Kind::Half,
            InputDtype::Bf16 => tch::Kind::BFloat16,
            InputDtype::I64 => tch::Kind::Int64,
            InputDtype::I32 => tch::Kind::Int,
            InputDtype::U8 => tch::Kind::Uint8,
        }
    }

    /// Whether values are integers (drawn from a range, which is then required).
    pub fn is_integer(self) -> bool {
        matches!(self, InputDtype::I64 | InputDtype::I32 | InputDtype::U8)
    }
}

/// Where values are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ValueRange {
    /// Standard normal (floats only; the default for floats).
    Normal,
    /// Uniform in `[lo, hi)`.
    Uniform {
        /// Inclusive lower bound.
        lo: f64,
        /// Exclusive upper bound.
        hi: f64,
    },
}

/// One input of the model, per sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InputSpec {
    /// Shape of one sample, without the batch dimension.
    pub shape: Vec<i64>,
    /// Element type.
    pub dtype: InputDtype,
    /// Value distribution.
    pub range: ValueRange,
}

impl InputSpec {
    /// Elements in one sample.
    pub fn elements(&self) -> i64 {
        self.shape.iter().product()
    }

    /// The built-in vision models' input: a `3 × side × side` image of standard
    /// normal values in `precision`.
    pub fn image(side: u32, precision: super::Precision) -> Self {
        Self {
            shape: vec![3, side as i64, side as i64],
            dtype: match precision {
                super::Precision::Fp32 => InputDtype::F32,
                super::Precision::Fp16 => InputDtype::F16,
                super::Precision::Bf16 => InputDtype::Bf16,
            },
            range: ValueRange::Normal,
        }
    }

    /// Bytes of one sample.
    pub fn bytes_per_sample(&self) -> u64 {
        self.elements() as u64 * self.dtype.bytes()
    }

    /// The shape of `batch` samples: `[batch, ...shape]`.
    pub fn batched(&self, batch: u32) -> Vec<i64> {
        std::iter::once(batch as i64)
            .chain(self.shape.iter().copied())
            .collect()
    }
}

impl FromStr for InputSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::config(
                "input",
                format!("'{text}': {why}; expected SHAPE:DTYPE[:LO..HI], e.g. 3x224x224:f32 or 128:i64:0..30522"),
            )
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let (dims, dtype, range) = match parts.as_slice() {
            [dims, dtype] => (*dims, *dtype, None),
            [dims, dtype, range] => (*dims, *dtype, Some(*range)),
            _ => return Err(bad("not two or three ':'-separated parts".into())),
        };
        let shape = dims
            .split('x')
            .map(|d| match d.trim().parse::<i64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(bad(format!(
                    "dimension '{d}' is not a positive integer (dimensions are separated by 'x')"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let dtype = InputDtype::ALL
            .iter()
            .find(|(n, _)| *n == dtype.trim())
            .map(|(_, d)| *d)
            .ok_or_else(|| {
                let known: Vec<&str> = InputDtype::ALL.iter().map(|(n, _)| *n).collect();
                bad(format!(
                    "unknown dtype '{dtype}' (known: {})",
                    known.join(", ")
                ))
            })?;
        let range = match range {
            None if dtype.is_integer() => {
                return Err(bad(format!(
                    "an {} input needs a value range, e.g. :0..1000",
                    dtype.name()
                )))
            }
            None => ValueRange::Normal,
            Some(r) => {
                let (lo, hi) = r
                    .split_once("..")
                    .ok_or_else(|| bad(format!("range '{r}' is not LO..HI")))?;
                let num = |s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| bad(format!("range bound '{s}' is not a number")))
                };
                let (lo, hi) = (num(lo)?, num(hi)?);
                if lo >= hi {
                    return Err(bad(format!(
                        "range {lo}..{hi} is empty (LO must be below HI)"
                    )));
                }
                if dtype.is_integer() && (lo.fract() != 0.0 || hi.fract() != 0.0) {
                    return Err(bad(format!(
                        "an {} range needs integer bounds",
                        dtype.name()
                    )));
                }
                ValueRange::Uniform { lo, hi }
            }
        };
        Ok(Self {
            shape,
            dtype,
            range,
        })
    }
}

impl fmt::Display for InputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        write!(f, "{}:{}", dims.join("x"), self.dtype.name())?;
        if let ValueRange::Uniform { lo, hi } = self.range {
            write!(f, ":{lo}..{hi}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for InputSpec {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

impl From<InputSpec> for String {
    fn from(spec: InputSpec) -> Self {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_token_ids_parse_and_print_back() {
        let image: InputSpec = "3x224x224:f32".parse().unwrap();
        assert_eq!(image.shape, vec![3, 224, 224]);
        assert_eq!(
            (image.dtype, image.range),
            (InputDtype::F32, ValueRange::Normal)
        );
        assert_eq!(image.elements(), 3 * 224 * 224);
        let ids: InputSpec = "128:i64:0..30522".parse().unwrap();
        assert_eq!(ids.shape, vec![128]);
        assert_eq!(
            ids.range,
            ValueRange::Uniform {
                lo: 0.0,
                hi: 30522.0
            }
        );
        for text in ["3x224x224:f32", "128:i64:0..30522", "16x16:f16:-1..1"] {
            assert_eq!(text.parse::<InputSpec>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_specs_name_the_spec_and_the_wrong_part() {
        for (text, needle) in [
            ("3x224x224", "not two or three"),
            ("3x0x224:f32", "dimension '0'"),
            ("3xx224:f32", "dimension ''"),
            (
                "3x224:f33",
                "unknown dtype 'f33' (known: f32, f16, bf16, i64, i32, u8)",
            ),
            ("128:i64", "needs a value range"),
            ("128:i64:5..5", "is empty"),
            ("128:i64:0..1.5", "integer bounds"),
            ("128:f32:a..1", "bound 'a'"),
            ("128:f32:0-1", "not LO..HI"),
        ] {
            let err = text.parse::<InputSpec>().unwrap_err().to_string();
            assert!(err.contains(text) && err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_sweep_file_reads_specs_as_strings() {
        #[derive(Deserialize, Serialize)]
        struct T {
            inputs: Vec<InputSpec>,
        }
        let t: T = toml::from_str("inputs = [\"128:i64:0..30522\", \"128:i64:0..2\"]").unwrap();
        assert_eq!(t.inputs.len(), 2);
        assert!(toml::from_str::<T>("inputs = [\"128:i64\"]").is_err());
    }
}
