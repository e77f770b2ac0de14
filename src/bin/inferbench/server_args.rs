//! The flags that say what the server is (the model flags of `model_args`, plus
//! layout, threads and batching), shared by `run`, `curve`, `serve-windows` and
//! `serve`; their translation into a configuration is in `server_config`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::model_args::ModelArgs;

/// What the server is: model, batch, compile, layout, batching.
#[derive(Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Checkpoint folder from `init-model`; its model.json names the architecture.
    #[arg(long, conflicts_with = "model")]
    pub model_dir: Option<PathBuf>,
    /// Compute threads, each with its own model instance and stream.
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// shared: copies inline in each worker; dedicated: separate copy-in and copy-out stages.
    #[arg(long, value_enum, default_value = "shared")]
    pub streams: StreamsArg,
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
    /// Poll an empty queue this long before parking, e.g. 10ms (each stage, the
    /// client of a burst or a closed loop, and under `serve` each request awaiting its
    /// answer; a poisson client spins or parks by the cores it has, reported as
    /// load_generator.pickup): cuts the wake-up latency of every hop, costs a core
    /// while polling.
    #[arg(long, default_value = "0")]
    pub spin_wait: String,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StreamsArg {
    Shared,
    Dedicated,
}
