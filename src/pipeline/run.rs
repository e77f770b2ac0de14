//! One run, end to end: see the parent module for the order of events.

use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver, Sender};
use tch::Tensor;

use super::backend::{buffer_shape, Backend, BackendPlan};
use super::bare;
use super::batcher::BatchPolicy;
use super::collector::Collector;
use super::inputs::InputPool;
use super::stages::{ResponseResult, TensorRequest};
use crate::config::{Arrival, RunConfig};
use crate::device::{ComputeDevice, CpuDevice};
use crate::error::{Error, Result};
use crate::metrics::utilization::{UtilizationSampler, DEFAULT_PERIOD};
use crate::model::prepare;
use crate::report::{Environment, RunReport};

use crate::request::{Request, RequestMeta, RunClock, Stamp};

/// How to run, beyond what the configuration says.
pub struct RunOptions<'a> {
    /// Batching policy. Default: none (each request its own forward).
    pub batching: BatchPolicy,
    /// Device. Default: the CPU.
    pub device: Arc<dyn ComputeDevice>,
    /// Keep every measured request's timestamps in [`RunOutcome::trace`]. Default false.
    pub keep_trace: bool,
    /// Told each phase as it starts (for a CLI's status line).
    pub progress: Box<dyn FnMut(&str) + 'a>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        Self {
            batching: BatchPolicy::None,
            device: Arc::new(CpuDevice),
            keep_trace: false,
            progress: Box::new(|_| {}),
        }
    }
}

/// What a run produced.
pub struct RunOutcome {
    /// The figures.
    pub report: RunReport,
    /// Each measured request's timestamps, in the order responses arrived
    /// (empty unless [`RunOptions::keep_trace`]).
    pub trace: Vec<RequestMeta>,
}

/// Runs the pipeline once as `cfg` describes, on the CPU, without dynamic batching.
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    run_with(cfg, RunOptions::default()).map(|outcome| outcome.report)
}

/// Runs the pipeline once with explicit options.
pub fn run_with(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    let RunOptions {
        batching,
        device,
        keep_trace,
        mut progress,
    } = options;
    let progress = progress.as_mut();
    cfg.validate()?;
    let intra = cfg.intra_op_threads();
    tch::set_num_threads(intra as i32);
    progress("loading model");
    let model = prepare(&cfg.model, cfg.load.batch_size, cfg.load.seed)?;
    let warmups = 1 + cfg.extra_warmup();
    let inputs = InputPool::generate(
        warmups + cfg.load.num_iters,
        cfg.load.batch_size,
        cfg.model.image_size,
        cfg.load.seed,
    )?;

    let clock = RunClock::start();
    let (request_tx, request_rx) = unbounded::<TensorRequest>();
    let (response_tx, response_rx) = unbounded::<ResponseResult>();
    let plan = BackendPlan {
        model: &model,
        device: Arc::clone(&device),
        workers: cfg.backend.workers,
        streams: cfg.backend.streams,
        intra_op_threads: intra,
        batching,
        buffer_shape: buffer_shape(&batching, cfg.load.batch_size, cfg.model.image_size),
        clock,
    };
    let backend = Backend::spawn(plan, request_rx, response_tx)?;
    let client = Client {
        tx: request_tx,
        rx: response_rx,
        clock,
        batch: cfg.load.batch_size,
    };
    let measured = drive(cfg, &client, &inputs, warmups, keep_trace, progress);
    drop(client); // hang up the request queue so every stage finishes
    let joined = backend.join();
    let (warmup_ns, mut collector, utilization) = measured?;
    joined?;

    let bare = if cfg.measure_bare_forward {
        progress("timing the bare forward");
        Some(bare::bare_forward_throughput(
            &model,
            &inputs,
            cfg.backend.workers,
            intra,
            cfg.load.num_iters,
        )?)
    } else {
        None
    };
    let report = RunReport::build(
        cfg,
        &model,
        device.describe(),
        intra,
        warmup_ns,
        &collector,
        utilization,
        bare,
        Environment::detect(),
    )?;
    Ok(RunOutcome {
        report,
        trace: collector.take_trace(),
    })
}

/// The load generator's side of the queues.
struct Client {
    tx: Sender<TensorRequest>,
    rx: Receiver<ResponseResult>,
    clock: RunClock,
    batch: u32,
}

impl Client {
    fn send(&self, id: u64, payload: Tensor) -> Result<()> {
        send_request(&self.tx, &self.clock, id, self.batch, payload)
    }

    /// The next response, stamped on arrival; an error if the backend stopped.
    fn receive(&self, answered: u64, expected: u64) -> Result<RequestMeta> {
        match self.rx.recv() {
            Ok(Ok(mut response)) => {
                response.meta.stamps.set(Stamp::Received, self.clock.now());
                Ok(response.meta)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Pipeline(format!(
                "the backend stopped after {answered} of {expected} responses"
            ))),
        }
    }
}

/// Stamps a request as meant and sent now, and puts it on the queue.
#[inline]
pub fn send_request(
    tx: &Sender<TensorRequest>,
    clock: &RunClock,
    id: u64,
    samples: u32,
    payload: Tensor,
) -> Result<()> {
    let now = clock.now();
    let mut meta = RequestMeta::new(id, samples, now);
    meta.stamps.set(Stamp::Sent, now);
    tx.send(Request { meta, payload })
        .map_err(|_| Error::Pipeline("the backend stopped taking requests".into()))
}

type Measured = (u64, Collector, crate::metrics::UtilizationSummary);

/// Warm-up, then the measured requests; returns the cold-start latency and the figures.
fn drive(
    cfg: &RunConfig,
    client: &Client,
    inputs: &InputPool,
    warmups: u32,
    keep_trace: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Measured> {
    progress("warm-up");
    client.send(0, inputs.get(0))?;
    let cold = client.receive(0, 1)?;
    let warmup_ns = cold
        .stamps
        .latency_ns()
        .expect("received responses are fully stamped; this is a bug");
    for id in 1..warmups as u64 {
        client.send(id, inputs.get(id))?;
    }
    for k in 1..warmups as u64 {
        client.receive(k, warmups as u64)?;
    }

    progress("measuring");
    let first = warmups as u64;
    let n = cfg.load.num_iters as u64;
    let sampler = UtilizationSampler::start(DEFAULT_PERIOD);
    let collected = match cfg.load.arrival {
        Arrival::Burst => collect_burst(client, inputs, first, n, Collector::new(keep_trace)),
        Arrival::Concurrency(c) => collect_closed_loop(
            client,
            inputs,
            first,
            n,
            c as u64,
            Collector::new(keep_trace),
        ),
    };
    let utilization = sampler.stop();
    Ok((warmup_ns, collected?, utilization))
}

/// Open loop at infinite rate: a sender thread puts every request on the queue back
/// to back while this thread collects, so no response waits for the sending to end.
fn collect_burst(
    client: &Client,
    inputs: &InputPool,
    first: u64,
    n: u64,
    mut collector: Collector,
) -> Result<Collector> {
    let payloads: Vec<Tensor> = (first..first + n).map(|id| inputs.get(id)).collect();
    let (tx, clock, batch) = (client.tx.clone(), client.clock, client.batch);
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            for (id, payload) in (first..).zip(payloads) {
                if send_request(&tx, &clock, id, batch, payload).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::Pipeline(format!("cannot start the sender thread: {e}")))?;
    let result = (0..n).try_for_each(|k| record(&mut collector, client.receive(k, n)?));
    let _ = sender.join();
    result.map(|()| collector)
}

/// Closed loop: at most `concurrency` requests in flight; each response sends the next.
fn collect_closed_loop(
    client: &Client,
    inputs: &InputPool,
    first: u64,
    n: u64,
    concurrency: u64,
    mut collector: Collector,
) -> Result<Collector> {
    let mut next = first;
    let end = first + n;
    while next < end && next - first < concurrency {
        client.send(next, inputs.get(next))?;
        next += 1;
    }
    for k in 0..n {
        let meta = client.receive(k, n)?;
        if next < end {
            client.send(next, inputs.get(next))?;
            next += 1;
        }
        record(&mut collector, meta)?;
    }
    Ok(collector)
}

fn record(collector: &mut Collector, meta: RequestMeta) -> Result<()> {
    if collector.record(&meta) {
        Ok(())
    } else {
        Err(Error::Pipeline(format!(
            "request {} came back with incomplete timestamps: {:?}",
            meta.id, meta.stamps
        )))
    }
}
