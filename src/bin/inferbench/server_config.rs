//! The server flags as a configuration: [`ServerArgs::to_config`].

use anyhow::Context;
use inferbench::config::{parse_spin_wait, Arrival, BatchPolicy, RunConfig, StreamLayout};

use crate::server_args::{ServerArgs, StreamsArg};

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
        let mut cfg = RunConfig::default();
        self.model.apply(&mut cfg)?;
        if let Some(dir) = &self.model_dir {
            cfg.model.name = inferbench::model::checkpoint::read_meta(dir)?.arch.name();
            cfg.model.dir = Some(dir.clone());
        }
        cfg.load.num_iters = iters;
        cfg.load.extra_warmup = self.warmup;
        cfg.load.arrival = arrival;
        cfg.backend.workers = self.workers;
        cfg.backend.streams = match self.streams {
            StreamsArg::Shared => StreamLayout::Shared,
            StreamsArg::Dedicated => StreamLayout::Dedicated,
        };
        cfg.backend.intra_op_threads = self.intra_op_threads;
        cfg.backend.spin_wait_us = parse_spin_wait(&self.spin_wait)?;
        cfg.backend.batching = BatchPolicy::from_limits(self.max_batch_size, &self.batch_timeout)
            .context("--max-batch-size / --batch-timeout")?;
        cfg.measure_bare_forward = bare;
        cfg.target = None;
        self.model.check_image_size(&cfg)?;
        Ok(cfg)
    }
}
