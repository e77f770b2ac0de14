//! The flags that say what the server is (model, batch, compile, layout, batching),
//! shared by `run`, `curve` and `serve-windows`; their translation into a
//! configuration is in `server_config`.

use std::path::PathBuf;

use clap::Args;

use crate::server_config::{CompileArg, StreamsArg};

/// What the server is: model, batch, compile, layout, batching.
#[derive(Args)]
pub struct ServerArgs {
    /// Model: resnet18, tiny-cnn, torchscript:PATH (a file saved by torch.jit.save),
    /// aoti:PATH (a .pt2 from torch._inductor.aoti_compile_and_package; give a file's
    /// inputs with --input), spin:<duration> (a forward that busy-waits, e.g.
    /// spin:2ms), or fail:<model>@N[:error|:panic|:hang] (the N-th forward fails, e.g.
    /// fail:spin:2ms@10:panic).
    #[arg(long, default_value = "resnet18", conflicts_with = "model_dir")]
    pub model: String,
    /// Checkpoint folder from `init-model`; its model.json names the architecture.
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Samples per request.
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
    /// Compute threads, each with its own model instance and stream.
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// shared: copies inline in each worker; dedicated: separate copy-in and copy-out stages.
    #[arg(long, value_enum, default_value = "shared")]
    pub streams: StreamsArg,
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
    /// libtorch intra-op threads per worker [default: cores / workers].
    #[arg(long)]
    pub intra_op_threads: Option<u32>,
    /// Warm-up requests after the cold-start one [default: 2 per worker].
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Dynamic batching: most samples per forward (off unless given; 0 = off).
    #[arg(long)]
    pub max_batch_size: Option<u32>,
    /// Dynamic batching: longest wait of the oldest queued request, e.g. 5ms.
    #[arg(long, default_value = "10ms", requires = "max_batch_size")]
    pub batch_timeout: String,
    /// Seed for inputs and generated weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Poll an empty queue this long before parking, e.g. 10ms (each stage, and the
    /// client of a burst or a closed loop; a poisson client spins or parks by the
    /// cores it has, reported as load_generator.pickup): cuts the wake-up latency of
    /// every hop, costs a core while polling.
    #[arg(long, default_value = "0")]
    pub spin_wait: String,
}
