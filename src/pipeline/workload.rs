//! What a run measures, before any thread serves it: the model prepared for the
//! device and the inputs generated ([`Workload`]), and the figures that need only
//! those (the bare forward, the host-to-device probe, the facts for the report).

use std::sync::Arc;

use super::bare;
use super::inputs::InputPool;
use super::pinning::Placement;
use crate::config::RunConfig;
use crate::device::{self, openmp, ComputeDevice};
use crate::error::Result;
use crate::model::{prepare, Batches, PreparedModel};
use crate::results::ServerFacts;

/// What a run measures, loaded and ready: the model prepared for the device, the
/// inputs generated, no thread started. The bare-forward baseline is timed on it
/// while no server runs ([`Workload::bare_forward`]); [`Server::serve`] builds the
/// pipeline around it and [`Server::stop_keeping`] gives it back.
pub struct Workload {
    pub(super) cfg: RunConfig,
    pub(super) model: PreparedModel,
    pub(super) device: Arc<dyn ComputeDevice>,
    pub(super) inputs: InputPool,
    pub(super) intra_op_threads: u32,
}

impl Workload {
    /// Prepares `cfg`'s model on `device` and generates the warm-up's and one window's inputs.
    pub fn load(
        cfg: &RunConfig,
        device: Arc<dyn ComputeDevice>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        cfg.validate()?;
        let intra_op_threads = cfg.intra_op_threads();
        tch::set_num_threads(intra_op_threads as i32);
        progress("loading model");
        let batches = Batches {
            example: cfg.load.batch_size,
            max: cfg.backend.batching.max_samples(cfg.load.batch_size),
        };
        let model = prepare(
            &cfg.model,
            batches,
            cfg.load.seed,
            device.torch_device(),
            progress,
        )?;
        let inputs = InputPool::generate(
            1 + cfg.extra_warmup() + cfg.load.num_iters,
            cfg.load.batch_size,
            &cfg.model.input_specs(),
            cfg.load.seed,
            device.as_ref(),
        )?;
        // This thread now only sends and waits: its OpenMP team would count against
        // the workers' spinning (see `device::openmp`).
        openmp::release_thread_team();
        Ok(Self {
            cfg: cfg.clone(),
            model,
            device,
            inputs,
            intra_op_threads,
        })
    }

    /// Throughput of the bare forward loop on the same model, inputs and threads:
    /// one thread per worker, each with its own instance and stream. Time it while
    /// no server runs: another thread's OpenMP team would slow its threads down
    /// and not the pipeline's (see `device::openmp`).
    pub fn bare_forward(&self, iters: u32) -> Result<f64> {
        bare::bare_forward_throughput(
            &self.model,
            &self.inputs,
            self.device.as_ref(),
            self.cfg.backend.workers,
            self.intra_op_threads,
            iters,
        )
    }

    /// Pinned host-to-device bandwidth for copies of one request's input, bytes/s;
    /// `None` on a device without such copies (the CPU).
    pub fn h2d_bandwidth(&self) -> Result<Option<f64>> {
        let bytes = self.input_bytes_per_sample() as usize * self.cfg.load.batch_size as usize;
        self.device
            .h2d_bandwidth(bytes, device::probe_repeats(bytes))
    }

    /// Threads the server keeps busy computing: each worker's forward threads on
    /// the CPU; one host thread per worker on a GPU, which computes on its own.
    pub fn server_threads(&self) -> usize {
        let workers = self.cfg.backend.workers as usize;
        match self.device.torch_device() {
            tch::Device::Cpu => {
                workers * self.model.threads_per_forward(self.intra_op_threads) as usize
            }
            _ => workers,
        }
    }

    /// Threads of the server that must get a core the moment work reaches them:
    /// the compute threads, and the batcher's thread under dynamic batching (it
    /// starts a batch's timeout when it takes the first request).
    pub fn busy_threads(&self) -> usize {
        self.server_threads() + usize::from(self.has_batcher())
    }

    /// Where the client and the server's threads run ([`Placement`]): pinned apart
    /// for an open loop (Poisson arrivals), where at low load every request finds
    /// parked threads and where the OS wakes them decides the latency; left to the
    /// OS for a burst or a closed loop, whose threads stay busy, and where pinned
    /// threads could not move away from another process's load.
    pub fn placement(&self) -> Option<Placement> {
        matches!(self.cfg.load.arrival, crate::config::Arrival::Poisson(_))
            .then(|| Placement::choose(self.server_threads(), self.has_batcher()))
            .flatten()
    }

    /// Whether the server runs a batcher's thread (dynamic batching).
    pub fn has_batcher(&self) -> bool {
        !matches!(self.cfg.backend.batching, crate::config::BatchPolicy::None)
    }

    /// The inputs of request `id` from the pre-built pool (what the warm-up sent).
    pub fn inputs_of(&self, id: u64) -> super::stages::Inputs {
        self.inputs.get(id)
    }

    /// Input bytes of one sample, all of the model's inputs together.
    pub fn input_bytes_per_sample(&self) -> u64 {
        self.cfg
            .model
            .input_specs()
            .iter()
            .map(|s| s.bytes_per_sample())
            .sum()
    }

    /// What the workload knows about itself, for the report; `warmup_ns` is the
    /// server's cold-start latency.
    pub fn facts(&self, warmup_ns: u64) -> ServerFacts {
        ServerFacts {
            model: self.model.report_info(),
            device: self.device.describe(),
            intra_op_threads: Some(self.intra_op_threads),
            compute_threads: self.server_threads() as u32,
            oversubscribed: false, // RunReport::new sets it
            load_time_s: self.model.load_time.map(|d| d.as_secs_f64()),
            compile_time_s: self.model.compile_time_s(),
            warmup_latency_ms: crate::metrics::ms(warmup_ns as f64),
        }
    }
}
