//! `--target` and the client's flags, shared by `run`, `curve` and `sweep`: a
//! server over the network instead of the in-process pipeline.

use std::path::PathBuf;

use clap::Args;
use inferbench::config::target::{Encoding, MetricsSource, TargetConfig, TargetUrl};
use inferbench::config::RunConfig;

use crate::server_args::ServerArgs;

#[derive(Args, Clone, Default)]
pub struct TargetArgs {
    /// Measure a server over the network instead of the in-process pipeline:
    /// http://HOST:PORT/v2/models/NAME or grpc://HOST:PORT/NAME (the Open Inference
    /// Protocol: inferbench serve, Triton, KServe, MLServer, …). The server's own
    /// settings (--workers, --compile, --max-batch-size, …) are refused with it.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Connections to the target [default: the closed loop's concurrency, 64 for a
    /// burst or Poisson arrivals (REST); 1 HTTP/2 channel (gRPC)].
    #[arg(long, requires = "target")]
    pub connections: Option<u32>,
    /// REST over HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long, requires = "target")]
    pub http2: bool,
    /// How REST requests carry tensors: binary (the binary tensor data extension,
    /// both ways) or json [default: binary where the server lists the extension
    /// in GET /v2, json where it does not].
    #[arg(long, value_name = "binary|json", requires = "target")]
    pub tensor_encoding: Option<String>,
    /// Send the JPEG and PNG files of this folder, in name order, as encoded images
    /// (for a model whose one input is BYTES, e.g. `inferbench serve --preprocess image`).
    #[arg(long, value_name = "DIR", requires = "target")]
    pub images: Option<PathBuf>,
    /// The server's Prometheus metrics, read before and after the window for its
    /// own figures: auto (a REST target's /metrics), off, or a URL.
    #[arg(long, value_name = "auto|off|URL", requires = "target")]
    pub server_metrics: Option<String>,
}

impl TargetArgs {
    /// The target these flags name, if any.
    pub fn config(&self) -> anyhow::Result<Option<TargetConfig>> {
        let Some(url) = &self.target else {
            return Ok(None);
        };
        let url: TargetUrl = url.parse()?;
        let mut target = TargetConfig::new(url);
        target.connections = self.connections;
        target.http2 = self.http2;
        target.encoding = match self.tensor_encoding.as_deref() {
            None => None,
            Some("binary") => Some(Encoding::Binary),
            Some("json") => Some(Encoding::Json),
            Some(other) => anyhow::bail!("--tensor-encoding '{other}': expected binary or json"),
        };
        target.images = self.images.clone();
        target.metrics = match self.server_metrics.as_deref() {
            None | Some("auto") => MetricsSource::Auto,
            Some("off") => MetricsSource::Off,
            Some(url) if url.starts_with("http://") => MetricsSource::Url(url.to_string()),
            Some(other) => {
                anyhow::bail!("--server-metrics '{other}': expected auto, off or an http:// URL")
            }
        };
        Ok(Some(target))
    }

    /// Points `cfg` at the target, if one is named: the model is the server's, the
    /// bare forward is off (there is none to time here), and an in-process model
    /// flag that would be recorded without effect is refused by name.
    pub fn apply(&self, cfg: &mut RunConfig, server: &ServerArgs) -> anyhow::Result<()> {
        let Some(target) = self.config()? else {
            return Ok(());
        };
        let defaults = ServerArgs::defaults();
        if server.model.name != defaults.model.name {
            anyhow::bail!(
                "--model names an in-process model; with --target the model is the URL's ('{}')",
                target.url.model
            );
        }
        if server.model.image_size.is_some() {
            anyhow::bail!(
                "--image-size: the server's model fixes its input; to send another shape give it with --input"
            );
        }
        cfg.model.name = target.url.model.clone();
        cfg.measure_bare_forward = false;
        cfg.target = Some(target);
        Ok(())
    }
}
