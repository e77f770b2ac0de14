//! A server that stays up between measurements: the model is loaded, compiled,
//! spread over the workers and warmed up once ([`Server::start`]), then each
//! criterion sample or run is one [`Server::measure`] window.
//!
//! Every wait for a response has a deadline (see [`super::watch`]): a run's ends by
//! its wall-clock limit, and after the warm-up by a stall timeout derived from the
//! slowest warm-up response, so that a stage that stops answering ends the window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;

use super::arrivals::poisson_schedule;
use super::backend::{Backend, BackendPlan};
use super::collector::Collector;
use super::loadgen::{collect_burst, collect_closed_loop, warm_up, Client};
use super::pinning::Placement;
use super::scheduled::collect_on_schedule;
use super::stages::{ResponseResult, ResponseSink, Responses, TensorRequest};
use super::wait::WaitPolicy;
use super::watch::{Cut, Watch};
use crate::config::limits::RunLimits;
use crate::config::{Arrival, RunConfig};
use crate::device::{openmp, ComputeDevice};
use crate::error::Result;
use crate::metrics::utilization::{GpuId, UtilizationSampler, DEFAULT_PERIOD};
use crate::metrics::{DeviceStageSummary, DeviceStageTimes, UtilizationSummary};
use crate::request::RunClock;
use crate::results::{LoadGenerator, Pickup, ServerFacts};

pub use super::workload::Workload;

/// One measured window.
pub struct Window {
    /// Latency, stages and throughput of the window's requests.
    pub collector: Collector,
    /// Utilisation over the window.
    pub utilization: UtilizationSummary,
    /// Why the window ended before its last response; `None` for a whole window.
    pub cut: Option<Cut>,
    /// Mean device time per batch of each stage; `None` without timing events (the CPU).
    pub device_stages: Option<DeviceStageSummary>,
    /// Open loop on a schedule: how the client waited and its CPU; `None` otherwise.
    pub load_generator: Option<LoadGenerator>,
}

/// The request and response queues of a started server (see [`Server::queues`]).
pub struct Queues {
    /// Where requests go in; stamp them with [`RunClock`] readings of `clock`.
    pub requests: crossbeam_channel::Sender<TensorRequest>,
    /// Where responses (or the error that stopped a stage) come out.
    pub responses: crossbeam_channel::Receiver<ResponseResult>,
    /// The backend's clock.
    pub clock: RunClock,
    /// The first request id the warm-up did not use.
    pub first_id: u64,
}

/// A started server: a [`Workload`] with the backend's threads running, warmed up.
pub struct Server {
    work: Workload,
    client: Client,
    backend: Backend,
    responses: Responses,
    device_times: Arc<DeviceStageTimes>,
    next_id: u64,
    limits: RunLimits,
    /// The run's wall-clock limit; `None` for a server that measures many windows.
    run_end: Option<Instant>,
    /// Set after the warm-up.
    stall: Option<Duration>,
    /// A window was cut short: the stages are cancelled on stop and not awaited long.
    cut: bool,
    /// Latency of the cold-start request.
    pub warmup_ns: u64,
    /// The client's core and the server threads' cores, where the machine has a
    /// core for each ([`Placement`]); `None`: the OS places them.
    placement: Option<Placement>,
}

impl Server {
    /// Loads and compiles the model, starts the backend, sends the cold-start request
    /// alone and then the extra warm-up requests, awaiting each.
    /// Without a wall-clock limit (a criterion suite measures many windows) but with
    /// the stall timeout.
    pub fn start(
        cfg: &RunConfig,
        device: Arc<dyn ComputeDevice>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        Self::start_within(cfg, device, RunLimits::default(), None, progress)
    }

    /// As [`Server::start`], every wait ending by `run_end` at the latest.
    pub fn start_within(
        cfg: &RunConfig,
        device: Arc<dyn ComputeDevice>,
        limits: RunLimits,
        run_end: Option<Instant>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        let work = Workload::load(cfg, device, progress)?;
        Self::serve(work, limits, run_end, progress)
    }

    /// Starts the backend around `work`, then warms it up as [`Server::start`] says.
    pub fn serve(
        work: Workload,
        limits: RunLimits,
        run_end: Option<Instant>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        let cfg = &work.cfg;
        let batching = cfg.backend.batching;
        let batch = cfg.load.batch_size;
        let warmups = 1 + cfg.extra_warmup();
        let device_times = Arc::new(DeviceStageTimes::default());
        let clock = RunClock::start();
        let wait = WaitPolicy::spin_then_park(Duration::from_micros(cfg.backend.spin_wait_us));
        let (request_tx, request_rx) = unbounded::<TensorRequest>();
        let (response_tx, response_rx) = unbounded::<ResponseResult>();
        let placement = work.placement();
        let plan = BackendPlan {
            model: &work.model,
            device: Arc::clone(&work.device),
            workers: cfg.backend.workers,
            streams: cfg.backend.streams,
            intra_op_threads: work.intra_op_threads,
            batching,
            buffers: input_buffers(&batching, batch, &cfg.model.input_specs()),
            device_times: Arc::clone(&device_times),
            clock,
            wait,
            placement: placement.as_ref(),
        };
        let responses = Responses::new(response_tx);
        let backend = {
            // The server's threads inherit the cores this thread holds meanwhile.
            let _held = placement.as_ref().map(Placement::for_server).transpose()?;
            Backend::spawn(plan, request_rx, responses.clone())?
        };
        // The workers' instances were copied on this thread: release its team again.
        openmp::release_thread_team();
        // Weights were copied on the default stream, which the workers' streams do not
        // wait for: finish them before the first request.
        work.device.synchronize()?;
        let client = Client {
            tx: request_tx,
            rx: response_rx,
            clock,
            batch,
            wait,
        };
        let mut server = Self {
            work,
            client,
            backend,
            responses,
            device_times,
            next_id: 0,
            limits,
            run_end,
            stall: None,
            cut: false,
            warmup_ns: 0,
            placement,
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
        let busy = || self.backend.busy_stages(self.client.clock.now());
        let run_end = self
            .run_end
            .unwrap_or_else(|| Instant::now() + self.limits.max_duration);
        let mut watch = Watch::new(run_end, self.limits.stall_timeout, &busy);
        let (limits, cfg) = (&self.limits, &self.work.cfg);
        let stall_after = |slowest| limits.stall_timeout_after(slowest, cfg);
        let (cold, warm) = warm_up(
            &self.client,
            &self.work.inputs,
            (self.next_id, warmups),
            &mut watch,
            &stall_after,
        )?;
        self.next_id += warmups;
        self.warmup_ns = cold;
        // Later windows: from the warm (not the cold) responses when there were any.
        let slowest = Duration::from_nanos(if warm > 0 { warm } else { cold });
        self.stall = Some(stall_after(slowest));
        Ok(())
    }

    /// Sends `n` requests with the configured arrival process and collects them,
    /// sampling utilisation over the window; an error if the window was cut short.
    pub fn measure(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        let window = self.measure_window(n, keep_trace)?;
        match window.cut {
            Some(cut) => Err(cut.into_error()),
            None => Ok(window),
        }
    }

    /// As [`Server::measure`], but a window cut short (stall, time limit, Ctrl-C)
    /// comes back with what it collected and [`Window::cut`] set.
    pub fn measure_window(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        let first = self.next_id;
        self.device_times.take(); // what the warm-up or an earlier window left
                                  // No GPU (the CPU device): NVML's GPU 0, as the report's extra figures.
        let gpu = self.work.device.nvml_id().unwrap_or(GpuId::Index(0));
        let sampler = UtilizationSampler::start_on(DEFAULT_PERIOD, gpu);
        let collector = Collector::new(keep_trace);
        let busy = || self.backend.busy_stages(self.client.clock.now());
        let run_end = self
            .run_end
            .unwrap_or_else(|| Instant::now() + self.limits.max_duration);
        let mut watch = Watch::new(run_end, self.stall, &busy);
        let (client, inputs, span) = (&self.client, &self.work.inputs, (first, n));
        let mut load_generator = None;
        let _client_core = self
            .placement
            .as_ref()
            .map(Placement::for_client)
            .transpose()?;
        let collected = match self.work.cfg.load.arrival {
            Arrival::Burst => collect_burst(client, &mut watch, inputs, span, collector),
            Arrival::Poisson(rate) => {
                let schedule = poisson_schedule(rate, n as usize, self.work.cfg.load.seed ^ first);
                let pickup = match &self.placement {
                    Some(p) => Pickup::on_own_core(p),
                    None => Pickup::choose(crate::config::cores(), self.work.busy_threads()),
                };
                collect_on_schedule(
                    client, &mut watch, inputs, span, &schedule, pickup, collector,
                )
                .map(|(collected, harness)| {
                    load_generator = Some(harness);
                    collected
                })
            }
            Arrival::Concurrency(c) => {
                collect_closed_loop(client, &mut watch, inputs, span, c as u64, collector)
            }
        };
        let utilization = sampler.stop();
        self.next_id = first + n;
        let (collector, cut) = collected?;
        self.cut |= cut.is_some();
        Ok(Window {
            collector,
            utilization,
            cut,
            device_stages: self.device_times.take(),
            load_generator,
        })
    }

    /// What the server knows about itself, for the report.
    pub fn facts(&self) -> ServerFacts {
        self.work.facts(self.warmup_ns)
    }

    /// The workload being served.
    pub fn workload(&self) -> &Workload {
        &self.work
    }

    /// Sends every answer from now on to `sink`, on the thread of the stage that
    /// answers, instead of the response queue (see [`Responses`]); `false` if it
    /// was redirected before.
    pub fn answer_directly(&self, sink: Arc<dyn ResponseSink>) -> bool {
        self.responses.redirect(sink)
    }

    /// The backend's queues, for a front that sends requests of its own (a network
    /// server) instead of measuring windows: ids from [`Queues::first_id`] on are free.
    /// The backend stops only when every sender, these included, has been dropped
    /// and [`Server::stop`] is called.
    pub fn queues(&self) -> Queues {
        Queues {
            requests: self.client.tx.clone(),
            responses: self.client.rx.clone(),
            clock: self.client.clock,
            first_id: self.next_id,
        }
    }

    /// Hangs up the request queue and waits for every stage to finish: up to the
    /// stall timeout after whole windows; after a window was cut short the stages
    /// drop their queued work and a stage still busy a moment later is left behind.
    pub fn stop(self) -> Result<()> {
        self.stop_keeping().1
    }

    /// As [`Server::stop`], giving the workload back (for a bare-forward timing
    /// once the workers have exited).
    pub fn stop_keeping(self) -> (Workload, Result<()>) {
        let grace = if self.cut {
            self.backend.cancel();
            CUT_GRACE
        } else {
            self.stall
                .unwrap_or(crate::config::limits::MIN_STALL_TIMEOUT)
        };
        drop(self.client);
        let joined = self.backend.join(grace);
        (self.work, joined)
    }
}

/// How long stopping waits for the stages after a window was cut short: enough for
/// a stage between batches to see the cancel flag, not for a forward to finish.
const CUT_GRACE: Duration = Duration::from_millis(200);

/// The input buffers of one worker: per model input, `[the most samples a forward
/// takes, ...input shape]` in the input's element type.
pub fn input_buffers(
    batching: &crate::config::BatchPolicy,
    request_samples: u32,
    specs: &[crate::config::InputSpec],
) -> Vec<(Vec<i64>, tch::Kind)> {
    let rows = batching.max_samples(request_samples);
    specs
        .iter()
        .map(|spec| (spec.batched(rows), spec.dtype.kind()))
        .collect()
}
