//! A started server ([`start`] → [`Running`]): its runtime, fronts and loading
//! thread, and the order of its shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::engine::{Engine, Phase};
use super::fronts::{start_fronts, Fronts};
use super::load::{load, Loaded};
use super::{default_model_name, Listening, ServeOptions, Served};
use crate::config::RunConfig;
use crate::error::{Error, Result};

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
    engine.poll_answers_for(std::time::Duration::from_micros(cfg.backend.spin_wait_us));
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
            Some(server) => server.stop(),
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
