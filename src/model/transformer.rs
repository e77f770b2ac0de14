//! The seeds' tiny transformer (seed 002: 256-dim, 4 layers, 4 heads): a pre-norm
//! encoder over token ids, mean-pooled into a 2-class head. Its PyTorch twin, with
//! the same variable names and the same arithmetic, is `TinyTransformer` in
//! `scripts/aoti-export.py` (the AOTInductor export loads these weights into it).
//!
//! Input: token ids `[batch, sequence]` (int64), default `128:i64:0..30522` (BERT's
//! vocabulary size); any sequence up to [`MAX_SEQUENCE`] tokens.

use tch::nn::{self, FuncT, Module};
use tch::{Kind, Tensor};

use crate::config::{InputSpec, ValueRange};
use crate::error::{Error, Result};

/// Width of the model.
pub const DIM: i64 = 256;
/// Encoder layers.
pub const LAYERS: i64 = 4;
/// Attention heads per layer.
pub const HEADS: i64 = 4;
/// Width of each layer's feed-forward block.
pub const FFN: i64 = 4 * DIM;
/// Token ids it embeds: `0..VOCAB`.
pub const VOCAB: i64 = 30_522;
/// Longest sequence (learned positions).
pub const MAX_SEQUENCE: i64 = 512;
/// Output classes.
pub const CLASSES: i64 = 2;
/// Its default input, as `--input` writes it.
pub const DEFAULT_INPUT: &str = "128:i64:0..30522";

struct Layer {
    ln1: nn::LayerNorm,
    qkv: nn::Linear,
    proj: nn::Linear,
    ln2: nn::LayerNorm,
    ff1: nn::Linear,
    ff2: nn::Linear,
}

impl Layer {
    fn new(p: &nn::Path) -> Self {
        let ln = Default::default;
        Self {
            ln1: nn::layer_norm(p / "ln1", vec![DIM], ln()),
            qkv: nn::linear(p / "qkv", DIM, 3 * DIM, Default::default()),
            proj: nn::linear(p / "proj", DIM, DIM, Default::default()),
            ln2: nn::layer_norm(p / "ln2", vec![DIM], ln()),
            ff1: nn::linear(p / "ff1", DIM, FFN, Default::default()),
            ff2: nn::linear(p / "ff2", FFN, DIM, Default::default()),
        }
    }

    /// `x + attention(ln1(x))`, then `+ ff2(gelu(ff1(ln2(x))))`.
    fn forward(&self, x: &Tensor) -> Tensor {
        let (n, seq) = (x.size()[0], x.size()[1]);
        let head_dim = DIM / HEADS;
        let qkv = x
            .apply(&self.ln1)
            .apply(&self.qkv)
            .view([n, seq, 3, HEADS, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let attended = Tensor::scaled_dot_product_attention(
            &qkv.get(0),
            &qkv.get(1),
            &qkv.get(2),
            None::<Tensor>,
            0.0,
            false,
            None,
            false,
        )
        .transpose(1, 2)
        .reshape([n, seq, DIM]);
        let x = x + attended.apply(&self.proj);
        let ff = x
            .apply(&self.ln2)
            .apply(&self.ff1)
            .gelu("none")
            .apply(&self.ff2);
        x + ff
    }
}

/// The tiny transformer, its variables under `p`.
pub fn tiny_transformer(p: &nn::Path) -> FuncT<'static> {
    let embed = nn::embedding(p / "embed", VOCAB, DIM, Default::default());
    let pos = nn::embedding(p / "pos", MAX_SEQUENCE, DIM, Default::default());
    let layers: Vec<Layer> = (0..LAYERS)
        .map(|i| Layer::new(&(p / "layers" / i)))
        .collect();
    let norm = nn::layer_norm(p / "norm", vec![DIM], Default::default());
    let head = nn::linear(p / "head", DIM, CLASSES, Default::default());
    nn::func_t(move |ids, _train| {
        let seq = ids.size()[1];
        let positions = Tensor::arange(seq, (Kind::Int64, ids.device()));
        let x = embed.forward(ids) + pos.forward(&positions);
        let x = layers.iter().fold(x, |x, layer| layer.forward(&x));
        x.apply(&norm)
            .mean_dim(&[1i64][..], false, None::<Kind>)
            .apply(&head)
    })
}

/// The model takes one input of token ids: 1-D, integer, at most [`MAX_SEQUENCE`]
/// long, drawn inside `0..VOCAB`.
pub fn check_input(specs: &[InputSpec]) -> Result<()> {
    let bad = |why: String| {
        Error::config(
            "input",
            format!("tiny-transformer takes one input of token ids, e.g. --input {DEFAULT_INPUT}: {why}"),
        )
    };
    let [spec] = specs else {
        return Err(bad(format!("{} inputs given", specs.len())));
    };
    let ids_in_vocab =
        matches!(spec.range, ValueRange::Uniform { lo, hi } if lo >= 0.0 && hi <= VOCAB as f64);
    match spec.shape.as_slice() {
        _ if !spec.dtype.is_integer() => Err(bad(format!("{spec} is not an integer type"))),
        [len] if *len > MAX_SEQUENCE => Err(bad(format!("{spec}: at most {MAX_SEQUENCE} tokens"))),
        [_] if !ids_in_vocab => Err(bad(format!("{spec}: ids must lie in 0..{VOCAB}"))),
        [_] => Ok(()),
        _ => Err(bad(format!("{spec} is not one sequence (one dimension)"))),
    }
}

/// Multiply-adds of one sample of `seq` tokens: per layer the four projections
/// (4·d² a token), the feed-forward block (2·d·ffn a token) and attention's two
/// products (2·seq·d a token); then the head. Embedding lookups are not counted.
pub fn macs(seq: u64) -> u64 {
    let (d, ffn) = (DIM as u64, FFN as u64);
    let per_token = 4 * d * d + 2 * d * ffn + 2 * seq * d;
    LAYERS as u64 * per_token * seq + d * CLASSES as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::ModuleT;

    #[test]
    fn answers_two_classes_per_sequence_of_any_length() {
        // Random draws under the seed lock: other tests compare two seeded builds.
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = crate::model::seeded(0, || tiny_transformer(&vs.root()));
        for seq in [1, 16, 128] {
            let ids = crate::model::seeded(seq as u64, || {
                Tensor::randint(VOCAB, [3, seq], (Kind::Int64, tch::Device::Cpu))
            });
            let out = tch::no_grad(|| net.forward_t(&ids, false));
            assert_eq!(out.size(), [3, CLASSES]);
        }
        assert!(vs.variables().contains_key("layers.3.ff2.weight"));
    }

    #[test]
    fn only_token_ids_in_the_vocabulary_are_taken() {
        let check = |texts: &[&str]| {
            let specs: Vec<InputSpec> = texts.iter().map(|t| t.parse().unwrap()).collect();
            check_input(&specs).map_err(|e| e.to_string())
        };
        assert!(check(&[DEFAULT_INPUT]).is_ok());
        assert!(check(&["512:i32:0..100"]).is_ok());
        for (bad, needle) in [
            (vec!["128:f32"], "not an integer"),
            (vec!["513:i64:0..100"], "at most 512"),
            (vec!["128:i64:0..40000"], "0..30522"),
            (vec!["2x64:i64:0..100"], "one dimension"),
            (vec![DEFAULT_INPUT, DEFAULT_INPUT], "2 inputs"),
        ] {
            let err = check(&bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }

    #[test]
    fn cost_is_linear_in_the_projections_and_quadratic_in_attention() {
        // 4 layers × 128 tokens × (4·256² + 2·256·1024 + 2·128·256) + 256·2
        assert_eq!(macs(128), 4 * 128 * (262_144 + 524_288 + 65_536) + 512);
    }
}
