//! `inferbench calibrate`: its flags and what it prints.

use clap::Args;
use inferbench::config::{DeviceSpec, Precision, RunConfig};
use inferbench::pipeline::calibrate;

use crate::server_config::{parse_inputs, CompileArg};

#[derive(Args)]
pub struct CalibrateArgs {
    /// Model, as for run: resnet18, tiny-cnn, torchscript:PATH, spin:<duration>.
    #[arg(long, default_value = "resnet18")]
    pub model: String,
    /// Samples per forward.
    #[arg(long, default_value_t = 1)]
    pub batch_size: u32,
    /// Input image side in pixels (3 channels) [default: 64], as for run.
    #[arg(long)]
    pub image_size: Option<u32>,
    /// How the forward is prepared, as for run [default: eager; a file: torchscript].
    #[arg(long, value_enum)]
    pub compile: Option<CompileArg>,
    /// One input of the model per sample, as for run (repeatable).
    #[arg(long = "input", value_name = "SPEC")]
    pub inputs: Vec<String>,
    /// Weights and images in the channels-last memory format, as for run.
    #[arg(long)]
    pub channels_last: bool,
    /// none or dynamic-int8, as for run.
    #[arg(long, default_value = "none")]
    pub quantize: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// fp32, fp16, bf16.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Thread counts, comma-separated [default: 1 to the cores available].
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<u32>,
    /// Forwards per measurement.
    #[arg(long, default_value_t = 200)]
    pub iters: u32,
    /// Measurements per thread count, in turns; each count's figure is their median.
    #[arg(long, default_value_t = 3)]
    pub turns: u32,
    /// Seed for inputs and generated weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the points as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: crate::limit_args::LimitArgs,
}

impl CalibrateArgs {
    /// The model, device and batch these flags describe (one worker; no load).
    pub fn to_config(&self) -> anyhow::Result<RunConfig> {
        let mut cfg = RunConfig::default();
        cfg.model.name = self.model.clone();
        cfg.model.image_size = self
            .image_size
            .unwrap_or(crate::server_config::DEFAULT_IMAGE_SIZE);
        cfg.model.compile = CompileArg::mode_or_default(self.compile, &self.model);
        cfg.model.inputs = parse_inputs(&self.inputs)?;
        cfg.model.channels_last = self.channels_last;
        cfg.model.quantize = inferbench::config::Quantize::parse(&self.quantize)?;
        cfg.model.precision = Precision::parse(&self.precision)?;
        cfg.load.batch_size = self.batch_size;
        cfg.load.seed = self.seed;
        cfg.backend.device = DeviceSpec::parse(&self.device)?;
        cfg.validate()?;
        if self.image_size.is_some() {
            cfg.model.check_image_size_given()?;
        }
        Ok(cfg)
    }
}

/// Runs `inferbench calibrate` and prints its table or JSON.
pub fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let cfg = args.to_config()?;
    let cores = inferbench::config::cores() as u32;
    let threads = calibrate::counts_or_up_to(&args.threads, cores);
    let mut progress = crate::progress_lines("[calibrate] ", args.quiet);
    let (sizes, limits) = ((args.iters, args.turns), args.limits.limits()?);
    let points = calibrate::thread_scaling(&cfg, &threads, sizes, limits, &mut progress)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&points)?),
        false => print!(
            "{}",
            inferbench::report::calibration::render(&cfg, &points, cores)
        ),
    }
    Ok(())
}
