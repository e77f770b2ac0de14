//! `inferbench serve`: the pipeline (batcher, copy stages, workers, streams, every
//! compile mode, precision and model file) behind a network front that speaks the
//! Open Inference Protocol over HTTP/1.1, HTTP/2 and gRPC, with Prometheus metrics,
//! image pre-processing and softmax / top-k post-processing as stages of their own.
//!
//! Start-up: the listeners open first (live, not ready: 503 on inference), the model
//! is loaded, compiled and warmed up by the pipeline's own [`Server`], one probe
//! request learns the output's type and shape, and the front takes over the
//! pipeline's queues ([`engine`]). Shutdown (SIGINT or SIGTERM): readiness goes to
//! 503, the listeners stop accepting, requests in flight are answered (up to the
//! drain timeout), then the pipeline stops and a summary of what was served is
//! returned. [`start`] gives a [`Running`] server to drive (tests, scripts);
//! [`Running::until_signal`] is the command line's.
//!
//! - [`engine`]: the bridge to the pipeline and the server's phase.
//! - [`http`], [`grpc`]: the two fronts; [`infer`]: what they share per request.
//! - [`signature`]: the model on the wire and the check of every request.
//! - [`preprocess`], [`postprocess`]: the image and classifier stages.
//! - [`timeline`], [`metrics`]: where a request's time goes, and `/metrics`.

pub mod engine;
pub mod grpc;
pub mod http;
pub mod infer;
pub mod metrics;
pub mod postprocess;
pub mod preprocess;
pub mod signature;
pub mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{CompileMode, ModelFile, RunConfig};
use crate::error::{Error, Result};
use crate::pipeline::Server;
pub use engine::{Engine, Phase};
pub use postprocess::Postprocess;
use signature::{InputSlot, SampleRange, Signature, IMAGE_INPUT};

/// The platform named in model metadata.
pub const PLATFORM: &str = "inferbench_libtorch";

/// How to serve, beyond what the pipeline's configuration says.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The REST address (port 0: any free port).
    pub http: SocketAddr,
    /// The gRPC address; `None`: no gRPC.
    pub grpc: Option<SocketAddr>,
    /// The largest request body (and gRPC message) accepted, bytes.
    pub max_body: usize,
    /// Threads that run the network fronts.
    pub io_threads: usize,
    /// With `Some(n)`: the model takes encoded images, decoded on `n` threads.
    pub preprocess_threads: Option<usize>,
    /// What happens to the model's output.
    pub postprocess: Postprocess,
    /// The name clients address the model by [default: the model's label].
    pub model_name: Option<String>,
    /// How long a shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

/// Where the server listens, once it does.
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    /// The REST address.
    pub http: SocketAddr,
    /// The gRPC address.
    pub grpc: Option<SocketAddr>,
}

/// What a server did, from start to shutdown.
#[derive(Debug, Clone)]
pub struct Served {
    /// The model's name on the wire.
    pub model: String,
    /// Requests answered.
    pub answered: u64,
    /// Requests not answered, by reason.
    pub failed: Vec<(&'static str, u64)>,
    /// Mean time per server stage of the answered requests, ms.
    pub stages_ms: Vec<(&'static str, f64)>,
    /// Ready to shutdown, seconds.
    pub served_s: f64,
    /// Why the pipeline stopped, when it failed.
    pub failure: Option<String>,
}

/// The name clients use for `cfg`'s model.
pub fn default_model_name(cfg: &RunConfig) -> String {
    cfg.model
        .label()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A server started by [`start`]: listening, loading or ready.
pub struct Running {
    runtime: tokio::runtime::Runtime,
    engine: Arc<Engine>,
    fronts: Fronts,
    stop: watch::Sender<bool>,
    loading: Option<std::sync::mpsc::Receiver<Result<Loaded>>>,
    loaded: Option<Loaded>,
    ready_at: Option<Instant>,
    drain_timeout: Duration,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
}

type Loaded = (Server, std::thread::JoinHandle<()>);

/// Opens the listeners (live, not ready) and starts loading `cfg`'s pipeline on a
/// thread of its own; `progress` is told each phase.
pub fn start(
    cfg: &RunConfig,
    options: &ServeOptions,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Running> {
    cfg.validate()?;
    let model = options
        .model_name
        .clone()
        .unwrap_or_else(|| default_model_name(cfg));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.io_threads.max(1))
        .thread_name("net-io")
        .enable_all()
        .build()
        .map_err(|e| Error::Pipeline(format!("cannot start the network runtime: {e}")))?;
    let engine = Engine::new(&model);
    let (stop, stopped) = watch::channel(false);
    let fronts = runtime.block_on(start_fronts(&engine, options, stopped))?;
    let (load_tx, load_rx) = std::sync::mpsc::channel();
    let (load_cfg, load_options, load_engine) = (cfg.clone(), options.clone(), Arc::clone(&engine));
    let load_progress = Arc::clone(&progress);
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let loaded = load(
                &load_cfg,
                &load_options,
                &load_engine,
                load_progress.as_ref(),
            );
            let _ = load_tx.send(loaded);
        })
        .map_err(|e| Error::Pipeline(format!("cannot start the loading thread: {e}")))?;
    Ok(Running {
        runtime,
        engine,
        fronts,
        stop,
        loading: Some(load_rx),
        loaded: None,
        ready_at: None,
        drain_timeout: options.drain_timeout,
        progress,
    })
}

impl Running {
    /// Where the server listens.
    pub fn listening(&self) -> Listening {
        self.fronts.listening
    }

    /// The bridge (phase, metrics).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Waits until the model is ready, at most `timeout`: `Ok(false)` when it is
    /// still loading then, the loading's error when it failed.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<bool> {
        let Some(rx) = &self.loading else {
            return Ok(self.loaded.is_some());
        };
        match rx.recv_timeout(timeout) {
            Ok(loaded) => {
                self.loading = None;
                self.loaded = Some(loaded?);
                self.ready_at = Some(Instant::now());
                (self.progress)("ready");
                Ok(true)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(false),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                self.loading = None;
                Err(Error::Pipeline(
                    "the loading thread ended without a word; this is a bug".into(),
                ))
            }
        }
    }

    /// Serves until SIGINT or SIGTERM (loading first), then stops as [`Running::stop`].
    pub fn until_signal(mut self) -> Result<Served> {
        let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.runtime
            .spawn(flag_on_signal(Arc::clone(&signalled), self.stop.clone()));
        let is_set = || signalled.load(std::sync::atomic::Ordering::Acquire);
        while !self.wait_ready(Duration::from_millis(100))? {
            if is_set() {
                // Stopped while loading: the loading thread is left to the process's exit.
                let _ = self.stop.send(true);
                self.runtime
                    .block_on(self.fronts.join(Duration::from_secs(1)));
                return Err(Error::Interrupted);
            }
        }
        let mut stopped = self.stop.subscribe();
        self.runtime.block_on(async {
            let _ = stopped.wait_for(|s| *s).await;
        });
        self.stop()
    }

    /// Stops: readiness goes to 503, the listeners stop accepting, requests in
    /// flight are answered (up to the drain timeout), the pipeline stops.
    pub fn stop(self) -> Result<Served> {
        let Running {
            runtime,
            engine,
            fronts,
            stop,
            loaded,
            ready_at,
            drain_timeout,
            progress,
            ..
        } = self;
        progress("stopping: answering the requests in flight");
        engine.drain();
        let _ = stop.send(true);
        runtime.block_on(fronts.join(drain_timeout));
        let served_s = ready_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
        engine.close();
        let stopped = match loaded {
            Some((server, dispatcher)) => {
                let stopped = server.stop();
                let _ = dispatcher.join();
                stopped
            }
            None => Ok(()),
        };
        drop(runtime);
        let failure = match engine.phase() {
            Phase::Failed => Some(engine.not_ready().message),
            _ => None,
        };
        if failure.is_none() {
            stopped?;
        }
        Ok(Served {
            answered: engine.metrics.answered_count(),
            failed: engine.metrics.failed_counts(&engine.model),
            stages_ms: engine.metrics.stage_means_ms(&engine.model),
            model: engine.model.clone(),
            served_s,
            failure,
        })
    }
}

/// Loads and warms the pipeline, learns its output, and opens the engine.
fn load(
    cfg: &RunConfig,
    options: &ServeOptions,
    engine: &Arc<Engine>,
    progress: &dyn Fn(&str),
) -> Result<Loaded> {
    let device = crate::device::open(cfg.backend.device)?;
    let mut say = |line: &str| progress(line);
    let server = Server::start(cfg, device, &mut say)?;
    let queues = server.queues();
    progress("probing the output");
    let probe = server.workload().inputs_of(0);
    let mut meta =
        crate::request::RequestMeta::new(queues.first_id, cfg.load.batch_size, queues.clock.now());
    meta.stamps.set(
        crate::request::Stamp::Sent,
        meta.stamps.get(crate::request::Stamp::Intended),
    );
    queues
        .requests
        .send(crate::request::Request {
            meta,
            payload: probe,
        })
        .map_err(|_| Error::Pipeline("the pipeline stopped before the probe".into()))?;
    let output = queues
        .responses
        .recv_timeout(Duration::from_secs(600))
        .map_err(|_| Error::Pipeline("the probe request got no answer in 10 minutes".into()))??
        .payload;
    let datatype = crate::oip::torch::datatype_of(output.kind()).ok_or_else(|| {
        Error::Pipeline(format!(
            "the model's output has element type {:?}, which the protocol cannot carry",
            output.kind()
        ))
    })?;
    let per_sample = output.size()[1..].to_vec();
    let specs = cfg.model.input_specs();
    let prep = match options.preprocess_threads {
        Some(threads) => Some(preprocess::PrepPool::start(
            preprocess::ImagePrep::for_inputs(&specs)?,
            threads,
        )?),
        None => None,
    };
    let signature = Signature {
        model: engine.model.clone(),
        inputs: specs
            .iter()
            .enumerate()
            .map(|(k, spec)| InputSlot {
                name: format!("input__{k}"),
                spec: spec.clone(),
            })
            .collect(),
        outputs: options.postprocess.outputs(datatype, &per_sample)?,
        samples: sample_range(cfg),
        image_input: prep.as_ref().map(|_| IMAGE_INPUT.to_string()),
    };
    let ready = engine::Ready {
        signature,
        clock: queues.clock,
        postprocess: options.postprocess,
        prep,
        kinds: specs.iter().map(|s| s.dtype.kind()).collect(),
    };
    let mut queues = queues;
    queues.first_id += 1;
    let dispatcher = engine.open(queues, ready)?;
    Ok((server, dispatcher))
}

/// How many samples one request may carry: up to `--batch-size`, or exactly that
/// for an AOTInductor package compiled for one batch size (without dynamic batching
/// a built-in model's package is exported for that batch; a user's package is
/// taken as the probe ran it).
fn sample_range(cfg: &RunConfig) -> SampleRange {
    let batch = cfg.load.batch_size;
    let aoti_file = matches!(ModelFile::find(&cfg.model.name), Some((kind, ..)) if kind.as_saved() == CompileMode::AotInductor);
    let static_batch = cfg.model.compile == CompileMode::AotInductor
        && (aoti_file || matches!(cfg.backend.batching, crate::config::BatchPolicy::None));
    if static_batch {
        SampleRange::Exactly(batch)
    } else {
        SampleRange::UpTo(batch)
    }
}

/// The two fronts' tasks.
struct Fronts {
    listening: Listening,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fronts {
    /// Waits for the fronts to stop (they stop accepting at once, then wait for
    /// requests in flight), at most `drain` long.
    async fn join(self, drain: Duration) {
        let all = futures_join(self.tasks);
        let _ = tokio::time::timeout(drain, all).await;
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn start_fronts(
    engine: &Arc<Engine>,
    options: &ServeOptions,
    stop: watch::Receiver<bool>,
) -> Result<Fronts> {
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|e| {
            Error::Pipeline(format!(
                "cannot listen on {addr}: {e}; choose another port (--http-port, --grpc-port; 0 takes any free one)"
            ))
        })
    };
    let http = bind(options.http).await?;
    let grpc = match options.grpc {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let local = |l: &TcpListener| {
        l.local_addr()
            .map_err(|e| Error::Pipeline(format!("cannot read the listening address: {e}")))
    };
    let listening = Listening {
        http: local(&http)?,
        grpc: grpc.as_ref().map(local).transpose()?,
    };
    let mut tasks = vec![tokio::spawn(accept_http(
        http,
        Arc::clone(engine),
        options.max_body,
        stop.clone(),
    ))];
    if let Some(listener) = grpc {
        tasks.push(tokio::spawn(serve_grpc(
            listener,
            Arc::clone(engine),
            options.max_body,
            stop,
        )));
    }
    Ok(Fronts { listening, tasks })
}

async fn accept_http(
    listener: TcpListener,
    engine: Arc<Engine>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else {
            continue; // a connection that failed before it was ours
        };
        let _ = stream.set_nodelay(true);
        let engine = Arc::clone(&engine);
        let service =
            hyper::service::service_fn(move |req| http::handle(req, Arc::clone(&engine), max_body));
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn serve_grpc(
    listener: TcpListener,
    engine: Arc<Engine>,
    max_body: usize,
    mut stop: watch::Receiver<bool>,
) {
    use crate::oip::grpc::grpc_inference_service_server::GrpcInferenceServiceServer;
    let service = GrpcInferenceServiceServer::new(grpc::GrpcFront { engine })
        .max_decoding_message_size(max_body)
        .max_encoding_message_size(usize::MAX);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let served = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        eprintln!("[serve] the gRPC front stopped: {e}");
    }
}

/// Sets `flag` and flips `stop` on SIGINT or SIGTERM.
async fn flag_on_signal(flag: Arc<std::sync::atomic::AtomicBool>, stop: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("[serve] cannot watch SIGINT/SIGTERM; stop the server with SIGKILL");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    flag.store(true, std::sync::atomic::Ordering::Release);
    let _ = stop.send(true);
}
