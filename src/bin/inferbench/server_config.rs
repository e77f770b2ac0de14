//! The server flags as a configuration: the value enums of `--compile` and
//! `--streams`, `--input` specs, and [`ServerArgs::to_config`].

use anyhow::Context;
use clap::ValueEnum;
use inferbench::config::{
    parse_spin_wait, Arrival, BackendConfig, BatchPolicy, CompileMode, DeviceSpec, InputSpec,
    LoadConfig, ModelConfig, Precision, Quantize, RunConfig, StreamLayout,
};

use crate::server_args::ServerArgs;

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

#[derive(Clone, Copy, ValueEnum)]
pub enum StreamsArg {
    Shared,
    Dedicated,
}

impl ServerArgs {
    /// The flags' defaults, as clap gives them when none is passed.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            server: ServerArgs,
        }
        <Only as clap::Parser>::parse_from(["inferbench"]).server
    }

    /// The configuration these flags describe, with the load's size and arrival.
    /// With `--model-dir` the checkpoint's architecture names the model.
    pub fn to_config(&self, iters: u32, arrival: Arrival, bare: bool) -> anyhow::Result<RunConfig> {
        let name = match &self.model_dir {
            Some(dir) => inferbench::model::checkpoint::read_meta(dir)?.arch.name(),
            None => self.model.clone(),
        };
        let cfg = RunConfig {
            model: ModelConfig {
                name,
                dir: self.model_dir.clone(),
                image_size: self.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
                compile: CompileArg::mode_or_default(self.compile, &self.model),
                precision: Precision::parse(&self.precision)?,
                inputs: parse_inputs(&self.inputs)?,
                channels_last: self.channels_last,
                quantize: Quantize::parse(&self.quantize)?,
            },
            load: LoadConfig {
                batch_size: self.batch_size,
                num_iters: iters,
                extra_warmup: self.warmup,
                arrival,
                seed: self.seed,
            },
            backend: BackendConfig {
                workers: self.workers,
                streams: match self.streams {
                    StreamsArg::Shared => StreamLayout::Shared,
                    StreamsArg::Dedicated => StreamLayout::Dedicated,
                },
                intra_op_threads: self.intra_op_threads,
                spin_wait_us: parse_spin_wait(&self.spin_wait)?,
                batching: BatchPolicy::from_limits(self.max_batch_size, &self.batch_timeout)
                    .context("--max-batch-size / --batch-timeout")?,
                device: DeviceSpec::parse(&self.device)?,
            },
            measure_bare_forward: bare,
            target: None,
        };
        if self.image_size.is_some() {
            cfg.model.check_image_size_given()?;
        }
        Ok(cfg)
    }
}

/// `--image-size` when it is not given.
pub const DEFAULT_IMAGE_SIZE: u32 = 64;
