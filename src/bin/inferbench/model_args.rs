//! The flags that say what runs and where (model, its inputs, batch, device,
//! precision, seed), shared by every subcommand that runs a model: `run`, `curve`,
//! `serve-windows` and `serve` (inside `ServerArgs`) and `calibrate`; and
//! [`ModelArgs::apply`], their one translation into a configuration.

use clap::{Args, ValueEnum};
use inferbench::config::{
    CompileMode, DeviceSpec, InputSpec, ModelConfig, Precision, Quantize, RunConfig,
};

/// What runs, and where.
#[derive(Args)]
pub struct ModelArgs {
    /// Model: resnet18, mobilenet_v3_small, tiny-transformer (token ids), tiny-cnn,
    /// torchscript:PATH (a file saved by torch.jit.save),
    /// aoti:PATH (a .pt2 from torch._inductor.aoti_compile_and_package; give a file's
    /// inputs with --input), spin:<duration> (a forward that busy-waits, e.g.
    /// spin:2ms), or fail:<model>@N[:error|:panic|:hang] (the N-th forward fails, e.g.
    /// fail:spin:2ms@10:panic).
    #[arg(
        long = "model",
        id = "model",
        value_name = "MODEL",
        default_value = "resnet18"
    )]
    pub name: String,
    /// Samples per request (calibrate: per forward).
    #[arg(long, default_value_t = 1)]
    pub batch_size: u32,
    /// How the forward is prepared: eager, torchscript (a trace; a file as saved),
    /// frozen (torch.jit.freeze + optimize_for_inference), aot-inductor (torch.export,
    /// then AOTInductor, with the venv's Python, cached; an aoti: file as saved) or
    /// cuda-graph (the eager forward captured per worker and batch size and replayed;
    /// CUDA only) [default: eager; a file: as saved].
    #[arg(long, value_enum)]
    pub compile: Option<CompileArg>,
    /// One input of the model per sample, without the batch dimension:
    /// SHAPE:DTYPE[:LO..HI], e.g. 3x224x224:f32 or 128:i64:0..30522 (token ids).
    /// Repeat it for a model with several inputs, in the order of its forward's
    /// arguments [default: one 3 × image-size × image-size image].
    #[arg(long = "input", value_name = "SPEC")]
    pub inputs: Vec<String>,
    /// Convolution weights and image inputs in the channels-last memory format
    /// (built-in image models).
    #[arg(long)]
    pub channels_last: bool,
    /// none, or dynamic-int8: linear layers with int8 weights (quantize_dynamic, made
    /// with the venv's Python; tiny-transformer on the CPU, --compile torchscript or frozen).
    #[arg(long, default_value = "none")]
    pub quantize: String,
    /// Input image side in pixels (3 channels) [default: 64]; refused where no image
    /// is read (a text model, or inputs given by --input).
    #[arg(long)]
    pub image_size: Option<u32>,
    /// Where weights, buffers and the forward live: cpu, cuda or cuda:N (needs a
    /// build with --features cuda and an NVIDIA GPU).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Number format of weights and inputs, cast once before timing: fp32, fp16, bf16.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Seed for inputs and generated weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ModelArgs {
    /// Sets what these flags say in `cfg` (model, load size and seed, device); the
    /// model is named by `--model`, which a caller with `--model-dir` then replaces.
    /// An image size given for a model that reads no image is refused.
    pub fn apply(&self, cfg: &mut RunConfig) -> anyhow::Result<()> {
        cfg.model = ModelConfig {
            name: self.name.clone(),
            dir: None,
            image_size: self.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
            compile: CompileArg::mode_or_default(self.compile, &self.name),
            precision: Precision::parse(&self.precision)?,
            inputs: parse_inputs(&self.inputs)?,
            channels_last: self.channels_last,
            quantize: Quantize::parse(&self.quantize)?,
        };
        cfg.load.batch_size = self.batch_size;
        cfg.load.seed = self.seed;
        cfg.backend.device = DeviceSpec::parse(&self.device)?;
        Ok(())
    }

    /// Refuses `--image-size` where no image is read (call once the model is final).
    pub fn check_image_size(&self, cfg: &RunConfig) -> anyhow::Result<()> {
        if self.image_size.is_some() {
            cfg.model.check_image_size_given()?;
        }
        Ok(())
    }
}

/// `--image-size` when it is not given.
pub const DEFAULT_IMAGE_SIZE: u32 = 64;

#[derive(Clone, Copy, ValueEnum)]
pub enum CompileArg {
    Eager,
    Torchscript,
    Frozen,
    AotInductor,
    CudaGraph,
}

impl CompileArg {
    /// The mode named, or the model's default when none is: `torchscript` for a
    /// TorchScript file (already compiled), `eager` for a built-in model.
    pub fn mode_or_default(arg: Option<Self>, model: &str) -> CompileMode {
        match arg {
            None => ModelConfig::default_compile(model),
            Some(Self::Eager) => CompileMode::Eager,
            Some(Self::Torchscript) => CompileMode::Torchscript,
            Some(Self::Frozen) => CompileMode::Frozen,
            Some(Self::AotInductor) => CompileMode::AotInductor,
            Some(Self::CudaGraph) => CompileMode::CudaGraph,
        }
    }
}

/// `--input`, repeatable: the specs given, parsed (an error names the bad one).
pub fn parse_inputs(texts: &[String]) -> anyhow::Result<Vec<InputSpec>> {
    Ok(texts
        .iter()
        .map(|t| t.parse::<InputSpec>())
        .collect::<Result<_, _>>()?)
}
