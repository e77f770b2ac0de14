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
mod fronts;
pub mod grpc;
pub mod http;
pub mod infer;
mod load;
pub mod metrics;
mod polling;
pub mod postprocess;
pub mod preprocess;
mod running;
pub mod signature;
pub mod timeline;

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::RunConfig;
pub use engine::{Engine, Phase};
pub use postprocess::Postprocess;
pub use running::{start, Running};

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
