//! A server measured over the network (`--target URL`): where it is, which model,
//! and how the client talks to it. With a target, a run's load (requests, batch,
//! arrival, seed, inputs) is the client's; the server's own settings are the
//! server's, and a run refuses them by name rather than record them unhonoured.
//!
//! ```text
//! http://HOST:PORT/v2/models/NAME[/versions/V]   the protocol's REST side
//! grpc://HOST:PORT/NAME[/V]                      its gRPC side
//! ```

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{
    Arrival, BackendConfig, BatchPolicy, CompileMode, DeviceSpec, ModelConfig, Precision, Quantize,
    RunConfig,
};
use crate::error::{Error, Result};

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// REST over HTTP/1.1 (or HTTP/2 with prior knowledge, `--http2`).
    Http,
    /// gRPC (HTTP/2).
    Grpc,
}

/// How tensors travel in REST requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The binary tensor data extension, inputs and outputs (what fast clients use).
    #[default]
    Binary,
    /// JSON numbers, both ways (what every server speaks).
    Json,
}

/// A parsed target URL; as JSON or TOML, the URL as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetUrl {
    /// REST or gRPC.
    pub protocol: Protocol,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The model's name on the server.
    pub model: String,
    /// The model's version, when given.
    pub version: Option<String>,
}

/// The server a run measures. In a sweep file, a `[target]` table:
///
/// ```toml
/// [target]
/// url = "http://127.0.0.1:8000/v2/models/resnet18-32px"
/// connections = 4        # optional
/// encoding = "json"      # optional: binary (default) or json
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Where, and which model.
    pub url: TargetUrl,
    /// Connections the client keeps (REST: each one request at a time; gRPC: HTTP/2
    /// channels, each many). Default: the closed loop's concurrency, 64 for an open
    /// loop or a burst (REST); 1 (gRPC).
    #[serde(default)]
    pub connections: Option<u32>,
    /// REST over HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1. Default false.
    #[serde(default)]
    pub http2: bool,
    /// How REST requests carry tensors. Default (none): binary where the server
    /// lists the binary tensor data extension in its metadata (`GET /v2`), JSON
    /// where it does not (MLServer).
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// A folder of JPEG or PNG files sent as encoded images (BYTES), in turn;
    /// default none: tensors drawn from the inputs' specs.
    #[serde(default)]
    pub images: Option<PathBuf>,
    /// Where the server's Prometheus metrics are read before and after each window:
    /// default for REST the target's own `/metrics`; `None` after `off`.
    #[serde(default)]
    pub metrics: MetricsSource,
}

/// Where a target's Prometheus metrics come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "from", content = "url")]
pub enum MetricsSource {
    /// The REST target's own `/metrics`, if it answers; none for gRPC.
    #[default]
    Auto,
    /// This URL.
    Url(String),
    /// Not read.
    Off,
}

impl std::str::FromStr for TargetUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::config(
                "target",
                format!("'{text}': {why}; expected http://HOST:PORT/v2/models/NAME or grpc://HOST:PORT/NAME"),
            )
        };
        let (protocol, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Protocol::Http, rest)
        } else if let Some(rest) = text.strip_prefix("grpc://") {
            (Protocol::Grpc, rest)
        } else if text.starts_with("openai://") {
            return Err(bad(
                "an openai:// target is an LLM server, measured by its streams: use `inferbench llm --target URL --model NAME` (docs/llm.md)",
            ));
        } else if text.starts_with("https://") || text.starts_with("grpcs://") {
            return Err(bad(
                "TLS is not supported; measure the server behind its TLS terminator",
            ));
        } else {
            return Err(bad("the scheme must be http:// or grpc://"));
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("the port is missing"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        let segments: Vec<&str> = path
            .trim_end_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let (model, version) = match (protocol, segments.as_slice()) {
            (Protocol::Http, ["v2", "models", name]) => (*name, None),
            (Protocol::Http, ["v2", "models", name, "versions", v]) => (*name, Some(*v)),
            (Protocol::Http, _) => return Err(bad("the path must be /v2/models/NAME")),
            (Protocol::Grpc, [name]) => (*name, None),
            (Protocol::Grpc, [name, v]) => (*name, Some(*v)),
            (Protocol::Grpc, _) => return Err(bad("the path must be /NAME (the model's name)")),
        };
        Ok(Self {
            protocol,
            host: host.to_string(),
            port,
            model: model.to_string(),
            version: version.map(str::to_string),
        })
    }
}

impl TryFrom<String> for TargetUrl {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

impl From<TargetUrl> for String {
    fn from(url: TargetUrl) -> Self {
        url.to_string()
    }
}

impl TargetUrl {
    /// `http://HOST:PORT` (gRPC too: tonic connects over HTTP/2 to it).
    pub fn origin(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// The model's REST path, `/v2/models/NAME[/versions/V]`.
    pub fn model_path(&self) -> String {
        match &self.version {
            Some(v) => format!("/v2/models/{}/versions/{v}", self.model),
            None => format!("/v2/models/{}", self.model),
        }
    }

    /// Whether the host is this machine (client and server then share its cores).
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Http => write!(f, "{}{}", self.origin(), self.model_path()),
            Protocol::Grpc => {
                let host = self.origin().trim_start_matches("http://").to_string();
                write!(f, "grpc://{host}/{}", self.model)?;
                match &self.version {
                    Some(v) => write!(f, "/{v}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl TargetConfig {
    /// A target at `url` with the client's defaults.
    pub fn new(url: TargetUrl) -> Self {
        Self {
            url,
            connections: None,
            http2: false,
            encoding: None,
            images: None,
            metrics: MetricsSource::Auto,
        }
    }

    /// Connections to keep, given the run's closed-loop concurrency (if any).
    pub fn connections_for(&self, concurrency: Option<u32>) -> u32 {
        self.connections
            .unwrap_or(match (self.url.protocol, concurrency) {
                (Protocol::Grpc, _) => 1,
                (Protocol::Http, Some(c)) => c.max(1),
                (Protocol::Http, None) => 64,
            })
    }

    /// Whether each connection carries one request at a time (REST over HTTP/1.1),
    /// so that requests wait for a free connection; HTTP/2 and gRPC multiplex.
    pub fn one_request_per_connection(&self) -> bool {
        self.url.protocol == Protocol::Http && !self.http2
    }

    /// The metrics URL to read, if any.
    pub fn metrics_url(&self) -> Option<String> {
        match (&self.metrics, self.url.protocol) {
            (MetricsSource::Url(u), _) => Some(u.clone()),
            (MetricsSource::Auto, Protocol::Http) => Some(format!("{}/metrics", self.url.origin())),
            _ => None,
        }
    }
}

impl RunConfig {
    /// With a target, every server setting must be at its default: the server has
    /// its own, and a record must not claim one that did not apply.
    pub(super) fn validate_target(&self, target: &TargetConfig) -> Result<()> {
        let defaults = (BackendConfig::default(), ModelConfig::default());
        let b = &self.backend;
        let m = &self.model;
        let settings: [(&'static str, bool); 10] = [
            ("workers", b.workers != defaults.0.workers),
            ("streams", b.streams != defaults.0.streams),
            ("intra-op-threads", b.intra_op_threads.is_some()),
            ("max-batch-size", b.batching != BatchPolicy::None),
            ("device", b.device != DeviceSpec::Cpu),
            ("compile", m.compile != CompileMode::Eager),
            ("precision", m.precision != Precision::Fp32),
            ("channels-last", m.channels_last),
            ("quantize", m.quantize != Quantize::None),
            ("model-dir", m.dir.is_some()),
        ];
        if let Some((flag, _)) = settings.iter().find(|(_, set)| *set) {
            return Err(Error::config(
                flag,
                format!(
                    "a setting of the server; with --target the server ({}) runs with its own; set it there",
                    target.url
                ),
            ));
        }
        if self.measure_bare_forward {
            return Err(Error::config(
                "target",
                "a server over the network has no bare forward to time here; turn it off (--no-bare)",
            ));
        }
        if target.connections == Some(0) {
            return Err(Error::config("connections", "0; expected at least 1"));
        }
        for spec in &self.model.inputs {
            if spec.shape.iter().any(|&d| d <= 0) {
                return Err(Error::config(
                    "input",
                    format!("{spec}: every dimension must be positive"),
                ));
            }
        }
        Ok(())
    }

    /// A target run's id: `target/http/NAME/bs1[/concurrency:4]`.
    pub(super) fn target_id(&self, t: &TargetConfig) -> String {
        let protocol = match t.url.protocol {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
        };
        let mut id = format!(
            "target/{protocol}/{}/bs{}",
            t.url.model, self.load.batch_size
        );
        if self.load.arrival != Arrival::Burst {
            id.push_str(&format!("/{}", self.load.arrival.flag()));
        }
        if t.encoding == Some(Encoding::Json) {
            id.push_str("/json");
        }
        if t.images.is_some() {
            id.push_str("/images");
        }
        id
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
