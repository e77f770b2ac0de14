//! The human-readable summary of a run, in the seed's style (seed 000's sample
//! output), with the percentiles, stage breakdown and efficiency it lacked.

use std::fmt::Write;

use super::summary_lines::{gpu_utilization_line, incomplete_line, latency_lines, or_absent};
use crate::config::Arrival;
use crate::results::RunReport;

/// One line naming the configuration.
pub fn config_line(r: &RunReport) -> String {
    if let Some(t) = &r.target {
        return super::target_summary::config_line(r, t);
    }
    let c = &r.config;
    // The number format and memory layout, as the JSON records them: what ran.
    let mut compile = format!("{}, {}", c.model.compile.name(), c.model.precision.name());
    if c.model.channels_last {
        compile.push_str(", channels-last");
    }
    if c.model.quantize != crate::config::Quantize::None {
        compile.push_str(&format!(", {}", c.model.quantize.name()));
    }
    let streams = c.backend.streams.name();
    let arrival = match c.load.arrival {
        Arrival::Burst => "burst".to_string(),
        Arrival::Concurrency(n) => format!("concurrency {n}"),
        Arrival::Poisson(rate) => format!("poisson {rate} req/s"),
    };
    let input = if r.server.model.inputs.is_empty() {
        format!("{0}x{0} px", r.server.model.image_size)
    } else {
        format!("input {}", r.server.model.inputs.join(" + "))
    };
    let params = match r.server.model.parameters {
        Some(p) if p >= 10_000 => format!("{:.2} M params", p as f64 / 1e6),
        Some(p) => format!("{p} params"),
        None => "parameters not listed".to_string(),
    };
    format!(
        "{} ({} weights, {params}) {input}, batch {}, {compile}, {} worker(s), {streams} streams, {arrival}, {} intra-op thread(s), {}",
        r.server.model.arch,
        r.server.model.weights,
        c.load.batch_size,
        c.backend.workers,
        r.server.intra_op_threads.map_or("?".to_string(), |t| t.to_string()),
        r.server.device,
    )
}

/// The full summary, one figure a line.
pub fn render(r: &RunReport) -> String {
    if let Some(t) = &r.target {
        return super::target_summary::render(r, t);
    }
    let mut s = String::new();
    incomplete_line(&mut s, r);
    let _ = writeln!(s, "{}", config_line(r));
    if r.server.oversubscribed {
        let _ = writeln!(
            s,
            "WARNING: oversubscribed: {} compute threads ({} worker(s) × {} a forward) on {} cores take turns on the cores, so the figures below measure that contention as much as the model; use fewer --workers or --intra-op-threads",
            r.server.compute_threads,
            r.config.backend.workers,
            r.server.compute_threads / r.config.backend.workers.max(1),
            r.env.cores
        );
    }
    let _ = writeln!(
        s,
        "torch load time: {}",
        or_absent(
            r.server.load_time_s,
            |v| format!("{v:.5} s"),
            "n/a (no weights)"
        )
    );
    let not_compiled = match r.server.model.weights.as_str() {
        "file" => "n/a (the file as saved)",
        _ => "n/a (eager)",
    };
    let cache = match &r.server.model.compile_cache {
        Some(c) if c.hit => format!(
            " ({} from the cache; making it took {:.1} s)",
            c.made, c.compiled_in_s
        ),
        Some(c) => format!(
            " ({} made with Python in {:.1} s, now cached)",
            c.made, c.compiled_in_s
        ),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "compile time: {}{cache}",
        or_absent(
            r.server.compile_time_s,
            |v| format!("{v:.5} s"),
            not_compiled
        )
    );
    if let Some(output) = &r.server.model.output {
        let _ = writeln!(s, "Response: {output}");
    }
    latency_lines(&mut s, r);
    let _ = writeln!(
        s,
        "Average CPU utilization: {}",
        or_absent(
            r.utilization.cpu_pct,
            |v| format!("{v:.2} % of {} cores (process)", r.env.cores),
            "n/a"
        )
    );
    gpu_utilization_line(&mut s, r);
    let _ = writeln!(
        s,
        "Bare forward: {} | pipeline efficiency: {}",
        or_absent(
            r.bare_forward_samples_per_s,
            |v| format!("{v:.5} samples per second"),
            "not measured"
        ),
        or_absent(r.pipeline_efficiency, |v| format!("{v:.4}"), "n/a"),
    );
    if crate::metrics::launch_bound(r.utilization.gpu_pct, r.pipeline_efficiency) {
        let _ = writeln!(s, "NOTE: {}.", crate::metrics::LAUNCH_BOUND_NOTE);
    }
    gpu_lines(&mut s, r);
    s
}

/// GPU memory, clock and power, device stage times and limits: only what was measured.
fn gpu_lines(s: &mut String, r: &RunReport) {
    let u = &r.utilization;
    let mut gpu = Vec::new();
    if let Some(v) = u.gpu_memory_used_mib {
        gpu.push(format!("memory used peak {v:.0} MiB"));
    }
    if let Some(v) = u.gpu_sm_clock_mhz {
        gpu.push(format!("SM clock {v:.0} MHz"));
    }
    if let Some(v) = u.gpu_power_w {
        gpu.push(format!("power {v:.1} W"));
    }
    if !gpu.is_empty() {
        let _ = writeln!(s, "GPU (mean over the window): {}", gpu.join(" | "));
    }
    if let Some(d) = &r.device_stages_ms {
        let _ = writeln!(
            s,
            "Device time per batch (ms, timing events, {} batches): copy_in {:.4} | forward {:.4} | copy_out {:.4}",
            d.batches, d.copy_in, d.forward, d.copy_out
        );
    }
    if let Some(l) = &r.limits {
        let _ = writeln!(
            s,
            "Limits: compute {:.1} samples/s | H2D {:.2} GB/s = {:.1} samples/s ({} B a sample) | {}-bound | efficiency against it {:.4} | copy-in per batch at that bandwidth {:.4} ms",
            l.compute_samples_per_s,
            l.h2d_gb_per_s,
            l.copy_samples_per_s,
            l.input_bytes_per_sample,
            match l.bound {
                crate::metrics::Bound::Compute => "compute",
                crate::metrics::Bound::Copy => "copy",
            },
            l.efficiency,
            l.expected_copy_in_ms
        );
    }
}
