//! MobileNetV3-Small (Howard et al., 2019) as torchvision builds it
//! (`torchvision.models.mobilenet_v3_small`): the same layers, in the same order,
//! under the same variable names, so a torchvision state dict loads into it and the
//! AOTInductor export (`scripts/aoti-export.py`) loads its weights into torchvision's.

use tch::nn::{self, FuncT};
use tch::Tensor;

/// One inverted-residual block: input, kernel, expanded, output channels, whether it
/// has squeeze-excitation, whether it uses hard-swish (else ReLU), stride.
type Bneck = (i64, i64, i64, i64, bool, bool, i64);

/// torchvision's `inverted_residual_setting` for the small model.
const BLOCKS: [Bneck; 11] = [
    (16, 3, 16, 16, true, false, 2),
    (16, 3, 72, 24, false, false, 2),
    (24, 3, 88, 24, false, false, 1),
    (24, 5, 96, 40, true, true, 2),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 120, 48, true, true, 1),
    (48, 5, 144, 48, true, true, 1),
    (48, 5, 288, 96, true, true, 2),
    (96, 5, 576, 96, true, true, 1),
    (96, 5, 576, 96, true, true, 1),
];
const LAST_CONV: i64 = 576;
const LAST_CHANNEL: i64 = 1024;

/// The blocks, for the FLOP count.
pub(super) fn blocks() -> &'static [Bneck] {
    &BLOCKS
}

/// Channels of the last convolution and the classifier's hidden layer.
pub(super) fn head_widths() -> (i64, i64) {
    (LAST_CONV, LAST_CHANNEL)
}

/// torchvision's `_make_divisible(v, 8)`: the squeeze width of an SE block.
pub(super) fn squeeze_channels(expanded: i64) -> i64 {
    let v = expanded / 4;
    let rounded = ((v + 4) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * v as f64 {
        rounded + 8
    } else {
        rounded
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Act {
    None,
    Relu,
    Hardswish,
}

impl Act {
    fn apply(self, x: Tensor) -> Tensor {
        match self {
            Act::None => x,
            Act::Relu => x.relu(),
            Act::Hardswish => x.hardswish(),
        }
    }
}

/// `Conv2dNormActivation`: convolution without bias (`0`), batch norm (`1`), activation.
fn conv_bn(
    p: &nn::Path,
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
    groups: i64,
    act: Act,
) -> FuncT<'static> {
    let conv = nn::conv2d(
        p / "0",
        cin,
        cout,
        k,
        nn::ConvConfig {
            stride,
            padding: (k - 1) / 2,
            groups,
            bias: false,
            ..Default::default()
        },
    );
    let bn = nn::batch_norm2d(
        p / "1",
        cout,
        nn::BatchNormConfig {
            eps: 1e-3,
            momentum: 0.01,
            ..Default::default()
        },
    );
    nn::func_t(move |x, train| act.apply(x.apply(&conv).apply_t(&bn, train)))
}

/// `SqueezeExcitation`: pooled → `fc1` → ReLU → `fc2` → hard-sigmoid, scaling the input.
fn squeeze_excitation(p: &nn::Path, channels: i64) -> FuncT<'static> {
    let squeeze = squeeze_channels(channels);
    let fc1 = nn::conv2d(p / "fc1", channels, squeeze, 1, Default::default());
    let fc2 = nn::conv2d(p / "fc2", squeeze, channels, 1, Default::default());
    nn::func_t(move |x, _| {
        let scale = x
            .adaptive_avg_pool2d([1, 1])
            .apply(&fc1)
            .relu()
            .apply(&fc2)
            .hardsigmoid();
        x * scale
    })
}

fn inverted_residual(p: &nn::Path, block: Bneck) -> FuncT<'static> {
    let (cin, k, expanded, cout, se, hardswish, stride) = block;
    let act = if hardswish { Act::Hardswish } else { Act::Relu };
    let p = p / "block";
    let mut layers: Vec<FuncT<'static>> = Vec::new();
    if expanded != cin {
        layers.push(conv_bn(&(&p / layers.len()), cin, expanded, 1, 1, 1, act));
    }
    layers.push(conv_bn(
        &(&p / layers.len()),
        expanded,
        expanded,
        k,
        stride,
        expanded,
        act,
    ));
    if se {
        layers.push(squeeze_excitation(&(&p / layers.len()), expanded));
    }
    layers.push(conv_bn(
        &(&p / layers.len()),
        expanded,
        cout,
        1,
        1,
        1,
        Act::None,
    ));
    let residual = stride == 1 && cin == cout;
    nn::func_t(move |x, train| {
        let y = layers
            .iter()
            .fold(x.shallow_clone(), |y, l| y.apply_t(l, train));
        if residual {
            y + x
        } else {
            y
        }
    })
}

/// MobileNetV3-Small with `classes` outputs, its variables under `p`.
pub fn mobilenet_v3_small(p: &nn::Path, classes: i64) -> FuncT<'static> {
    let f = p / "features";
    let mut features = vec![conv_bn(&(&f / 0), 3, 16, 3, 2, 1, Act::Hardswish)];
    for block in BLOCKS {
        let at = features.len();
        features.push(inverted_residual(&(&f / at), block));
    }
    let last_in = BLOCKS[BLOCKS.len() - 1].3;
    let at = features.len();
    features.push(conv_bn(
        &(&f / at),
        last_in,
        LAST_CONV,
        1,
        1,
        1,
        Act::Hardswish,
    ));
    let c = p / "classifier";
    let hidden = nn::linear(&c / 0, LAST_CONV, LAST_CHANNEL, Default::default());
    let out = nn::linear(&c / 3, LAST_CHANNEL, classes, Default::default());
    nn::func_t(move |x, train| {
        features
            .iter()
            .fold(x.shallow_clone(), |y, l| y.apply_t(l, train))
            .adaptive_avg_pool2d([1, 1])
            .flat_view()
            .apply(&hidden)
            .hardswish()
            .dropout(0.2, train)
            .apply(&out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::ModuleT;

    #[test]
    fn squeeze_widths_are_torchvisions() {
        let widths: Vec<i64> = [16, 96, 240, 120, 144, 288, 576]
            .into_iter()
            .map(squeeze_channels)
            .collect();
        assert_eq!(widths, [8, 24, 64, 32, 40, 72, 144]);
    }

    #[test]
    fn has_torchvisions_parameters_and_output() {
        // Random draws under the seed lock: other tests compare two seeded builds.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = crate::model::seeded(0, || mobilenet_v3_small(&vs.root(), 1000));
        // torchvision: 2,542,856 trainable parameters (running statistics aside).
        let trainable: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(trainable, 2_542_856);
        assert!(vs.variables().contains_key("features.9.block.2.fc1.weight"));
        let out = tch::no_grad(|| {
            net.forward_t(&Tensor::zeros([2, 3, 64, 64], tch::kind::FLOAT_CPU), false)
        });
        assert_eq!(out.size(), [2, 1000]);
    }
}
