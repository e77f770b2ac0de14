//! [`RemoteServer`]: the client's counterpart of the pipeline's server, for a
//! target over the network.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::unbounded;
use tokio::sync::mpsc;

use super::backend::{self, InFlight, NetSink};
use super::client::{choose_encoding, NetClient};
use super::inputs::{self, EncodedPool, InputPlan};
use super::scrape;
use crate::config::limits::RunLimits;
use crate::config::target::{Encoding, TargetConfig};
use crate::config::{Arrival, RunConfig};
use crate::error::{Error, Result};
use crate::metrics::utilization::{GpuId, UtilizationSampler, DEFAULT_PERIOD};
use crate::oip::json::ModelMetadata;
use crate::pipeline::arrivals::poisson_schedule;
use crate::pipeline::collector::Collector;
use crate::pipeline::loadgen::{collect_burst, collect_closed_loop, warm_up, Client};
use crate::pipeline::scheduled::collect_on_schedule;
use crate::pipeline::wait::WaitPolicy;
use crate::pipeline::watch::Watch;
use crate::pipeline::Window;
use crate::request::{RunClock, StageScheme};
use crate::results::target::{ServerMetrics, TargetFacts};
use crate::results::{ModelInfo, Pickup, ServerFacts};

/// A server over the network, connected, its requests encoded, warmed up.
pub struct RemoteServer {
    cfg: RunConfig,
    target: TargetConfig,
    runtime: tokio::runtime::Runtime,
    client: Client<NetSink, ()>,
    net: NetClient,
    pool: EncodedPool,
    in_flight: Arc<InFlight>,
    plan: Vec<InputPlan>,
    metadata: ModelMetadata,
    server_name: Option<String>,
    encoding: Encoding,
    connections: u32,
    next_id: u64,
    limits: RunLimits,
    run_end: Option<Instant>,
    stall: Option<Duration>,
    warmup_ns: u64,
    scrape: Option<ScrapeResult>,
}

/// The server's figures of the last window, or why there are none.
type ScrapeResult = std::result::Result<ServerMetrics, String>;

impl RemoteServer {
    /// Connects to `cfg`'s target, reads its model's metadata, builds the requests,
    /// and warms it up (the cold-start request alone, then the rest together).
    pub fn start(
        cfg: &RunConfig,
        limits: RunLimits,
        run_end: Option<Instant>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        cfg.validate()?;
        let target = cfg.target.clone().ok_or_else(|| {
            Error::Pipeline("a remote run without a target; this is a bug".into())
        })?;
        let concurrency = match cfg.load.arrival {
            Arrival::Concurrency(c) => Some(c),
            _ => None,
        };
        let connections = target.connections_for(concurrency);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("net-client")
            .enable_all()
            .build()
            .map_err(|e| Error::Pipeline(format!("cannot start the network client: {e}")))?;
        progress(&format!("connecting to {}", target.url));
        let net = runtime.block_on(NetClient::connect(&target, connections))?;
        let server = runtime.block_on(net.server()).ok();
        let server_name = server.as_ref().map(|s| format!("{} {}", s.name, s.version));
        let encoding = choose_encoding(&target, server.as_ref(), progress);
        let metadata = runtime.block_on(net.metadata())?;
        let plan = inputs::plan(&metadata, &cfg.model.inputs, target.images.is_some())?;
        let images = match &target.images {
            Some(dir) => inputs::image_files(dir)?,
            None => Vec::new(),
        };
        progress("building the requests");
        let count = 1 + cfg.extra_warmup() + cfg.load.num_iters;
        let pool = EncodedPool::build(
            &target,
            encoding,
            &plan,
            &images,
            cfg.load.batch_size,
            count,
            cfg.load.seed,
        )?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (response_tx, response_rx) = unbounded();
        let clock = RunClock::start();
        let in_flight = backend::spawn(
            runtime.handle(),
            net.clone(),
            pool.clone(),
            (
                cfg.load.batch_size,
                target.one_request_per_connection().then_some(connections),
            ),
            clock,
            rx,
            response_tx,
        );
        let client = Client {
            tx: NetSink(tx),
            rx: response_rx,
            clock,
            batch: cfg.load.batch_size,
            wait: WaitPolicy::spin_then_park(Duration::from_micros(cfg.backend.spin_wait_us)),
        };
        let mut server = Self {
            cfg: cfg.clone(),
            target,
            runtime,
            client,
            net,
            pool,
            in_flight,
            plan,
            metadata,
            server_name,
            encoding,
            connections,
            next_id: 0,
            limits,
            run_end,
            stall: None,
            warmup_ns: 0,
            scrape: None,
        };
        progress("warm-up");
        server.warm_up()?;
        Ok(server)
    }

    fn busy(&self) -> Option<String> {
        match self.in_flight.now() {
            0 => None,
            n => Some(format!("{n} request(s) in flight at {}", self.target.url)),
        }
    }

    fn warm_up(&mut self) -> Result<()> {
        let warmups = 1 + self.cfg.extra_warmup() as u64;
        let busy = || self.busy();
        let run_end = self
            .run_end
            .unwrap_or_else(|| Instant::now() + self.limits.max_duration);
        let mut watch = Watch::new(run_end, self.limits.stall_timeout, &busy);
        let (limits, cfg) = (&self.limits, &self.cfg);
        let stall_after = |slowest| limits.stall_timeout_after(slowest, cfg);
        let (cold, warm) = warm_up(
            &self.client,
            &self.pool,
            (0, warmups),
            &mut watch,
            &stall_after,
        )?;
        self.next_id = warmups;
        self.warmup_ns = cold;
        self.stall = Some(stall_after(Duration::from_nanos(if warm > 0 {
            warm
        } else {
            cold
        })));
        Ok(())
    }

    /// Sends `n` requests with the configured arrival process and collects them;
    /// the server's metrics are read before and after. A window cut short (a failed
    /// request, a stall, the time limit, Ctrl-C) comes back with what it collected.
    pub fn measure_window(&mut self, n: u64, keep_trace: bool) -> Result<Window> {
        let first = self.next_id;
        let before = self.read_metrics();
        let sampler = UtilizationSampler::start_on(DEFAULT_PERIOD, GpuId::Index(0));
        let collector = Collector::with_scheme(keep_trace, StageScheme::Remote);
        let busy = || self.busy();
        let run_end = self
            .run_end
            .unwrap_or_else(|| Instant::now() + self.limits.max_duration);
        let mut watch = Watch::new(run_end, self.stall, &busy);
        let (client, pool, span) = (&self.client, &self.pool, (first, n));
        let mut load_generator = None;
        let collected = match self.cfg.load.arrival {
            Arrival::Burst => collect_burst(client, &mut watch, pool, span, collector),
            Arrival::Concurrency(c) => {
                collect_closed_loop(client, &mut watch, pool, span, c as u64, collector)
            }
            Arrival::Poisson(rate) => {
                let schedule = poisson_schedule(rate, n as usize, self.cfg.load.seed ^ first);
                collect_on_schedule(
                    client,
                    &mut watch,
                    pool,
                    span,
                    &schedule,
                    self.pickup(),
                    collector,
                )
                .map(|(collected, harness)| {
                    load_generator = Some(harness);
                    collected
                })
            }
        };
        let mut utilization = sampler.stop();
        self.next_id = first + n;
        if !self.target.url.is_loopback() {
            utilization.gpu_pct = None;
            utilization.gpu_memory_used_mib = None;
            utilization.gpu_sm_clock_mhz = None;
            utilization.gpu_power_w = None;
            utilization.gpu_absent_reason =
                Some("the server's GPU is on another machine; see its own metrics".into());
        }
        let after = self.read_metrics();
        self.scrape = self.metrics_url().map(|url| {
            let (before, after) = (before?, after?);
            scrape::window(&before, &after, &self.target.url.model, &url).ok_or_else(|| {
                format!(
                    "{url} has no known metric families for model '{}' (Triton's nv_inference_*, MLServer's model_infer_request_*)",
                    self.target.url.model
                )
            })
        });
        let (collector, cut) = collected?;
        Ok(Window {
            collector,
            utilization,
            cut,
            device_stages: None,
            load_generator,
        })
    }

    /// How the client waits for answers on a schedule: it parks when the server
    /// shares this machine (a spinning client would take a core from it), and spins
    /// while requests are in flight otherwise, when a core is spare.
    fn pickup(&self) -> (Pickup, String) {
        let cores = crate::config::cores();
        if self.target.url.is_loopback() {
            (
                Pickup::Park,
                format!("the server shares this machine's {cores} cores: the client parks, and each response's wake-up is in its latency"),
            )
        } else {
            Pickup::choose(cores, 0)
        }
    }

    fn metrics_url(&self) -> Option<String> {
        self.target.metrics_url()
    }

    /// The server's metrics now; `None` without a metrics URL.
    fn read_metrics(&self) -> std::result::Result<Vec<scrape::Sample>, String> {
        let Some(url) = self.metrics_url() else {
            return Err("no metrics URL".into());
        };
        let text = self
            .runtime
            .block_on(scrape::get_text(&url))
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        Ok(scrape::parse(&text))
    }

    /// What the client knows of the server, for the report.
    pub fn facts(&self) -> ServerFacts {
        let first_output = self.metadata.outputs.first();
        let per_sample = first_output
            .and_then(|o| o.shape.get(1..))
            .filter(|dims| dims.iter().all(|&d| d > 0))
            .map_or(0, |dims| dims.iter().product());
        let image_size = self
            .plan
            .iter()
            .find_map(|p| match p {
                InputPlan::Drawn { spec, .. } if spec.shape.len() == 3 && spec.shape[0] == 3 => {
                    Some(spec.shape[1] as u32)
                }
                _ => None,
            })
            .unwrap_or(0);
        ServerFacts {
            model: ModelInfo {
                arch: self.metadata.name.clone(),
                weights: "remote".into(),
                parameters: None,
                image_size,
                num_classes: per_sample,
                inputs: self.plan.iter().map(InputPlan::describe).collect(),
                output: first_output.map(|o| {
                    format!(
                        "output '{}' {} {:?} of {} output(s)",
                        o.name,
                        o.datatype,
                        o.shape,
                        self.metadata.outputs.len()
                    )
                }),
                compile_cache: None,
                cuda_graph: None,
            },
            device: format!("remote: {}", self.target.url),
            intra_op_threads: None,
            compute_threads: 0,
            oversubscribed: false, // RunReport::new sets it
            load_time_s: None,
            compile_time_s: None,
            warmup_latency_ms: crate::metrics::ms(self.warmup_ns as f64),
        }
    }

    /// What the report says of the target, with the last window's server figures.
    pub fn target_facts(&self) -> TargetFacts {
        let (server_metrics, absent) = match &self.scrape {
            Some(Ok(m)) => (Some(m.clone()), None),
            Some(Err(why)) => (None, Some(why.clone())),
            None => (
                None,
                Some("not read (a gRPC target's metrics URL is not known: give --server-metrics URL)".into()),
            ),
        };
        TargetFacts {
            url: self.target.url.to_string(),
            protocol: self.target.url.protocol,
            server: self.server_name.clone(),
            connections: self.connections,
            encoding: (self.target.url.protocol == crate::config::target::Protocol::Http)
                .then_some(self.encoding),
            http2: self.target.http2,
            loopback: self.target.url.is_loopback(),
            server_metrics,
            server_metrics_absent: absent,
        }
    }

    /// The client used, for calls outside a window.
    pub fn net(&self) -> &NetClient {
        &self.net
    }

    /// Hangs up the request queue and stops the network side.
    pub fn stop(self) {
        let Self {
            client, runtime, ..
        } = self;
        drop(client);
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}
