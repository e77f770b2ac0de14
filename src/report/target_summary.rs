//! The summary of a run against a server over the network: the client's figures as
//! for a local run, the client's own stages, and the server's figures from its
//! metrics where it exports them. What only the server knows and did not export
//! (its stages, its GPU on another machine) is said to be unknown, never guessed.

use std::fmt::Write;

use super::summary_lines::{
    arrival_name, gpu_utilization_line, incomplete_line, latency_lines, or_absent,
};
use crate::config::target::{Encoding, Protocol};
use crate::results::target::TargetFacts;
use crate::results::RunReport;

/// One line naming the target and the load.
pub fn config_line(r: &RunReport, t: &TargetFacts) -> String {
    let c = &r.config;
    let server = t
        .server
        .as_deref()
        .unwrap_or("a server that does not name itself");
    let how = match (t.protocol, t.encoding) {
        (Protocol::Grpc, _) => "gRPC, raw contents".to_string(),
        (Protocol::Http, encoding) => format!(
            "REST over {}, {} tensors",
            if t.http2 { "HTTP/2" } else { "HTTP/1.1" },
            match encoding {
                Some(Encoding::Json) => "JSON",
                _ => "binary",
            }
        ),
    };
    let place = if t.loopback {
        format!(
            "on this machine: client and server share its {} cores",
            r.env.cores
        )
    } else {
        "over the network".to_string()
    };
    format!(
        "target {} ({server}, {place}): model {}, input {}, batch {}, {}, {how}, {} connection(s)",
        t.url,
        r.server.model.arch,
        r.server.model.inputs.join(" + "),
        c.load.batch_size,
        arrival_name(c.load.arrival),
        t.connections,
    )
}

/// The full summary of a remote run.
pub fn render(r: &RunReport, t: &TargetFacts) -> String {
    let mut s = String::new();
    incomplete_line(&mut s, r);
    let _ = writeln!(s, "{}", config_line(r, t));
    if let Some(output) = &r.server.model.output {
        let _ = writeln!(s, "Response: {output}");
    }
    latency_lines(&mut s, r);
    let _ = writeln!(
        s,
        "Client CPU utilization: {}",
        or_absent(
            r.utilization.cpu_pct,
            |v| format!(
                "{v:.2} % of {} cores (this process: load generator and network client)",
                r.env.cores
            ),
            "n/a"
        )
    );
    let _ = writeln!(s, "{}", server_line(t));
    gpu_utilization_line(&mut s, r);
    if t.loopback {
        let _ = writeln!(
            s,
            "Note: the server runs on this machine, so the client's CPU above is CPU the server did not have; on a machine with few cores that lowers the server's throughput and raises its latency."
        );
    }
    s
}

/// The server's own figures over the window, or why they are unknown.
fn server_line(t: &TargetFacts) -> String {
    let Some(m) = &t.server_metrics else {
        return format!(
            "Server-side figures: unknown ({})",
            t.server_metrics_absent.as_deref().unwrap_or("not read")
        );
    };
    let mut parts = vec![format!("{:.0} requests answered", m.requests)];
    if let Some(f) = m.failures {
        parts.push(format!("{f:.0} failed"));
    }
    if let (Some(samples), Some(forwards)) = (m.samples, m.forwards) {
        if forwards > 0.0 {
            parts.push(format!(
                "mean forward batch {:.2} samples",
                samples / forwards
            ));
        }
    }
    if let Some(ms) = m.request_ms {
        parts.push(format!("{ms:.4} ms on the server per request"));
    }
    let mut line = format!(
        "Server (its {} metrics at {}, over the window): {}",
        m.families,
        m.source,
        parts.join(", ")
    );
    if !m.stages_ms.is_empty() {
        let stages: Vec<String> = m
            .stages_ms
            .iter()
            .map(|(n, v)| format!("{n} {v:.4}"))
            .collect();
        let _ = write!(
            line,
            "\nServer stage breakdown (mean ms): {}",
            stages.join(" | ")
        );
    }
    line
}
