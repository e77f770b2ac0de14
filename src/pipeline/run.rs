//! A server that stays up between measurements ([`Server`]), and one run end to end
//! ([`run_with`]): start, measure once, time the bare forward, report.
//!
//! The server is what criterion samples use: the model is loaded, compiled, spread
//! over the workers and warmed up once, then each sample is [`Server::measure`].

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use tch::Tensor;

use super::arrivals::poisson_schedule;
use super::backend::{buffer_shape, Backend, BackendPlan};
use super::bare;
use super::collector::Collector;
use super::inputs::InputPool;
use super::stages::{ResponseResult, TensorRequest};
use super::wait::WaitPolicy;
use crate::config::{Arrival, RunConfig};
use crate::device::{ComputeDevice, CpuDevice};
use crate::error::{Error, Result};
use crate::metrics::utilization::{UtilizationSampler, DEFAULT_PERIOD};
use crate::metrics::UtilizationSummary;
use crate::model::{prepare, PreparedModel};
use crate::report::{Environment, RunReport};
use crate::request::{Request, RequestMeta, RunClock, Stamp};

/// How to run, beyond what the configuration says.
pub struct RunOptions<'a> {
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

/// One measured window.
pub struct Window {
    /// Latency, stages and throughput of the window's requests.
    pub collector: Collector,
    /// Utilisation over the window.
    pub utilization: UtilizationSummary,
}

/// A started server: model loaded and compiled, backend threads running, warmed up.
pub struct Server {
    cfg: RunConfig,
    model: PreparedModel,
    inputs: InputPool,
    client: Client,
    backend: Backend,
    intra_op_threads: u32,
    next_id: u64,
    /// Latency of the cold-start request.
    pub warmup_ns: u64,
}

impl Server {
    /// Loads and compiles the model, starts the backend, sends the cold-start request
    /// alone and then the extra warm-up requests, awaiting each.
    pub fn start(
        cfg: &RunConfig,
        device: Arc<dyn ComputeDevice>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        cfg.validate()?;
        let batching = cfg.backend.batching;
        let intra_op_threads = cfg.intra_op_threads();
        tch::set_num_threads(intra_op_threads as i32);
        progress("loading model");
        let model = prepare(&cfg.model, cfg.load.batch_size, cfg.load.seed)?;
        let warmups = 1 + cfg.extra_warmup();
        let (batch, image) = (cfg.load.batch_size, cfg.model.image_size);
        let inputs =
            InputPool::generate(warmups + cfg.load.num_iters, batch, image, cfg.load.seed)?;

        let clock = RunClock::start();
        let wait = WaitPolicy::spin_then_park(Duration::from_micros(cfg.backend.spin_wait_us));
        let (request_tx, request_rx) = unbounded::<TensorRequest>();
        let (response_tx, response_rx) = unbounded::<ResponseResult>();
        let plan = BackendPlan {
            model: &model,
            device: Arc::clone(&device),
            workers: cfg.backend.workers,
            streams: cfg.backend.streams,
            intra_op_threads,
            batching,
            buffer_shape: buffer_shape(&batching, batch, image),
            clock,
            wait,
        };
        let backend = Backend::spawn(plan, request_rx, response_tx)?;
        let client = Client {
            tx: request_tx,
            rx: response_rx,
            clock,
            batch,
            wait,
        };
        let mut server = Self {
            cfg: cfg.clone(),
            model,
            inputs,
            client,
            backend,
            intra_op_threads,
            next_id: 0,
            warmup_ns: 0,
        };
        progress("warm-up");
        if let Err(e) = server.warm_up(warmups as u64) {
            // The warm-up error names the failing stage; stopping only cleans up.
            let _ = server.stop();
            return Err(e);
        }
        Ok(server)
    }

    fn warm_up(&mut self, warmups: u64) -> Result<()> {
        let cold = self.send_next()?;
        let meta = self.client.receive(0, 1)?;
        debug_assert_eq!(meta.id, cold);
        self.warmup_ns = meta
            .stamps
            .latency_ns()
            .expect("received responses are fully stamped; this is a bug");
        for _ in 1..warmups {
            self.send_next()?;
        }
        for k in 1..warmups {
            self.client.receive(k, warmups)?;
        }
        Ok(())
    }

    fn send_next(&mut self) -> Result<u64> {
        let id = self.next_id;
        self.client.send(id, self.inputs.get(id))?;
        self.next_id += 1;
        Ok(id)
    }

    /// Sends `n` requests with the configured arrival process and collects them,
    /// sampling utilisation over the window.
    pub fn measure(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        let first = self.next_id;
        let sampler = UtilizationSampler::start(DEFAULT_PERIOD);
        let collector = Collector::new(keep_trace);
        let collected = match self.cfg.load.arrival {
            Arrival::Burst => {
                collect_open_loop(&self.client, &self.inputs, first, n, None, collector)
            }
            Arrival::Poisson(rate) => {
                let schedule = poisson_schedule(rate, n as usize, self.cfg.load.seed ^ first);
                collect_open_loop(
                    &self.client,
                    &self.inputs,
                    first,
                    n,
                    Some(schedule),
                    collector,
                )
            }
            Arrival::Concurrency(c) => {
                collect_closed_loop(&self.client, &self.inputs, first, n, c as u64, collector)
            }
        };
        let utilization = sampler.stop();
        self.next_id = first + n;
        Ok(Window {
            collector: collected?,
            utilization,
        })
    }

    /// Throughput of the bare forward loop on the same model, inputs and threads.
    pub fn bare_forward(&self, iters: u32) -> Result<f64> {
        bare::bare_forward_throughput(
            &self.model,
            &self.inputs,
            self.cfg.backend.workers,
            self.intra_op_threads,
            iters,
        )
    }

    /// Hangs up the request queue and waits for every stage to finish.
    pub fn stop(self) -> Result<()> {
        drop(self.client);
        self.backend.join()
    }
}

/// Runs the pipeline once as `cfg` describes, on the CPU, without dynamic batching.
pub fn run(cfg: &RunConfig) -> Result<RunReport> {
    run_with(cfg, RunOptions::default()).map(|outcome| outcome.report)
}

/// Runs the pipeline once with explicit options.
pub fn run_with(cfg: &RunConfig, options: RunOptions<'_>) -> Result<RunOutcome> {
    let RunOptions {
        device,
        keep_trace,
        mut progress,
    } = options;
    let progress = progress.as_mut();
    let mut server = Server::start(cfg, Arc::clone(&device), progress)?;
    // The bare loop is timed half before and half after the pipeline window, and the
    // two throughputs averaged, so that a machine drifting faster or slower during the
    // run moves both sides of the efficiency ratio alike.
    let bare_iters = cfg.load.num_iters.div_ceil(2);
    let bare_before = if cfg.measure_bare_forward {
        progress("timing the bare forward (1/2)");
        Some(server.bare_forward(bare_iters))
    } else {
        None
    };
    progress("measuring");
    let window = server.measure(cfg.load.num_iters as u64, keep_trace);
    let bare = match (&window, bare_before) {
        (Ok(_), Some(Ok(before))) => {
            progress("timing the bare forward (2/2)");
            Some(
                server
                    .bare_forward(bare_iters)
                    .map(|after| (before + after) / 2.0),
            )
        }
        (_, Some(Err(e))) => Some(Err(e)),
        _ => None,
    };
    let warmup_ns = server.warmup_ns;
    let intra = server.intra_op_threads;
    let (model_info, load, compile) = (
        server.model.info.clone(),
        server.model.load_time,
        server.model.compile_time,
    );
    let stopped = server.stop();
    let Window {
        mut collector,
        utilization,
    } = window?;
    stopped?;
    let bare = bare.transpose()?;
    let report = RunReport::build(
        cfg,
        model_info,
        load,
        compile,
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
    wait: WaitPolicy,
}

impl Client {
    fn send(&self, id: u64, payload: Tensor) -> Result<()> {
        send_request(&self.tx, &self.clock, id, self.batch, payload)
    }

    /// The next response, stamped on arrival; an error if the backend stopped.
    fn receive(&self, answered: u64, expected: u64) -> Result<RequestMeta> {
        match self.wait.recv(&self.rx) {
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
fn send_request(
    tx: &Sender<TensorRequest>,
    clock: &RunClock,
    id: u64,
    samples: u32,
    payload: Tensor,
) -> Result<()> {
    tx.send(Request::sent_now(id, samples, payload, clock))
        .map_err(|_| Error::Pipeline("the backend stopped taking requests".into()))
}

/// How far ahead of the first intended send a schedule starts, so that the sender
/// thread is up before its first deadline.
const SCHEDULE_LEAD_NS: u64 = 2_000_000;

/// Open loop: a sender thread puts the requests on the queue, back to back (burst,
/// `schedule` None) or each at its intended time, while this thread collects, so no
/// response waits for the sending to end.
fn collect_open_loop(
    client: &Client,
    inputs: &InputPool,
    first: u64,
    n: u64,
    schedule: Option<Vec<u64>>,
    mut collector: Collector,
) -> Result<Collector> {
    let payloads: Vec<Tensor> = (first..first + n).map(|id| inputs.get(id)).collect();
    let (tx, clock, batch) = (client.tx.clone(), client.clock, client.batch);
    let start = clock.now() + SCHEDULE_LEAD_NS;
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            let mut offsets = schedule.into_iter().flatten();
            for (id, payload) in (first..).zip(payloads) {
                let request = match offsets.next() {
                    None => Request::sent_now(id, batch, payload, &clock),
                    Some(offset) => {
                        let intended = start + offset;
                        sleep_until(&clock, intended);
                        Request::scheduled(id, batch, payload, intended, &clock)
                    }
                };
                if tx.send(request).is_err() {
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

/// Sleeps until clock reading `at`: the OS sleep for all but the last 200 µs (its
/// usual overshoot), then polling, so that sender lag stays in the µs on an idle core.
fn sleep_until(clock: &RunClock, at: u64) {
    const POLL_NS: u64 = 200_000;
    loop {
        let now = clock.now();
        if now >= at {
            return;
        }
        let left = at - now;
        if left > POLL_NS {
            std::thread::sleep(std::time::Duration::from_nanos(left - POLL_NS));
        } else {
            std::hint::spin_loop();
        }
    }
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
