//! The report's markdown: environment, recommendation, the results table (mean ± std
//! over repeats, absent figures as "—"), the theoretical maximum, the plots, the
//! latency–throughput curve and the configurations that failed.

use std::fmt::Write as _;

use super::plots::Plot;
use super::recommend::{Goal, Recommendation};
use super::SweepData;
use crate::sweep::record::{ConfigRecord, Percentile, Stat, Status, SweepEnvironment};

fn pm(s: &Stat, digits: usize) -> String {
    format!("{:.d$} ± {:.d$}", s.mean, s.std, d = digits)
}

fn opt_pm(s: Option<&Stat>, digits: usize) -> String {
    s.map_or("—".into(), |s| pm(s, digits))
}

/// The report's first line: how a report written here is told from another file.
pub const TITLE: &str = "# inferbench sweep report";

/// The whole report.
pub fn render(
    data: &SweepData,
    goal: &Goal,
    recommendation: &Recommendation,
    plots: &[Plot],
) -> String {
    let mut md = format!("{TITLE}\n\n");
    environment(&mut md, data);
    let _ = writeln!(md, "## Recommendation ({})\n", goal.constraint.name());
    let _ = writeln!(md, "{}\n", recommendation.text);
    results_table(&mut md, data, goal, recommendation);
    theoretical(&mut md, data);
    if !plots.is_empty() {
        md.push_str("## Plots\n\n");
        for p in plots {
            let file = p
                .path
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
            let _ = writeln!(md, "### {}\n\n![{}]({file})\n", p.title, p.title);
        }
    }
    curve(&mut md, data);
    failures(&mut md, data);
    searches(&mut md, data);
    md
}

fn environment(md: &mut String, data: &SweepData) {
    let env: Option<&SweepEnvironment> = data
        .configs
        .first()
        .map(|c| &c.env)
        .or(data.rates.first().map(|r| &r.env));
    let Some(env) = env else { return };
    let or_absent = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let mut sweeps: Vec<&str> = data.configs.iter().map(|c| c.sweep.as_str()).collect();
    sweeps.extend(data.rates.iter().map(|r| r.sweep.as_str()));
    sweeps.dedup();
    let _ = writeln!(md, "Sweeps: {}.\n", sweeps.join(", "));
    if let Some(note) = super::shards::provenance(data) {
        let _ = writeln!(md, "{note}\n");
    }
    md.push_str("| environment | |\n|---|---|\n");
    let rows = [
        ("inferbench", env.inferbench_version.clone()),
        ("tch", or_absent(&env.tch_version)),
        ("libtorch", or_absent(&env.libtorch_version)),
        ("CPU", or_absent(&env.cpu_model)),
        ("cores", env.cores.to_string()),
        ("GPU", env.gpu.clone().unwrap_or_else(|| "none".into())),
        ("GPU driver", or_absent(&env.driver_version)),
        ("git commit", or_absent(&env.git_commit)),
        ("started (UTC)", or_absent(&env.started_utc)),
    ];
    for (k, v) in rows {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    md.push('\n');
}

fn results_table(md: &mut String, data: &SweepData, goal: &Goal, rec: &Recommendation) {
    if data.configs.is_empty() {
        return;
    }
    let p = goal.percentile;
    let _ = writeln!(
        md,
        "## Results\n\nMean ± std over each configuration's repeats (population std, as the seed's process_metrics). \
         Latency in ms from each request's intended send time. \"—\": not measured here.\n"
    );
    let extra = if matches!(
        p,
        Percentile::P95 | Percentile::P99 | Percentile::P50 | Percentile::Mean
    ) {
        String::new()
    } else {
        format!(" {} |", p.name())
    };
    let _ = writeln!(
        md,
        "| configuration | threads | repeats | samples/s | mean | p50 | p95 | p99 |{extra} CPU % | GPU % | of theoretical max |"
    );
    let cols = 11 + usize::from(!extra.is_empty());
    let _ = writeln!(md, "|{}", "---|".repeat(cols));
    for (k, c) in data.configs.iter().enumerate() {
        let mark = if rec.chosen == Some(k) { " ⭐" } else { "" };
        let _ = writeln!(md, "{}", config_row(data, c, mark, &extra, p));
    }
    md.push('\n');
    launch_bound(md, data);
}

/// The configurations whose bare forward is no bound (see metrics::launch_bound).
fn launch_bound(md: &mut String, data: &SweepData) {
    let ids: Vec<String> = data
        .configs
        .iter()
        .filter(|c| {
            c.figures.as_ref().is_some_and(|f| {
                crate::metrics::launch_bound(
                    f.gpu_util_pct.as_ref().map(|s| s.mean),
                    f.pipeline_efficiency.as_ref().map(|s| s.mean),
                )
            })
        })
        .map(|c| format!("`{}`", c.id))
        .collect();
    if !ids.is_empty() {
        let _ = writeln!(
            md,
            "Launch-bound: {}. For these, {}.\n",
            ids.join(", "),
            crate::metrics::LAUNCH_BOUND_NOTE
        );
    }
}

fn config_row(
    data: &SweepData,
    c: &ConfigRecord,
    mark: &str,
    extra: &str,
    p: Percentile,
) -> String {
    let repeats = format!("{}/{}", c.repeats_ok, c.repeats);
    let Some(f) = &c.figures else {
        return format!(
            "| `{}`{mark} | {} | {repeats} | failed |{}",
            c.id,
            c.intra_op_threads,
            " — |".repeat(7 + usize::from(!extra.is_empty()))
        );
    };
    let l = &f.latency_ms;
    let extra_cell = if extra.is_empty() {
        String::new()
    } else {
        format!(" {} |", pm(l.get(p), 2))
    };
    let of_max = match data.theoretical_max(c) {
        Some(max) => format!("{:.1} %", 100.0 * f.throughput_samples_per_s.mean / max),
        None => "—".into(),
    };
    format!(
        "| `{}`{mark} | {} | {repeats} | {} | {} | {} | {} | {} |{extra_cell} {} | {} | {of_max} |",
        c.id,
        c.intra_op_threads,
        pm(&f.throughput_samples_per_s, 1),
        pm(&l.mean, 2),
        pm(&l.p50, 2),
        pm(&l.p95, 2),
        pm(&l.p99, 2),
        opt_pm(f.cpu_util_pct.as_ref(), 1),
        opt_pm(f.gpu_util_pct.as_ref(), 1),
    )
}

fn theoretical(md: &mut String, data: &SweepData) {
    let Some(probe) = data.probes.last() else {
        return;
    };
    let _ = writeln!(
        md,
        "## Theoretical maximum\n\nPeak measured by a {n}×{n} f32 GEMM on {t} threads ({dev}), best of {r}: **{g:.1} GFLOP/s**. \
         A configuration's theoretical maximum is that peak over its model's forward cost (convolutions and classifier, 2 FLOPs a multiply-add); \
         the gap is what the model's smaller GEMMs, memory-bound layers and the pipeline cost.\n",
        n = probe.gemm_size,
        t = probe.threads,
        dev = probe.device,
        r = probe.reps,
        g = probe.peak_gflops
    );
    let best = data
        .configs
        .iter()
        .filter_map(|c| Some((c, data.theoretical_max(c)?, c.figures.as_ref()?)))
        .max_by(|a, b| {
            (a.2.throughput_samples_per_s.mean / a.1)
                .total_cmp(&(b.2.throughput_samples_per_s.mean / b.1))
        });
    match best {
        Some((c, max, f)) => {
            let _ = writeln!(
                md,
                "`{}`: {:.3} GFLOP/sample → theoretical {:.0} samples/s; achieved {:.1} samples/s = **{:.1} %** of it (the best of the sweep).\n",
                c.id,
                c.model_gflop_per_sample.unwrap_or_default(),
                max,
                f.throughput_samples_per_s.mean,
                100.0 * f.throughput_samples_per_s.mean / max
            );
        }
        None => md.push_str(
            "No configuration has a model with a known forward cost (the spin model has none).\n\n",
        ),
    }
}

fn curve(md: &mut String, data: &SweepData) {
    if data.rates.is_empty() {
        return;
    }
    md.push_str("## Latency–throughput curve\n\nOpen-loop Poisson arrivals; latency counts from each request's intended send time, so a sender falling behind cannot hide queueing.\n\n");
    md.push_str("| configuration | offered req/s | achieved req/s | samples/s | mean | p50 | p95 | p99 | sender lag max |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in &data.rates {
        let l = &r.latency_ms;
        let _ = writeln!(
            md,
            "| `{}` | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.id,
            r.offered_rps,
            r.achieved_rps,
            r.throughput_samples_per_s,
            l.mean,
            l.p50,
            l.p95,
            l.p99,
            r.sender_lag_max_ms
        );
    }
    md.push('\n');
    for m in &data.max_rates {
        let line = match (m.max_rps, m.latency_at_max_ms) {
            (Some(rate), Some(lat)) => format!(
                "**Highest rate with {} ≤ {} ms for `{}`: {:.1} requests/s** ({} {:.2} ms there){}; {} runs.",
                m.percentile.name(),
                m.budget_ms,
                m.id,
                rate,
                m.percentile.name(),
                lat,
                m.first_failing_rps
                    .map_or(" — the highest rate probed, so the limit may lie above it".into(), |f| format!("; {f:.1} requests/s broke the budget")),
                m.probes
            ),
            _ if m.bar_rps.is_some() => format!(
                "`{}` cannot beat the tune's current point: it needed more than {:.1} requests/s with {} ≤ {} ms, {}; {} runs.",
                m.id,
                m.bar_rps.unwrap_or_default(),
                m.percentile.name(),
                m.budget_ms,
                if m.probes == 0 {
                    "above what its burst capacity allows, so it was not searched"
                } else {
                    "and broke the budget there"
                },
                m.probes
            ),
            _ => format!(
                "**No probed rate kept {} ≤ {} ms for `{}`** (lowest probed: {}); {} runs.",
                m.percentile.name(),
                m.budget_ms,
                m.id,
                m.first_failing_rps.map_or("—".into(), |f| format!("{f:.1} requests/s")),
                m.probes
            ),
        };
        let _ = writeln!(md, "{line}\n");
    }
}

/// What each tune's search did, in its own words.
fn searches(md: &mut String, data: &SweepData) {
    if data.tunes.is_empty() {
        return;
    }
    md.push_str("## Searches (`inferbench tune`)\n\n");
    for t in &data.tunes {
        let _ = writeln!(md, "- {}\n", t.text);
    }
}

fn failures(md: &mut String, data: &SweepData) {
    let failed: Vec<&ConfigRecord> = data
        .configs
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    md.push_str("## Failed configurations\n\n");
    for c in failed {
        let _ = writeln!(
            md,
            "- `{}` ({}/{} repeats ran): {}",
            c.id,
            c.repeats_ok,
            c.repeats,
            c.error.as_deref().unwrap_or("no error recorded")
        );
    }
    md.push('\n');
}
