//! Which model to serve and how it is prepared: [`ModelConfig`] (a built-in
//! architecture, a checkpoint, or a model file with its input specs) and
//! [`CompileMode`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{InputSpec, Precision};
use crate::error::{Error, Result};

/// Largest input of one request: beyond it the pre-built inputs alone exhaust memory.
const MAX_REQUEST_BYTES: u64 = 1 << 30;

/// How the model's forward is prepared before serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CompileMode {
    /// Plain eager forward of the tch module.
    #[default]
    Eager,
    /// Traced once with `CModule::create_by_tracing` (a TorchScript file: as saved);
    /// workers share the module.
    Torchscript,
    /// The TorchScript module, then `torch::jit::freeze` (weights become constants)
    /// and `torch::jit::optimize_for_inference` (conv-batch-norm folding and the like).
    Frozen,
    /// Exported (`torch.export`) and compiled ahead of time by AOTInductor into a
    /// `.pt2` package for the run's device, batch and precision, with the Python of
    /// the linked torch, cached (an `aoti:` file: as saved).
    #[serde(rename = "aot-inductor")]
    AotInductor,
    /// The eager forward captured once per worker and batch size as a CUDA graph
    /// (`at::cuda::CUDAGraph`) and replayed: one launch instead of one per kernel,
    /// for launch-bound forwards (batch 1 on a GPU). A batch pads to the nearest
    /// captured size. CUDA only.
    #[serde(rename = "cuda-graph")]
    CudaGraph,
}

impl CompileMode {
    /// The name used in flags, benchmark ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            CompileMode::Eager => "eager",
            CompileMode::Torchscript => "torchscript",
            CompileMode::Frozen => "frozen",
            CompileMode::AotInductor => "aot-inductor",
            CompileMode::CudaGraph => "cuda-graph",
        }
    }

    /// Parses a name as [`CompileMode::name`] writes it.
    pub fn parse(text: &str) -> Result<Self> {
        [
            Self::Eager,
            Self::Torchscript,
            Self::Frozen,
            Self::AotInductor,
            Self::CudaGraph,
        ]
        .into_iter()
        .find(|m| m.name() == text.trim())
        .ok_or_else(|| {
            Error::config(
                "compile",
                format!(
                    "'{text}': expected eager, torchscript, frozen, aot-inductor or cuda-graph"
                ),
            )
        })
    }
}

/// Whether to quantize the model's weights (`--quantize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Quantize {
    /// The weights as they are.
    #[default]
    None,
    /// Linear layers with int8 weights, activations quantized on the fly
    /// (`torch.ao.quantization.quantize_dynamic`; the CPU; tiny-transformer).
    DynamicInt8,
}

impl Quantize {
    /// The name in flags, sweep files and ids.
    pub fn name(self) -> &'static str {
        match self {
            Quantize::None => "none",
            Quantize::DynamicInt8 => "dynamic-int8",
        }
    }

    /// Parses `none` or `dynamic-int8`.
    pub fn parse(text: &str) -> Result<Self> {
        [Quantize::None, Quantize::DynamicInt8]
            .into_iter()
            .find(|q| q.name() == text.trim())
            .ok_or_else(|| {
                Error::config(
                    "quantize",
                    format!("'{text}': expected none or dynamic-int8"),
                )
            })
    }
}

/// Which model to serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Model name: `resnet18`, `tiny-cnn` or `spin:<duration>`. Ignored when `dir` is set
    /// (the checkpoint's metadata names the architecture). Default `resnet18`.
    pub name: String,
    /// Checkpoint folder written by `inferbench init-model`. Default none: weights are
    /// generated in memory from `seed`.
    pub dir: Option<PathBuf>,
    /// Input images are `image_size` × `image_size` pixels, 3 channels. Default 64.
    pub image_size: u32,
    /// How the forward is prepared. Default eager.
    pub compile: CompileMode,
    /// Number format of weights and inputs, cast once before timing. Default fp32.
    #[serde(default)]
    pub precision: Precision,
    /// The model's inputs per sample, in argument order (`--input`, repeatable), for
    /// model files and the spin model. Default none: one `3 × image_size × image_size`
    /// image in the run's precision ([`ModelConfig::input_specs`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputSpec>,
    /// Convolution weights and image inputs in the channels-last memory format
    /// (`--channels-last`; built-in image models). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub channels_last: bool,
    /// Weight quantization (`--quantize`; tiny-transformer on the CPU). Default none.
    #[serde(default, skip_serializing_if = "is_none")]
    pub quantize: Quantize,
}

fn is_none(q: &Quantize) -> bool {
    *q == Quantize::None
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            name: "resnet18".into(),
            dir: None,
            image_size: 64,
            compile: CompileMode::Eager,
            precision: Precision::Fp32,
            inputs: Vec::new(),
            channels_last: false,
            quantize: Quantize::None,
        }
    }
}

impl ModelConfig {
    /// Whether the model is a CNN with weights (a checkpoint, or a built-in name that
    /// is not a spin model, also inside a `fail:` model).
    pub fn has_weights(&self) -> bool {
        self.dir.is_some() || !self.name.contains("spin:")
    }

    /// Whether the model is one of the built-in image CNNs (from its name or a checkpoint).
    pub fn is_built_in_cnn(&self) -> bool {
        self.has_weights() && !self.is_file() && self.token_input().is_none()
    }

    /// A built-in model over token ids: its default input (also inside a `fail:` model).
    pub fn token_input(&self) -> Option<&'static str> {
        TOKEN_MODELS
            .iter()
            .find(|(name, _)| self.name == *name || self.name.contains(&format!("{name}@")))
            .map(|(_, input)| *input)
    }

    /// Whether the model is a file the user brought (`torchscript:PATH`,
    /// `aoti:PATH`), also inside a `fail:` model.
    pub fn is_file(&self) -> bool {
        self.dir.is_none() && ModelFile::find(&self.name).is_some()
    }

    /// The model and its input as ids write them: `resnet18-32px`; a file by its
    /// name (ids must not hold a folder path) and inputs, `model.pt-128:i64:0..1000`
    /// (several joined with `+`).
    pub fn label(&self) -> String {
        let name = match ModelFile::find(&self.name) {
            Some((kind, before, path)) => {
                let file = std::path::Path::new(path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.to_string());
                format!("{before}{}{file}", kind.prefix())
            }
            None => self.name.clone(),
        };
        if self.inputs.is_empty() && self.token_input().is_none() {
            format!("{name}-{}px", self.image_size)
        } else {
            let specs: Vec<String> = self.input_specs().iter().map(|s| s.to_string()).collect();
            format!("{name}-{}", specs.join("+"))
        }
    }

    /// The inputs one sample has: the `inputs` given, or the built-in vision models'
    /// image.
    pub fn input_specs(&self) -> Vec<InputSpec> {
        match (self.inputs.is_empty(), self.token_input()) {
            (false, _) => self.inputs.clone(),
            (true, Some(ids)) => vec![ids.parse().expect("built-in specs parse; this is a bug")],
            (true, None) => vec![InputSpec::image(self.image_size, self.precision)],
        }
    }

    /// The compile mode a model takes when none is given: a file is already
    /// compiled, so its own mode (as saved); a built-in model `eager`.
    pub fn default_compile(name: &str) -> CompileMode {
        match ModelFile::find(name) {
            Some((kind, ..)) => kind.as_saved(),
            None => CompileMode::Eager,
        }
    }

    /// Checks the inputs and every setting against the model's kind ([`ModelKind`]):
    /// one request's inputs must fit in memory, and a setting the model cannot
    /// honour is refused by name.
    ///
    /// [`ModelKind`]: super::ModelKind
    pub(super) fn validate_inputs(&self, batch_size: u32) -> Result<()> {
        self.check_honoured()?;
        let request_bytes: u64 = self
            .input_specs()
            .iter()
            .map(|s| s.bytes_per_sample().saturating_mul(batch_size as u64))
            .fold(0, u64::saturating_add);
        if request_bytes > MAX_REQUEST_BYTES {
            return Err(Error::config(
                "input",
                format!(
                    "one request's inputs would take {:.1} GiB (batch size × inputs); at most {} GiB: use smaller inputs or batches",
                    request_bytes as f64 / (1u64 << 30) as f64,
                    MAX_REQUEST_BYTES >> 30
                ),
            ));
        }
        Ok(())
    }
}

/// The built-in models over token ids and their default input (the model layer's
/// `transformer::DEFAULT_INPUT`, checked equal by its tests).
pub const TOKEN_MODELS: [(&str, &str); 2] = [
    ("tiny-transformer", "128:i64:0..30522"),
    ("tiny_transformer", "128:i64:0..30522"),
];

/// The kinds of model file a model name can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFile {
    /// `torchscript:PATH`, saved by `torch.jit.save`.
    Torchscript,
    /// `aoti:PATH`, a package from `torch._inductor.aoti_compile_and_package`.
    Aoti,
}

impl ModelFile {
    /// How a model name starts for this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ModelFile::Torchscript => "torchscript:",
            ModelFile::Aoti => "aoti:",
        }
    }

    /// The kind, the text before the prefix (a `fail:` wrapper) and the path of a
    /// model name that refers to a file.
    pub fn find(name: &str) -> Option<(Self, &str, &str)> {
        [ModelFile::Torchscript, ModelFile::Aoti]
            .into_iter()
            .find_map(|kind| {
                name.split_once(kind.prefix())
                    .map(|(before, path)| (kind, before, path))
            })
    }

    /// The kind of model a file of this kind is.
    pub fn kind(self) -> super::ModelKind {
        match self {
            ModelFile::Torchscript => super::ModelKind::TorchscriptFile,
            ModelFile::Aoti => super::ModelKind::AotiPackage,
        }
    }

    /// The compile modes that make sense for this kind; the first is the file as saved.
    pub fn compiles(self) -> &'static [CompileMode] {
        self.kind().compiles()
    }

    /// The compile mode of the file as saved.
    pub fn as_saved(self) -> CompileMode {
        self.compiles()[0]
    }
}
