//! Comparisons as a terminal table and as github-action-benchmark JSON
//! (`customSmallerIsBetter` / `customBiggerIsBetter`: a list of
//! `{name, unit, value, range, extra}`; the two tools take one file each).

use serde::Serialize;

use super::{Comparison, Estimate, Quantity};

/// A value in the quantity's display unit, and the unit.
fn display(quantity: Quantity, raw: f64) -> (f64, &'static str) {
    match quantity {
        Quantity::Time | Quantity::Latency => (raw / 1e6, "ms"),
        Quantity::Utilization => (raw, "%"),
        Quantity::Other => (raw, ""),
    }
}

fn format_value(quantity: Quantity, estimate: Option<&Estimate>) -> String {
    match estimate {
        None => "-".into(),
        Some(e) => {
            let (value, unit) = display(quantity, e.point);
            format!("{value:.3} {unit}").trim_end().to_string()
        }
    }
}

fn format_change(change: Option<&Estimate>) -> String {
    match change {
        None => "-".into(),
        Some(c) => format!(
            "{:+.2}% [{:+.2}%, {:+.2}%]",
            c.point * 100.0,
            c.lower * 100.0,
            c.upper * 100.0
        ),
    }
}

fn format_band(c: &Comparison) -> String {
    match c.change {
        None => "-".into(),
        Some(_) => format!("±{:.1}%", c.band * 100.0),
    }
}

/// The table: benchmark, baseline mean, new mean, change of the mean with its
/// confidence interval, the noise band it had to clear, verdict.
pub fn table(comparisons: &[Comparison], threshold: f64) -> String {
    let headers = [
        "benchmark",
        "baseline",
        "new",
        "change (95% CI)",
        "band",
        "verdict",
    ];
    let rows: Vec<[String; 6]> = comparisons
        .iter()
        .map(|c| {
            [
                c.id.clone(),
                format_value(c.quantity, c.baseline.as_ref()),
                format_value(c.quantity, c.new.as_ref()),
                format_change(c.change.as_ref()),
                format_band(c),
                c.verdict.name().to_string(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut s = format!("{:<w$}", cells[0], w = widths[0]);
        for (k, cell) in cells.iter().enumerate().skip(1) {
            s.push_str(&format!("  {:>w$}", cell, w = widths[k]));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers);
    for row in &rows {
        out.push_str(&line([
            &row[0], &row[1], &row[2], &row[3], &row[4], &row[5],
        ]));
    }
    let count = |name: &str| {
        comparisons
            .iter()
            .filter(|c| c.verdict.name() == name)
            .count()
    };
    out.push_str(&format!(
        "{} benchmarks: {} improved, {} regressed, {} within noise, {} missing, {} new\n",
        comparisons.len(),
        count("improved"),
        count("REGRESSED"),
        count("within noise"),
        count("MISSING"),
        count("new"),
    ));
    out.push_str(&band_note(comparisons, threshold));
    out
}

/// How the bands were chosen, so that a reader knows what "within noise" promised.
fn band_note(comparisons: &[Comparison], threshold: f64) -> String {
    if comparisons.iter().all(|c| c.run_sigma.is_none()) {
        return format!(
            "noise band: ±{:.1}% (the baseline records no run-to-run spread: save it with scripts/baseline.sh save)\n",
            threshold * 100.0
        );
    }
    format!(
        "noise band: the larger of ±{:.1}% and the baseline's run-to-run spread (see `band`)\n",
        threshold * 100.0
    )
}

/// One github-action-benchmark entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkEntry {
    /// Benchmark id.
    pub name: String,
    /// Display unit.
    pub unit: String,
    /// The new run's mean, in `unit`.
    pub value: f64,
    /// Half the width of the confidence interval, as `± x`.
    pub range: String,
    /// The comparison with the baseline, in words.
    pub extra: String,
}

/// Entries for `customSmallerIsBetter` (times, latencies) and `customBiggerIsBetter`
/// (utilisation, and samples/s derived from each `time` benchmark's throughput).
/// Benchmarks absent from the new run have no value and are left out.
pub fn github_action_benchmark(
    comparisons: &[Comparison],
) -> (Vec<BenchmarkEntry>, Vec<BenchmarkEntry>) {
    let (mut smaller, mut bigger) = (Vec::new(), Vec::new());
    for c in comparisons {
        let Some(new) = c.new else { continue };
        let (value, unit) = display(c.quantity, new.point);
        let (lower, _) = display(c.quantity, new.lower);
        let (upper, _) = display(c.quantity, new.upper);
        let extra = match &c.change {
            Some(change) => format!(
                "{} vs baseline: {}",
                format_change(Some(change)),
                c.verdict.name()
            ),
            None => c.verdict.name().to_string(),
        };
        let entry = BenchmarkEntry {
            name: c.id.clone(),
            unit: unit.to_string(),
            value,
            range: format!("± {:.3}", (upper - lower) / 2.0),
            extra: extra.clone(),
        };
        if c.quantity.smaller_is_better() {
            smaller.push(entry);
        } else {
            bigger.push(entry);
        }
        if let (Quantity::Time, Some(elements)) = (c.quantity, c.elements) {
            // samples/s = elements per request / seconds per request; the interval flips.
            let rate = |ns: f64| elements as f64 / (ns / 1e9);
            let group = c.id.rsplit_once('/').map_or(c.id.as_str(), |(g, _)| g);
            bigger.push(BenchmarkEntry {
                name: format!("{group}/throughput"),
                unit: "samples/s".into(),
                value: rate(new.point),
                range: format!("± {:.3}", (rate(new.lower) - rate(new.upper)) / 2.0),
                extra,
            });
        }
    }
    (smaller, bigger)
}

/// Writes `smaller_is_better.json` and `bigger_is_better.json` (github-action-benchmark's
/// `customSmallerIsBetter` / `customBiggerIsBetter`) into `dir`, created if needed.
pub fn write_github_action_benchmark(
    dir: &std::path::Path,
    comparisons: &[Comparison],
) -> crate::error::Result<()> {
    let (smaller, bigger) = github_action_benchmark(comparisons);
    write_entries(dir, smaller, bigger)
}

/// Writes github-action-benchmark entries as `smaller_is_better.json` and
/// `bigger_is_better.json` into `dir`, created if needed, each file written whole.
pub fn write_entries(
    dir: &std::path::Path,
    smaller: Vec<BenchmarkEntry>,
    bigger: Vec<BenchmarkEntry>,
) -> crate::error::Result<()> {
    use crate::error::Error;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create --json-dir", dir, e))?;
    for (name, entries) in [
        ("smaller_is_better.json", smaller),
        ("bigger_is_better.json", bigger),
    ] {
        let text =
            serde_json::to_string_pretty(&entries).expect("entries serialise; this is a bug");
        crate::results::file::write_atomically(&dir.join(name), (text + "\n").as_bytes())?;
    }
    Ok(())
}
