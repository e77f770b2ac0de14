//! The model zoo: architectures by name, each built on a tch `VarStore` path.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tch::nn::{self, FuncT, ModuleT};

use crate::config::parse_duration_us;
use crate::error::{Error, Result};

/// A model the tool knows how to build.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// tch's vision ResNet-18, 1000 classes (as in the seeds).
    Resnet18,
    /// A one-convolution CNN small enough to commit as a test fixture.
    TinyCnn,
    /// torchvision's MobileNetV3-Small, 1000 classes (seed 002).
    #[serde(rename = "mobilenet_v3_small")]
    MobilenetV3Small,
    /// Seed 002's tiny transformer over token ids (256-dim, 4 layers, 4 heads).
    TinyTransformer,
    /// No weights: each forward busy-waits a fixed time per batch. For calibration.
    Spin {
        /// Time one forward takes, whatever the batch size.
        per_batch_us: u64,
    },
}

impl Architecture {
    /// Parses `resnet18`, `tiny-cnn`, `mobilenet_v3_small`, `tiny-transformer` (also
    /// `tiny_transformer`, the seed's spelling) or `spin:<duration>`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim() {
            "resnet18" => Ok(Self::Resnet18),
            "tiny-cnn" => Ok(Self::TinyCnn),
            "mobilenet_v3_small" => Ok(Self::MobilenetV3Small),
            "tiny-transformer" | "tiny_transformer" => Ok(Self::TinyTransformer),
            other => match other.strip_prefix("spin:") {
                Some(duration) => Ok(Self::Spin {
                    per_batch_us: parse_duration_us("model", duration).map_err(|e| match e {
                        Error::Config { reason, .. } => Error::config(
                            "model",
                            format!(
                                "spin:{reason} (the spin model is spin:<duration>, e.g. spin:2ms)"
                            ),
                        ),
                        other => other,
                    })?,
                }),
                None => Err(Error::UnknownModel {
                    name: other.to_string(),
                }),
            },
        }
    }

    /// The name as `parse` accepts it.
    pub fn name(&self) -> String {
        match self {
            Self::Resnet18 => "resnet18".into(),
            Self::TinyCnn => "tiny-cnn".into(),
            Self::MobilenetV3Small => "mobilenet_v3_small".into(),
            Self::TinyTransformer => "tiny-transformer".into(),
            Self::Spin { per_batch_us } => format!("spin:{per_batch_us}us"),
        }
    }

    /// Output classes.
    pub fn num_classes(&self) -> i64 {
        match self {
            Self::Resnet18 | Self::MobilenetV3Small => 1000,
            Self::TinyTransformer => super::transformer::CLASSES,
            Self::TinyCnn | Self::Spin { .. } => 10,
        }
    }

    /// Whether the model takes images (`3 × image-size × image-size`); else token ids.
    pub fn takes_images(&self) -> bool {
        !matches!(self, Self::TinyTransformer)
    }

    /// Whether the model has weights (and so a checkpoint and a traceable forward).
    pub fn has_weights(&self) -> bool {
        !matches!(self, Self::Spin { .. })
    }

    /// Busy-wait per forward, for the synthetic model.
    pub fn spin_time(&self) -> Option<Duration> {
        match self {
            Self::Spin { per_batch_us } => Some(Duration::from_micros(*per_batch_us)),
            _ => None,
        }
    }

    /// Builds the network's variables under `path` (randomly initialised by libtorch's
    /// generator) and returns its forward. `None` for models without weights.
    pub fn build(&self, path: &nn::Path) -> Option<FuncT<'static>> {
        match self {
            Self::Resnet18 => Some(tch::vision::resnet::resnet18(path, self.num_classes())),
            Self::TinyCnn => Some(tiny_cnn(path, self.num_classes())),
            Self::MobilenetV3Small => Some(super::mobilenet::mobilenet_v3_small(
                path,
                self.num_classes(),
            )),
            Self::TinyTransformer => Some(super::transformer::tiny_transformer(path)),
            Self::Spin { .. } => None,
        }
    }
}

fn tiny_cnn(p: &nn::Path, classes: i64) -> FuncT<'static> {
    let conv_cfg = nn::ConvConfig {
        padding: 1,
        ..Default::default()
    };
    let conv = nn::conv2d(p / "conv", 3, 8, 3, conv_cfg);
    let fc = nn::linear(p / "fc", 8, classes, Default::default());
    nn::func_t(move |x, train| {
        x.apply_t(&conv, train)
            .relu()
            .adaptive_avg_pool2d([1, 1])
            .flat_view()
            .apply_t(&fc, train)
    })
}

/// Calls a built network in inference mode.
pub fn infer(net: &FuncT<'static>, input: &tch::Tensor) -> tch::Tensor {
    net.forward_t(input, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "resnet18",
            "tiny-cnn",
            "mobilenet_v3_small",
            "tiny-transformer",
            "spin:2000us",
        ] {
            assert_eq!(Architecture::parse(name).unwrap().name(), name);
        }
        assert_eq!(
            Architecture::parse("spin:2ms").unwrap(),
            Architecture::Spin { per_batch_us: 2000 }
        );
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let err = Architecture::parse("resnet1000").unwrap_err().to_string();
        assert!(
            err.contains("resnet1000") && err.contains("resnet18") && err.contains("spin:"),
            "{err}"
        );
        assert!(Architecture::parse("spin:fast")
            .unwrap_err()
            .to_string()
            .contains("spin:2ms"));
    }
}
