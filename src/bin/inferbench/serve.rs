//! `inferbench serve`: flags, start-up lines and the summary printed at shutdown.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use inferbench::config::{parse_duration, Arrival};
use inferbench::serve::{self, Postprocess, ServeOptions, Served};

use crate::server_args::ServerArgs;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Address to listen on (0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// REST port (HTTP/1.1 and HTTP/2; /metrics too); 0 takes any free port.
    #[arg(long, default_value_t = 8000)]
    pub http_port: u16,
    /// gRPC port; 0 takes any free port.
    #[arg(long, default_value_t = 8001, conflicts_with = "no_grpc")]
    pub grpc_port: u16,
    /// No gRPC front.
    #[arg(long)]
    pub no_grpc: bool,
    /// Largest request body or gRPC message, e.g. 64MiB, 512KiB or a byte count.
    #[arg(long, default_value = "64MiB")]
    pub max_body: String,
    /// Threads that run the network fronts [default: a quarter of the cores, at least 1].
    #[arg(long)]
    pub io_threads: Option<usize>,
    /// none, or image: the model's one 3 × H × W input comes as encoded JPEG or PNG
    /// images (a BYTES input named "image"), decoded, resized and normalised on a
    /// pool of --preprocess-threads.
    #[arg(long, default_value = "none")]
    pub preprocess: String,
    /// Threads that decode images.
    #[arg(long, default_value_t = 1)]
    pub preprocess_threads: usize,
    /// none (the model's output as output__0), softmax (probabilities) or topk:K
    /// (classes and scores of the K most probable classes).
    #[arg(long, default_value = "none")]
    pub postprocess: String,
    /// The model's name on the wire [default: its label, e.g. resnet18-32px].
    #[arg(long)]
    pub model_name: Option<String>,
    /// How long SIGINT or SIGTERM waits for requests in flight, e.g. 30s.
    #[arg(long, default_value = "30s")]
    pub drain_timeout: String,
    /// No progress lines (the listening addresses, the ready line and the summary still print).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses a byte size: a count, or a count with KiB, MiB or GiB (KB, MB, GB: powers of 10).
fn parse_bytes(text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => anyhow::bail!(
            "--max-body '{text}': expected a byte count such as 64MiB, 512KiB or 1000000"
        ),
    };
    let n: usize = digits
        .parse()
        .with_context(|| format!("--max-body '{text}': expected a byte count such as 64MiB"))?;
    n.checked_mul(scale)
        .filter(|&b| b > 0)
        .with_context(|| format!("--max-body '{text}' is out of range"))
}

impl ServeArgs {
    fn options(&self) -> anyhow::Result<ServeOptions> {
        let preprocess_threads = match self.preprocess.as_str() {
            "none" => None,
            "image" => Some(self.preprocess_threads.max(1)),
            other => anyhow::bail!("--preprocess '{other}': expected none or image"),
        };
        Ok(ServeOptions {
            http: SocketAddr::new(self.host, self.http_port),
            grpc: (!self.no_grpc).then(|| SocketAddr::new(self.host, self.grpc_port)),
            max_body: parse_bytes(&self.max_body)?,
            io_threads: self
                .io_threads
                .unwrap_or_else(|| (inferbench::config::cores() / 4).max(1)),
            preprocess_threads,
            postprocess: Postprocess::parse(&self.postprocess)?,
            model_name: self.model_name.clone(),
            drain_timeout: parse_duration("drain-timeout", &self.drain_timeout)?,
        })
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.server.to_config(1, Arrival::Burst, false)?;
    cfg.validate()?;
    let options = args.options()?;
    let quiet = args.quiet;
    let progress: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |line: &str| {
        // Scripts wait for the ready line: it prints even when quiet.
        if !quiet || line == "ready" {
            eprintln!("[serve] {line}");
        }
    });
    let model = options
        .model_name
        .clone()
        .unwrap_or_else(|| serve::default_model_name(&cfg));
    let running = serve::start(&cfg, &options, progress)?;
    let at = running.listening();
    let grpc = at
        .grpc
        .map_or_else(String::new, |g| format!(", grpc://{g}/{model}"));
    eprintln!(
        "[serve] listening: http://{}/v2/models/{model}{grpc}",
        at.http
    );
    let served = running.until_signal()?;
    eprint!("{}", summary(&served));
    match served.failure {
        Some(why) => anyhow::bail!("the pipeline failed while serving: {why}"),
        None => Ok(()),
    }
}

fn summary(s: &Served) -> String {
    let failed: u64 = s.failed.iter().map(|(_, n)| n).sum();
    let reasons: Vec<String> = s
        .failed
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let reasons = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    let mut out = format!(
        "[serve] stopped after {:.1} s ready: {} requests answered, {failed} not{reasons}\n",
        s.served_s, s.answered
    );
    if !s.stages_ms.is_empty() {
        let stages: Vec<String> = s
            .stages_ms
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.3}"))
            .collect();
        let total: f64 = s.stages_ms.iter().map(|(_, ms)| ms).sum();
        out.push_str(&format!(
            "[serve] time on the server per answered request, mean ms: {} = {total:.3}\n",
            stages.join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert_eq!(parse_bytes("2 KB").unwrap(), 2000);
        for bad in ["", "MiB", "5 parsecs", "0", "99999999999999999999GiB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
