//! A run measured until stable: one server, started and warmed up once, measures
//! windows of `iters` requests until the judge ([`crate::metrics::stability`])
//! says the figures stand or the time is up. The report's figures cover every
//! window (latency and stages from all their requests; throughput as samples over
//! the windows' summed length, so the pause between windows does not count), and
//! its `stability` says how many windows it took, whether it settled and each
//! figure's interval. No bare forward is timed: a windowed run has no one window
//! to set it beside, so its pipeline efficiency is absent.

use std::time::Instant;

use super::stable::{figure_with_interval, window_figure, UntilStable};
use crate::config::limits::RunLimits;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::metrics::stability::{judge, throughput_range, Stability, Verdict, WindowPoint};
use crate::pipeline::collector::Collector;
use crate::pipeline::Window;
use crate::request::StageScheme;
use crate::results::{Environment, RunReport};
use crate::target::Endpoint;

/// Runs `cfg` in windows of `cfg.load.num_iters` requests until `until` is met or
/// its max time is up; the report's `stability` says which. Errors: a criterion
/// that cannot work, a max time beyond the run's limit, a failed window.
pub fn run_until_stable(
    cfg: &RunConfig,
    until: &UntilStable,
    limits: RunLimits,
    progress: &mut dyn FnMut(&str),
) -> Result<RunReport> {
    let criteria = until.criteria()?;
    cfg.validate()?;
    limits.check(cfg)?;
    if criteria.max_time_s > limits.max_duration.as_secs_f64() {
        return Err(Error::config(
            "stable-max-time",
            format!(
                "{} s is beyond the run's --max-duration of {} s; raise --max-duration or lower the stable max time",
                criteria.max_time_s,
                limits.max_duration.as_secs_f64()
            ),
        ));
    }
    let run_end = Instant::now() + limits.max_duration;
    let mut server = Endpoint::start(cfg, limits, Some(run_end), progress)?;
    let measured =
        windows(&mut server, cfg, until, progress).and_then(|(all, stability, window_s)| {
            let report = server.report(cfg, all, Environment::detect())?;
            Ok((report, stability, window_s))
        });
    let stopped = server.stop();
    let (mut report, stability, window_s) = measured?;
    stopped?;
    report.throughput_samples_per_s = report.samples as f64 / window_s;
    report.window_s = window_s;
    report.stability = Some(stability);
    Ok(report)
}

/// Measures windows on a started `server` until `until` is met or its time is up and
/// returns the verdict: the criterion suite's settling phase, so that its samples
/// start from a server whose figures have stopped moving (criterion's own warm-up is
/// a fixed time, not a test).
pub fn settle(
    server: &mut Endpoint,
    cfg: &RunConfig,
    until: &UntilStable,
    progress: &mut dyn FnMut(&str),
) -> Result<Stability> {
    windows(server, cfg, until, progress).map(|(_, stability, _)| stability)
}

/// Measures windows until the judge stops; returns the last window with every
/// window's requests in its collector and the CPU share over all of them, the
/// verdict, and the summed window length, s.
fn windows(
    server: &mut Endpoint,
    cfg: &RunConfig,
    until: &UntilStable,
    progress: &mut dyn FnMut(&str),
) -> Result<(Window, Stability, f64)> {
    let criteria = until.criteria()?;
    let scheme = match cfg.target {
        Some(_) => StageScheme::Remote,
        None => StageScheme::Pipeline,
    };
    let compared = window_figure(until.percentile, cfg.load.num_iters as u64);
    let mut all = Collector::with_scheme(false, scheme);
    let mut points = Vec::new();
    let mut window_s = 0.0;
    let mut cpu = Vec::new();
    let started = Instant::now();
    loop {
        if crate::pipeline::interrupt::requested() {
            return Err(Error::Interrupted);
        }
        let mut window = server.measure(cfg.load.num_iters as u64, true)?;
        let figures = window.collector.figures()?;
        for meta in window.collector.take_trace() {
            all.record(&meta);
        }
        window_s += figures.window_s;
        cpu.push((figures.window_s, window.utilization.cpu_pct));
        points.push(WindowPoint {
            requests: figures.requests,
            throughput_samples_per_s: figures.throughput_samples_per_s,
            latency_ms: compared.of_summary(&figures.latency_ms),
        });
        let summary = all
            .latency
            .summary()
            .expect("a whole window recorded requests; this is a bug");
        let latency = figure_with_interval(until.percentile, &all.latency, &summary);
        let elapsed = started.elapsed().as_secs_f64();
        let j = judge(&points, latency, elapsed, &criteria);
        progress(&format!(
            "window {}: {:.1} samples/s, {} {:.2} ms{}",
            points.len(),
            figures.throughput_samples_per_s,
            until.percentile.name(),
            latency.0,
            match j.verdict {
                Verdict::Continue => format!(" (not yet: {})", j.reason),
                Verdict::Settled => " (settled)".into(),
                Verdict::Unsettled => format!(" (time up, not settled: {})", j.reason),
            }
        ));
        if j.verdict == Verdict::Continue {
            continue;
        }
        // The measured CPU share, weighted by window length; absent if any window lacks it.
        window.utilization.cpu_pct = cpu
            .iter()
            .map(|(w, c)| c.map(|c| c * w))
            .sum::<Option<f64>>()
            .map(|sum| sum / window_s);
        let stability = Stability {
            settled: j.verdict == Verdict::Settled,
            reason: (j.verdict == Verdict::Unsettled).then_some(j.reason),
            windows: points.len() as u32,
            requests: all.latency.count(),
            elapsed_s: elapsed,
            figure: until.percentile.name().to_string(),
            window_figure: Some(compared.name().to_string()),
            latency_ms: latency.0,
            latency_interval_ms: latency.1,
            throughput_interval: throughput_range(&points, criteria.windows as usize),
            spread_pct: (j.throughput_spread_pct, j.latency_spread_pct),
            criteria,
            window_points: points,
        };
        window.collector = all;
        return Ok((window, stability, window_s));
    }
}
