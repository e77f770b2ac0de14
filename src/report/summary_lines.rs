//! The lines a run's summary and a remote run's summary share
//! (`summary.rs`, `target_summary.rs`): the cut-short notice, latency, throughput,
//! stages and the load generator's share, GPU utilisation, and how an absent
//! figure and an arrival process are written.

use std::fmt::Write;

use crate::config::Arrival;
use crate::results::RunReport;

/// Formats an optional figure, or says why it is absent.
pub(super) fn or_absent(value: Option<f64>, fmt: impl Fn(f64) -> String, absent: &str) -> String {
    value.map_or_else(|| absent.to_string(), fmt)
}

/// The arrival process as the summary names it.
pub(super) fn arrival_name(arrival: Arrival) -> String {
    match arrival {
        Arrival::Burst => "burst".to_string(),
        Arrival::Concurrency(n) => format!("concurrency {n}"),
        Arrival::Poisson(rate) => format!("poisson {rate} req/s"),
    }
}

/// The line that says a run was cut short, when it was, and a run until stable's
/// verdict: whether its figures stand, after how many windows, and their intervals.
pub(super) fn incomplete_line(s: &mut String, r: &RunReport) {
    if let Some(why) = &r.incomplete {
        let _ = writeln!(
            s,
            "INCOMPLETE: {why}; the figures below cover only the {} responses that came",
            r.requests
        );
    }
    let Some(st) = &r.stability else {
        return;
    };
    let head = if st.settled {
        "Until stable: settled".to_string()
    } else {
        format!(
            "NOT SETTLED ({}); the figures below do not stand, and were measured",
            st.reason.as_deref().unwrap_or("time up")
        )
    };
    let interval = st.latency_interval_ms.map_or_else(
        || "no 95 % interval (too few requests)".to_string(),
        |i| format!("95 % interval {:.3}-{:.3} ms", i.lo, i.hi),
    );
    let throughput = st.throughput_interval.map_or_else(String::new, |i| {
        format!(
            "; throughput {:.1}-{:.1} samples/s over the last {} windows",
            i.lo, i.hi, st.criteria.windows
        )
    });
    // Windows too short for the percentile are compared by their mean latency.
    let compared = match st.window_figure.as_deref() {
        Some(f) if f != st.figure => format!("; windows compared by their {f} latency"),
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "{head} after {} windows ({} requests, {:.1} s): {} {:.3} ms, {interval}{throughput}{compared}",
        st.windows, st.requests, st.elapsed_s, st.figure, st.latency_ms
    );
}

/// The cold start, the latency figures, throughput, the stage breakdown and the
/// load generator's own share: the same for a local and a remote run.
pub(super) fn latency_lines(s: &mut String, r: &RunReport) {
    let l = &r.latency_ms;
    let _ = writeln!(s, "Warmup latency: {:.5} ms", r.server.warmup_latency_ms);
    let _ = writeln!(
        s,
        "Average latency (exclude warmup): {:.5} +/- {:.5} ms",
        l.mean, l.std
    );
    let _ = writeln!(s, "Max latency: {:.5} ms", l.max);
    let _ = writeln!(s, "Min latency: {:.5} ms", l.min);
    let _ = writeln!(
        s,
        "Percentiles: p50 {:.4} ms | p90 {:.4} ms | p95 {:.4} ms | p99 {:.4} ms | p99.9 {:.4} ms",
        l.p50, l.p90, l.p95, l.p99, l.p999
    );
    let _ = writeln!(
        s,
        "Throughput (exclude warmup): {:.5} samples per second ({} requests, {} samples in {:.3} s)",
        r.throughput_samples_per_s, r.requests, r.samples, r.window_s
    );
    let stages: Vec<String> = r
        .stages_ms
        .named()
        .iter()
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    let _ = writeln!(s, "Stage breakdown (mean ms): {}", stages.join(" | "));
    if let Some(line) = wake_up_line(&r.stages_ms) {
        let _ = writeln!(s, "{line}");
    }
    if let Some(line) = load_generator_line(r) {
        let _ = writeln!(s, "{line}");
    }
}

/// The wake-ups inside the stage means: the part of each stage that is a thread
/// starting on a request it could have started on at once; the rest of a waiting
/// stage is queueing behind other requests.
fn wake_up_line(st: &crate::metrics::StageSummary) -> Option<String> {
    if st.wake_up.is_empty() {
        return None;
    }
    let parts: Vec<String> = st
        .wake_up
        .iter()
        .map(|(n, v)| format!("{n} {:.1} µs", v * 1e3))
        .collect();
    let total: f64 = st.wake_up.iter().map(|(_, v)| v).sum();
    Some(format!(
        "  of which wake-ups (a thread starting on a request it was free to take): {} | {:.1} % of the mean latency",
        parts.join(" | "),
        100.0 * total / st.total().max(f64::MIN_POSITIVE)
    ))
}

/// The GPU utilisation, or why it is absent.
pub(super) fn gpu_utilization_line(s: &mut String, r: &RunReport) {
    let gpu_absent = format!(
        "n/a ({})",
        r.utilization
            .gpu_absent_reason
            .as_deref()
            .unwrap_or("not measured")
    );
    let _ = writeln!(
        s,
        "Average GPU utilization: {}",
        or_absent(r.utilization.gpu_pct, |v| format!("{v:.2} %"), &gpu_absent)
    );
}

/// The load generator's own share of an open-loop run on a schedule: how late it
/// sent, how long a response waited for it, how it waited and the CPU that cost.
fn load_generator_line(r: &RunReport) -> Option<String> {
    let g = r.load_generator.as_ref()?;
    let st = &r.stages_ms;
    let response = st.get("response").unwrap_or(0.0);
    let share = 100.0 * (st.sender_lag_mean + response) / r.latency_ms.mean.max(f64::MIN_POSITIVE);
    let waiting = match g.pickup {
        crate::results::Pickup::Spin => "spins while requests are in flight",
        crate::results::Pickup::Park => "parks between responses",
    };
    let mut line = format!(
        "Load generator: sender lag mean {:.1} µs, max {:.3} ms | response pickup mean {:.1} µs | {:.2} % of the mean latency | client {waiting} ({}), {}",
        st.sender_lag_mean * 1e3,
        st.sender_lag_max,
        response * 1e3,
        share,
        g.why,
        or_absent(g.client_cpu_cores, |v| format!("{:.0} % of a core", v * 100.0), "CPU n/a"),
    );
    if share > HARNESS_SHARE_WARN_PCT {
        let why = match g.pickup {
            crate::results::Pickup::Park => "this machine has no core to spare for it; fewer workers or intra-op threads leave it one",
            crate::results::Pickup::Spin => "its thread was kept from a core (other load on the machine?); measure again on a quieter one",
        };
        line.push_str(&format!(
            "\nWARNING: the load generator's own delays are {share:.1} % of the mean latency, so the latencies above overstate the server's: {why}"
        ));
    }
    Some(line)
}

/// Above this share of the mean latency, the load generator's delays get a warning.
const HARNESS_SHARE_WARN_PCT: f64 = 2.0;
