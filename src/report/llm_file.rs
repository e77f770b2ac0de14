//! `inferbench report` on the results file of `inferbench llm`: every window as a row
//! (how each request ended, throughput, goodput, the stream's latency percentiles),
//! the windows of one server, models and prompts grouped into a curve over offered
//! rates with its recommendation ("the highest rate with p99 TTFT ≤ X and p99 TPOT ≤ Y",
//! the same rule as `inferbench llm --rates`), and a plot of p99 TTFT and TPOT against
//! the rate. An absent figure is `n/a`, never 0.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::llm::{models, opt, p50_or_p99, span};
use super::sweep::chart::draw_legend;
use super::sweep::plots::Plot;
use crate::config::Arrival;
use crate::error::{Error, Result};
use crate::llm::prompts::PromptSource;
use crate::llm::LlmReport;
use crate::sweep::llm_curve::{recommend, CurvePoint, Recommendation};

use super::LLM_TITLE as TITLE;

/// Whether `path` holds `inferbench llm` results: its first record's kind is `llm`.
pub fn holds_llm_runs(path: &Path) -> Result<bool> {
    let (lines, _) = crate::results::jsonl::read_lines(path)?;
    Ok(lines.first().is_some_and(|(_, line)| {
        serde_json::from_str::<serde_json::Value>(line)
            .is_ok_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("llm"))
    }))
}

/// Every window of `paths`, in order; a line that is not an LLM window is an error
/// naming the file and line.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LlmReport>> {
    let mut runs = Vec::new();
    for path in paths {
        runs.extend(crate::results::jsonl::read_records(path, |n, _, e| {
            Error::config(
                "input",
                format!("{}:{n}: not an `inferbench llm` window ({e}); give LLM results apart from sweep results", path.display()),
            )
        })?);
    }
    if runs.is_empty() {
        return Err(Error::config("input", "no LLM window in the input"));
    }
    Ok(runs)
}

/// The windows of one server, model mix and prompt set: a curve when they ran at
/// several Poisson rates.
pub struct Series<'a> {
    /// What they measured, in words.
    pub what: String,
    /// The windows, Poisson ones by rate first, then the others in file order.
    pub runs: Vec<&'a LlmReport>,
    /// The curve's recommendation, when there are bounds and Poisson windows.
    pub recommendation: Option<Recommendation>,
    /// Where the windows came from shards of a curve (`llm --shard`): how many, and
    /// any rate of the curve that no shard's file holds.
    pub shards: Option<String>,
}

/// Groups `runs` into series; `bounds` (p99 TTFT ms, p99 TPOT ms) are the report's,
/// else the runs' own goodput bounds when they give both.
pub fn series(runs: &[LlmReport], bounds: Option<(f64, f64)>) -> Vec<Series<'_>> {
    let mut out: Vec<Series> = Vec::new();
    for run in runs {
        let what = describe(run);
        match out.iter_mut().find(|s| s.what == what) {
            Some(s) => s.runs.push(run),
            None => out.push(Series {
                what,
                runs: vec![run],
                recommendation: None,
                shards: None,
            }),
        }
    }
    for s in &mut out {
        s.runs.sort_by(|a, b| match (rate(a), rate(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        let points: Vec<CurvePoint> = s
            .runs
            .iter()
            .filter_map(|r| {
                rate(r).map(|rate| CurvePoint {
                    rate,
                    report: (*r).clone(),
                })
            })
            .collect();
        let own = s.runs.iter().find_map(|r| {
            let slo = r.config.slo.as_ref()?;
            Some((slo.ttft_ms?, slo.tpot_ms?))
        });
        if let (Some((ttft, tpot)), false) = (bounds.or(own), points.is_empty()) {
            s.recommendation = Some(recommend(&points, ttft, tpot));
        }
        s.shards = shards_note(&s.runs);
    }
    out
}

/// Where `runs` came from shards: which of how many, on how many replicas, and the
/// curve's rates that no window holds (the recommendation is then over what is
/// there, and says so through this note).
fn shards_note(runs: &[&LlmReport]) -> Option<String> {
    let shards: Vec<&crate::llm::report::CurveShard> =
        runs.iter().filter_map(|r| r.shard.as_ref()).collect();
    let first = shards.first()?;
    let mut present: Vec<u32> = shards.iter().map(|s| s.index).collect();
    present.sort_unstable();
    present.dedup();
    let measured: Vec<f64> = runs.iter().filter_map(|r| rate(r)).collect();
    let missing: Vec<String> = first
        .rates
        .iter()
        .filter(|r| !measured.iter().any(|m| m == *r))
        .map(|r| format!("{r}"))
        .collect();
    let mut servers: Vec<String> = runs.iter().map(|r| r.config.url.to_string()).collect();
    servers.sort();
    servers.dedup();
    let mut note = format!(
        "measured by {} of {} shards, each against its own server replica ({}): one curve only if the replicas are alike",
        present.len(),
        first.count,
        servers.join(", ")
    );
    if !missing.is_empty() {
        note += &format!(
            "; **incomplete**: no shard's file holds the rate(s) {} requests/s, so the recommendation is over the rates measured",
            missing.join(", ")
        );
    }
    Some(note)
}

fn rate(r: &LlmReport) -> Option<f64> {
    match r.config.arrival {
        Arrival::Poisson(rate) => Some(rate),
        _ => None,
    }
}

fn describe(r: &LlmReport) -> String {
    let c = &r.config;
    let prompts = match &c.prompts {
        PromptSource::Synthetic { input, output } => {
            format!(
                "synthetic prompts, input {}, output {}",
                span(input),
                span(output)
            )
        }
        PromptSource::ShareGpt { path, .. } => format!("ShareGPT {}", path.display()),
    };
    // The shards of one curve measure each its own replica, often at addresses of
    // their own: their windows belong together whatever the address.
    let server = match &r.shard {
        Some(sh) => format!("a curve in {} shards (replicas)", sh.count),
        None => c.url.to_string(),
    };
    format!(
        "{} {}{}, models {}, {prompts}, seed {}",
        server,
        c.api.path(),
        if c.stream { "" } else { " (whole answers)" },
        models(c).join(", "),
        c.seed
    )
}

fn load_label(a: &Arrival) -> String {
    match a {
        Arrival::Poisson(rate) => format!("poisson {rate:.3}/s"),
        Arrival::Concurrency(c) => format!("concurrency {c}"),
        Arrival::Burst => "burst".into(),
    }
}

/// The markdown of `series`, with `plot` (a file name beside it) when drawn.
pub fn markdown(series: &[Series<'_>], plot: Option<&str>) -> String {
    let mut md = format!("{TITLE}\n\n");
    for s in series {
        let _ = writeln!(md, "## {}\n", s.what);
        md += "| load | sent | completed | cut short | timed out | failed | req/s | out tok/s | goodput req/s | TTFT p50 ms | TTFT p99 ms | ITL p99 ms | TPOT p50 ms | TPOT p99 ms | e2e p99 ms |\n";
        md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for r in &s.runs {
            let f = &r.figures;
            let c = &f.counts;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                load_label(&r.config.arrival),
                c.sent,
                c.completed,
                c.cut_short,
                c.timed_out,
                c.failed,
                opt(f.request_rps, 2),
                opt(f.output_tokens_per_s, 1),
                opt(f.goodput.as_ref().and_then(|g| g.rps), 2),
                p50_or_p99(f.ttft_ms.as_ref(), false),
                p50_or_p99(f.ttft_ms.as_ref(), true),
                p50_or_p99(f.itl_ms.as_ref(), true),
                p50_or_p99(f.tpot_ms.as_ref(), false),
                p50_or_p99(f.tpot_ms.as_ref(), true),
                p50_or_p99(f.e2e_ms.as_ref(), true),
            );
        }
        if let Some(note) = &s.shards {
            let _ = writeln!(md, "\nShards: {note}.");
        }
        match &s.recommendation {
            Some(rec) => {
                let _ = writeln!(md, "\n**{}**\n", rec.text);
            }
            None => md += "\nNo recommendation: it needs Poisson windows and both bounds (`--goodput-ttft-ms`, `--goodput-tpot-ms`, given to `report` or to `llm`).\n\n",
        }
        let notes: Vec<&String> = s.runs.iter().flat_map(|r| &r.notes).collect();
        for note in dedup(notes) {
            let _ = writeln!(md, "- note: {note}");
        }
        md.push('\n');
    }
    if let Some(file) = plot {
        let _ = writeln!(
            md,
            "![p99 TTFT and TPOT against the offered rate]({file})\n"
        );
    }
    md
}

fn dedup(notes: Vec<&String>) -> Vec<&String> {
    let mut seen = Vec::new();
    for n in notes {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    seen
}

/// Draws p99 TTFT and p99 TPOT against the offered rate, a pair of lines per series
/// with two or more Poisson windows; `None` when no series has a curve.
pub fn plot(series: &[Series<'_>], dir: &Path) -> Result<Option<Plot>> {
    let curves: Vec<(usize, Vec<(f64, &LlmReport)>)> = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (
                k,
                s.runs
                    .iter()
                    .filter_map(|r| Some((rate(r)?, *r)))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, points)| points.len() >= 2)
        .collect();
    if curves.is_empty() {
        return Ok(None);
    }
    let path = dir.join("llm_latency_vs_rate.svg");
    let mut svg = String::new();
    draw(&curves, &mut svg).map_err(|e| Error::Plot {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    crate::results::file::write_atomically(&path, svg.as_bytes())?;
    Ok(Some(Plot {
        title: "p99 TTFT and TPOT against the offered rate".into(),
        path,
    }))
}

type Curves<'a> = [(usize, Vec<(f64, &'a LlmReport)>)];

fn draw(
    curves: &Curves<'_>,
    svg: &mut String,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let figure = |r: &LlmReport, ttft: bool| {
        let f = &r.figures;
        if ttft {
            f.ttft_ms.as_ref()
        } else {
            f.tpot_ms.as_ref()
        }
        .map(|s| s.p99)
    };
    let all = curves.iter().flat_map(|(_, pts)| pts.iter());
    let x_max = all.clone().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let y_max = all
        .flat_map(|(_, r)| [figure(r, true), figure(r, false)])
        .flatten()
        .fold(0.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("p99 TTFT and TPOT vs offered rate", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max.max(1e-9), 0.0..y_max.max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc("offered requests/s (Poisson)")
        .y_desc("ms")
        .draw()?;
    for (k, points) in curves {
        for (ttft, width) in [(true, 3), (false, 1)] {
            let color = Palette99::pick(2 * k + usize::from(!ttft)).to_rgba();
            // A window without the figure (no stream, nothing completed) is left out.
            let xy: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|(x, r)| Some((*x, figure(r, ttft)?)))
                .collect();
            let name = if ttft { "p99 TTFT" } else { "p99 TPOT" };
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(width)))?
                .label(format!("series {} {name}", k + 1))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
                });
            chart.draw_series(
                xy.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

/// What [`write_report`] wrote.
pub struct LlmReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// The plot, when a series has a curve.
    pub plot: Option<Plot>,
    /// Each series' recommendation line, where it has one.
    pub recommendations: Vec<String>,
}

/// Writes `report.md` and its plot into `dir` (created if needed), each atomically.
pub fn write_report(
    runs: &[LlmReport],
    bounds: Option<(f64, f64)>,
    dir: &Path,
) -> Result<LlmReportFiles> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create report folder", dir, e))?;
    let markdown_path = dir.join("report.md");
    super::sweep::refuse_other_markdown(&markdown_path)?;
    let series = series(runs, bounds);
    let plot = plot(&series, dir)?;
    let file = plot
        .as_ref()
        .and_then(|p| p.path.file_name())
        .map(|f| f.to_string_lossy().into_owned());
    let text = markdown(&series, file.as_deref());
    crate::results::file::write_atomically(&markdown_path, text.as_bytes())?;
    Ok(LlmReportFiles {
        markdown: markdown_path,
        plot,
        recommendations: series
            .iter()
            .filter_map(|s| s.recommendation.as_ref().map(|r| r.text.clone()))
            .collect(),
    })
}
