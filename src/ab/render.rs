//! An A/B report as a terminal table and as github-action-benchmark entries
//! (the same shape `compare` writes, so one dashboard reads both).

use super::{AbReport, FigureResult, Stop};
use crate::compare::render::BenchmarkEntry;
use crate::compare::Verdict;

fn value(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

fn change(f: &FigureResult) -> String {
    f.change.map_or("-".into(), |c| {
        format!(
            "{:+.2}% [{:+.2}%, {:+.2}%]",
            c.point * 100.0,
            c.lower * 100.0,
            c.upper * 100.0
        )
    })
}

fn verdict(f: &FigureResult) -> String {
    match (f.verdict, f.settled) {
        (Verdict::WithinNoise, false) => "within noise (unsettled)".into(),
        (v, _) => v.name().into(),
    }
}

fn row(id: &str, f: &FigureResult) -> [String; 7] {
    [
        format!("{id}/{}", f.figure.name()),
        f.blocks.to_string(),
        format!("{} {}", value(f.base), f.unit),
        format!("{} {}", value(f.head), f.unit),
        change(f),
        f.detectable
            .map_or("-".into(), |d| format!("±{:.1}%", d * 100.0)),
        verdict(f),
    ]
}

/// The table: per configuration and figure, the blocks, each side's median, the
/// change head/base with its interval, the smallest detectable change, the verdict;
/// then a count and why the job stopped.
pub fn table(report: &AbReport) -> String {
    let headers = [
        "figure",
        "blocks",
        "base",
        "head",
        &format!("change ({:.0}% CI)", report.confidence * 100.0),
        "detectable",
        "verdict",
    ]
    .map(String::from);
    let mut rows = vec![headers];
    for c in &report.configurations {
        rows.extend(c.figures.iter().map(|f| row(&c.id, f)));
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for (k, cell) in r.iter().enumerate().skip(1) {
            line.push_str(&format!("  {:>w$}", cell, w = widths[k]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&summary(report));
    out
}

fn summary(report: &AbReport) -> String {
    let figures: Vec<&FigureResult> = report
        .configurations
        .iter()
        .flat_map(|c| &c.figures)
        .collect();
    let count = |v: Verdict| figures.iter().filter(|f| f.verdict == v).count();
    let unsettled = figures.iter().filter(|f| !f.settled).count();
    let stopped = match report.stopped {
        Stop::Settled => "every verdict settled",
        Stop::MaxBlocks => "the block limit was reached",
        Stop::TimeCap => "the time cap was reached",
    };
    format!(
        "{} figures: {} improved, {} regressed, {} within noise ({unsettled} unsettled)\n\
         threshold ±{:.1}%: a change counts when its whole interval is beyond it; \
         stopped after {:.0} s: {stopped}\n",
        figures.len(),
        count(Verdict::Improved),
        count(Verdict::Regressed),
        count(Verdict::WithinNoise),
        report.threshold * 100.0,
        report.wall_s,
    )
}

/// Entries for `customSmallerIsBetter` (latencies) and `customBiggerIsBetter`
/// (throughput, utilisation): the head's median, half the width of the head's
/// interval in the figure's unit, and the paired change in words. Figures the head
/// never measured are left out.
pub fn github_action_benchmark(report: &AbReport) -> (Vec<BenchmarkEntry>, Vec<BenchmarkEntry>) {
    let (mut smaller, mut bigger) = (Vec::new(), Vec::new());
    for c in &report.configurations {
        for f in &c.figures {
            let Some(head) = f.head else { continue };
            let range = match (f.change, f.base) {
                // The head's value is base × ratio; its interval, base × (1 + change).
                (Some(ch), Some(base)) => format!("± {:.3}", base * (ch.upper - ch.lower) / 2.0),
                _ => "± -".into(),
            };
            let entry = BenchmarkEntry {
                name: format!("{}/{}", c.id, f.figure.name()),
                unit: f.unit.into(),
                value: head,
                range,
                extra: format!(
                    "{} vs base over {} A B B A blocks: {}",
                    change(f),
                    f.blocks,
                    verdict(f)
                ),
            };
            if f.figure.smaller_is_better() {
                smaller.push(entry);
            } else {
                bigger.push(entry);
            }
        }
    }
    (smaller, bigger)
}

/// Writes `smaller_is_better.json` and `bigger_is_better.json` into `dir` (created
/// if needed), as `compare` does.
pub fn write_github_action_benchmark(
    report: &AbReport,
    dir: &std::path::Path,
) -> crate::error::Result<()> {
    let (smaller, bigger) = github_action_benchmark(report);
    crate::compare::render::write_entries(dir, smaller, bigger)
}
