//! Forward cost of the zoo's models, counted from their layer shapes, for the
//! theoretical maximum throughput (peak FLOP/s ÷ FLOPs per sample).
//!
//! Counted: convolutions and the classifier, 2 FLOPs per multiply-add. Left out:
//! batch norm, ReLU, pooling and residual additions, which are under 1 % of
//! ResNet-18's cost and run at memory speed rather than GEMM speed anyway.

use super::Architecture;
use crate::config::ModelConfig;

/// Output side of a convolution or pooling window.
fn out_side(side: u64, kernel: u64, stride: u64, padding: u64) -> u64 {
    (side + 2 * padding).saturating_sub(kernel) / stride + 1
}

/// Multiply-adds of a square convolution, and its output side.
fn conv_macs(side: u64, c_in: u64, c_out: u64, kernel: u64, stride: u64, pad: u64) -> (u64, u64) {
    let out = out_side(side, kernel, stride, pad);
    (out * out * c_out * c_in * kernel * kernel, out)
}

/// Multiply-adds of one ResNet-18 forward on a `side` × `side` image.
pub fn resnet18_macs(side: u32, classes: u64) -> u64 {
    let (mut macs, mut s) = conv_macs(side as u64, 3, 64, 7, 2, 3);
    s = out_side(s, 3, 2, 1); // max pool
    let mut c_in = 64;
    for (stage, c) in [64u64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let (m1, s1) = conv_macs(s, c_in, c, 3, stride, 1);
            let (m2, _) = conv_macs(s1, c, c, 3, 1, 1);
            macs += m1 + m2;
            if stride != 1 || c_in != c {
                macs += conv_macs(s, c_in, c, 1, stride, 0).0; // downsample
            }
            s = s1;
            c_in = c;
        }
    }
    macs + 512 * classes
}

/// Multiply-adds of the tiny CNN: one 3×3 convolution to 8 channels, then the classifier.
pub fn tiny_cnn_macs(side: u32, classes: u64) -> u64 {
    conv_macs(side as u64, 3, 8, 3, 1, 1).0 + 8 * classes
}

/// Multiply-adds of one MobileNetV3-Small forward: the convolutions (depthwise ones
/// at one input channel per output), the squeeze-excitation layers and the classifier.
pub fn mobilenet_v3_small_macs(side: u32, classes: u64) -> u64 {
    let (mut macs, mut s) = conv_macs(side as u64, 3, 16, 3, 2, 1);
    for &(cin, k, expanded, cout, se, _, stride) in super::mobilenet::blocks() {
        let (cin, k, expanded, cout) = (cin as u64, k as u64, expanded as u64, cout as u64);
        if expanded != cin {
            macs += conv_macs(s, cin, expanded, 1, 1, 0).0;
        }
        let (depthwise, out) = conv_macs(s, 1, expanded, k, stride as u64, (k - 1) / 2);
        macs += depthwise;
        if se {
            macs += 2 * expanded * super::mobilenet::squeeze_channels(expanded as i64) as u64;
        }
        macs += conv_macs(out, expanded, cout, 1, 1, 0).0;
        s = out;
    }
    let (last_conv, hidden) = super::mobilenet::head_widths();
    let (last_conv, hidden) = (last_conv as u64, hidden as u64);
    macs + conv_macs(s, 96, last_conv, 1, 1, 0).0 + last_conv * hidden + hidden * classes
}

impl Architecture {
    /// GFLOP of one sample's forward (`model` gives the image size or the sequence
    /// length); `None` for the spin model, which computes nothing.
    pub fn gflop_per_sample(&self, model: &ModelConfig) -> Option<f64> {
        let classes = self.num_classes() as u64;
        let side = model.image_size;
        let macs = match self {
            Self::Resnet18 => resnet18_macs(side, classes),
            Self::TinyCnn => tiny_cnn_macs(side, classes),
            Self::MobilenetV3Small => mobilenet_v3_small_macs(side, classes),
            Self::TinyTransformer => {
                let seq = model.input_specs().first()?.shape.first().copied()?;
                super::transformer::macs(seq as u64)
            }
            Self::Spin { .. } => return None,
        };
        Some(2.0 * macs as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_at_224_px_is_the_published_1_82_gmacs() {
        // torchvision's model card: 1.81 GFLOPS, counted as multiply-adds.
        let gmacs = resnet18_macs(224, 1000) as f64 / 1e9;
        assert!((gmacs - 1.814).abs() < 0.01, "{gmacs}");
    }

    #[test]
    fn cost_scales_with_the_pixels() {
        let small = resnet18_macs(32, 1000) as f64;
        let large = resnet18_macs(64, 1000) as f64;
        // Convolutions scale with the area; the classifier does not.
        assert!(
            (large / small) > 3.5 && (large / small) < 4.0,
            "{}",
            large / small
        );
        assert_eq!(tiny_cnn_macs(16, 10), 16 * 16 * 8 * 27 + 80);
    }

    #[test]
    fn the_spin_model_has_no_cost() {
        let at = |px| ModelConfig {
            image_size: px,
            ..ModelConfig::default()
        };
        assert_eq!(
            Architecture::parse("spin:100us")
                .unwrap()
                .gflop_per_sample(&at(32)),
            None
        );
        let g = Architecture::Resnet18.gflop_per_sample(&at(224)).unwrap();
        assert!((g - 3.63).abs() < 0.02, "{g}");
    }

    #[test]
    fn mobilenet_at_224_px_is_the_published_0_06_gmacs() {
        // torchvision's model card: 0.06 GFLOPS (multiply-adds), 56.5 M by other counts.
        let gmacs = mobilenet_v3_small_macs(224, 1000) as f64 / 1e9;
        assert!((0.055..0.062).contains(&gmacs), "{gmacs}");
    }

    #[test]
    fn the_transformer_costs_its_sequence() {
        let cfg = ModelConfig {
            name: "tiny-transformer".into(),
            ..ModelConfig::default()
        };
        let g = Architecture::TinyTransformer
            .gflop_per_sample(&cfg)
            .unwrap();
        assert_eq!(g, 2.0 * crate::model::transformer::macs(128) as f64 / 1e9);
        assert_eq!(
            cfg.token_input(),
            Some(crate::model::transformer::DEFAULT_INPUT)
        );
    }
}
