//! Where the model runs and in which number format: `--device` and `--precision`,
//! as the configuration, sweep files and reports spell them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The device weights, buffers and the forward live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The host CPU.
    #[default]
    Cpu,
    /// CUDA GPU with this ordinal (`cuda` is `cuda:0`).
    Cuda(u32),
}

impl DeviceSpec {
    /// Parses `cpu`, `cuda` or `cuda:N`.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| {
                    Error::config(
                        "device",
                        format!("'{other}': expected cpu, cuda or cuda:N (e.g. cuda:1)"),
                    )
                }),
        }
    }

    /// Whether this is a GPU.
    pub fn is_cuda(self) -> bool {
        matches!(self, Self::Cuda(_))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        Self::parse(&text)
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> Self {
        d.to_string()
    }
}

/// The number format of weights, inputs and activations. The model and the inputs
/// are cast once, before anything is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float.
    #[default]
    Fp32,
    /// IEEE half (seed 004's float16 experiment).
    Fp16,
    /// bfloat16.
    Bf16,
}

impl Precision {
    /// All precisions, in flag order.
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Fp16, Precision::Bf16];

    /// Parses `fp32`, `fp16` or `bf16`.
    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == text.trim())
            .ok_or_else(|| {
                Error::config(
                    "precision",
                    format!("'{text}': expected fp32, fp16 or bf16"),
                )
            })
    }

    /// The name used in flags, ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
        }
    }

    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            Precision::Fp32 => 4,
            Precision::Fp16 | Precision::Bf16 => 2,
        }
    }

    /// The libtorch element type.
    #[cfg(feature = "torch")]
    pub fn kind(self) -> tch::Kind {
        match self {
            Precision::Fp32 => tch::Kind::Float,
            Precision::Fp16 => tch::Kind::Half,
            Precision::Bf16 => tch::Kind::BFloat16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print_back() {
        for (text, device) in [
            ("cpu", DeviceSpec::Cpu),
            ("cuda", DeviceSpec::Cuda(0)),
            ("cuda:3", DeviceSpec::Cuda(3)),
        ] {
            assert_eq!(DeviceSpec::parse(text).unwrap(), device);
        }
        assert_eq!(DeviceSpec::Cuda(3).to_string(), "cuda:3");
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU0"] {
            let err = DeviceSpec::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("device") && err.contains("cuda:N"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn devices_round_trip_through_serde() {
        let json = serde_json::to_string(&DeviceSpec::Cuda(1)).unwrap();
        assert_eq!(json, "\"cuda:1\"");
        assert_eq!(
            serde_json::from_str::<DeviceSpec>(&json).unwrap(),
            DeviceSpec::Cuda(1)
        );
        assert!(serde_json::from_str::<DeviceSpec>("\"tpu\"").is_err());
    }

    #[test]
    fn precisions_parse_by_name() {
        for p in Precision::ALL {
            assert_eq!(Precision::parse(p.name()).unwrap(), p);
        }
        let err = Precision::parse("fp8").unwrap_err().to_string();
        assert!(err.contains("precision") && err.contains("fp16"), "{err}");
        assert_eq!(Precision::Bf16.bytes(), 2);
    }
}
