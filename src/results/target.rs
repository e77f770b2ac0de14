//! What a run against a server over the network (`--target`) knows about that
//! server, beside the client's own figures: where it is, how the client reached
//! it, and the server's own figures for the window when its Prometheus metrics
//! could be read before and after.

use serde::{Deserialize, Serialize};

use crate::config::target::{Encoding, Protocol};

/// The server a run measured over the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetFacts {
    /// The target URL.
    pub url: String,
    /// REST or gRPC.
    pub protocol: Protocol,
    /// The server's name and version from its metadata (`GET /v2`), when it gives them.
    pub server: Option<String>,
    /// Connections the client kept.
    pub connections: u32,
    /// How REST requests carried tensors; `None` for gRPC (raw contents).
    pub encoding: Option<Encoding>,
    /// REST over HTTP/2 (prior knowledge).
    pub http2: bool,
    /// The server is on this machine: client and server shared its cores.
    pub loopback: bool,
    /// The server's own figures over the window, from its metrics.
    pub server_metrics: Option<ServerMetrics>,
    /// Why the server's figures are absent, when they are.
    pub server_metrics_absent: Option<String>,
}

/// Differences of the server's own counters across one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetrics {
    /// Where they were read.
    pub source: String,
    /// The metric families they came from (`triton`, `mlserver`).
    pub families: String,
    /// Requests the server answered.
    pub requests: f64,
    /// Requests it refused or failed.
    pub failures: Option<f64>,
    /// Samples it inferred.
    pub samples: Option<f64>,
    /// Forwards (executions) it ran; samples / forwards is its mean batch.
    pub forwards: Option<f64>,
    /// Mean time on the server per answered request, ms.
    pub request_ms: Option<f64>,
    /// Mean time per server stage per answered request, ms, in order.
    pub stages_ms: Vec<(String, f64)>,
}
