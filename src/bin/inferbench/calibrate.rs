//! `inferbench calibrate`: its flags and what it prints.

use clap::Args;
use inferbench::config::RunConfig;
use inferbench::pipeline::calibrate;

use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Thread counts, comma-separated [default: 1 to the cores available].
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<u32>,
    /// Forwards per measurement.
    #[arg(long, default_value_t = 200)]
    pub iters: u32,
    /// Measurements per thread count, in turns; each count's figure is their median.
    #[arg(long, default_value_t = 3)]
    pub turns: u32,
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
        self.model.apply(&mut cfg)?;
        cfg.validate()?;
        self.model.check_image_size(&cfg)?;
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
