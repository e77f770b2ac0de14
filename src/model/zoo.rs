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
        /// Time added per sample of the batch (`spin:1ms+250us-per-sample`), so that
        /// a grid over batch sizes has a known best; 0 for the plain spin model.
        #[serde(default, skip_serializing_if = "is_zero")]
        per_sample_us: u64,
        /// Time added to each forward per second since the model was built
        /// (`spin:1ms+drift-1ms-per-s`): a deliberately drifting server, which a
        /// run until stable must report as unsettled. 0 for the plain spin model.
        #[serde(default, skip_serializing_if = "is_zero")]
        drift_us_per_s: u64,
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
                Some(spec) => parse_spin(spec),
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
            Self::Spin {
                per_batch_us,
                per_sample_us,
                drift_us_per_s,
            } => {
                let mut name = format!("spin:{per_batch_us}us");
                if *per_sample_us > 0 {
                    name.push_str(&format!("+{per_sample_us}us{PER_SAMPLE}"));
                }
                if *drift_us_per_s > 0 {
                    name.push_str(&format!("{DRIFT}{drift_us_per_s}us{PER_SECOND}"));
                }
                name
            }
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

    /// Busy-wait per forward, for the synthetic model: per batch, per sample, and
    /// the drift per second.
    pub fn spin_time(&self) -> Option<(Duration, Duration, Duration)> {
        match self {
            Self::Spin {
                per_batch_us,
                per_sample_us,
                drift_us_per_s,
            } => Some((
                Duration::from_micros(*per_batch_us),
                Duration::from_micros(*per_sample_us),
                Duration::from_micros(*drift_us_per_s),
            )),
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

/// The suffix of a per-sample cost: `spin:1ms+250us-per-sample`.
const PER_SAMPLE: &str = "-per-sample";
/// The prefix of a drift: `spin:1ms+drift-1ms-per-s` (no `/`, which ids use as a separator).
const DRIFT: &str = "+drift-";
/// The suffix of a drift.
const PER_SECOND: &str = "-per-s";

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `<duration>[+<duration>-per-sample][+drift-<duration>-per-s]`, after `spin:`.
fn parse_spin(spec: &str) -> Result<Architecture> {
    let syntax = "the spin model is spin:<duration>[+<duration>-per-sample][+drift-<duration>-per-s], e.g. spin:2ms, spin:1ms+250us-per-sample, spin:1ms+drift-1ms-per-s";
    let bad = |what: &str| Error::config("model", format!("spin:{spec}: {what} ({syntax})"));
    let duration = |text: &str| {
        parse_duration_us("model", text).map_err(|e| match e {
            Error::Config { reason, .. } => bad(&reason),
            other => other,
        })
    };
    let (rest, drift) = match spec.split_once(DRIFT) {
        Some((rest, drift)) => match drift.strip_suffix(PER_SECOND) {
            Some(d) => (rest, duration(d)?),
            None => return Err(bad("a drift must end in -per-s")),
        },
        None => (spec, 0),
    };
    let (base, per_sample) = match rest.split_once('+') {
        Some((base, extra)) => match extra.strip_suffix(PER_SAMPLE) {
            Some(d) => (base, duration(d)?),
            None => {
                return Err(bad(&format!(
                    "'+{extra}' is neither a per-sample cost nor a drift"
                )))
            }
        },
        None => (rest, 0),
    };
    Ok(Architecture::Spin {
        per_batch_us: duration(base)?,
        per_sample_us: per_sample,
        drift_us_per_s: drift,
    })
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
            "spin:1000us+250us-per-sample",
            "spin:1000us+drift-1000us-per-s",
            "spin:1000us+10us-per-sample+drift-5us-per-s",
        ] {
            assert_eq!(Architecture::parse(name).unwrap().name(), name);
        }
        assert_eq!(
            Architecture::parse("spin:2ms").unwrap(),
            Architecture::Spin {
                per_batch_us: 2000,
                per_sample_us: 0,
                drift_us_per_s: 0
            }
        );
        assert_eq!(
            Architecture::parse("spin:1ms+250us-per-sample+drift-2ms-per-s").unwrap(),
            Architecture::Spin {
                per_batch_us: 1000,
                per_sample_us: 250,
                drift_us_per_s: 2000
            }
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
        for bad in [
            "spin:1ms+250us",
            "spin:1ms+drift-1ms",
            "spin:1ms+x-per-sample",
        ] {
            let err = Architecture::parse(bad).unwrap_err().to_string();
            assert!(err.contains("-per-sample"), "{bad}: {err}");
        }
    }
}
