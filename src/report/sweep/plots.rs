//! The report's SVG plots (plotters): throughput and latency against batch size, one
//! line per compile × workers × streams (the seed's two plots, with ± std bars from
//! the repeats), the latency–throughput curve, the stage breakdown as stacked bars, and
//! on a GPU the NVML figures ([`super::gpu_plots`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

pub use super::chart::variant;
use super::chart::{batch_sizes, category_label, draw_legend, lines, stat_chart, DrawResult};
use super::gpu_plots;
use super::recommend::Goal;
use super::SweepData;
use crate::error::{Error, Result};
use crate::sweep::record::{ConfigRecord, Percentile, RatePoint};

/// One written plot: its title and file.
#[derive(Debug, Clone)]
pub struct Plot {
    /// What it shows.
    pub title: String,
    /// Where it is.
    pub path: PathBuf,
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Draws every plot the data supports into `dir`.
pub fn write_all(data: &SweepData, goal: &Goal, dir: &Path) -> Result<Vec<Plot>> {
    let mut plots = Vec::new();
    let configs: Vec<&ConfigRecord> = data
        .configs
        .iter()
        .filter(|c| c.figures.is_some())
        .collect();
    // Each plot is drawn in memory and then written as any report file is: a full
    // disk fails the write with its cause and leaves no piece of a file behind.
    let mut draw =
        |file: &str, title: &str, f: &dyn Fn(&mut String) -> DrawResult<()>| -> Result<()> {
            let path = dir.join(file);
            let mut svg = String::new();
            f(&mut svg).map_err(|e| plot_error(&path, e))?;
            crate::results::file::write_atomically(&path, svg.as_bytes())?;
            plots.push(Plot {
                title: title.into(),
                path,
            });
            Ok(())
        };
    if !configs.is_empty() {
        draw(
            "throughput_vs_batch.svg",
            "Throughput against batch size",
            &|p| throughput_vs_batch(&configs, p),
        )?;
        draw(
            "latency_vs_batch.svg",
            "Mean and p99 latency against batch size",
            &|p| latency_vs_batch(&configs, p),
        )?;
        draw(
            "stages.svg",
            "Where the time goes: mean time per stage",
            &|p| stage_bars(&configs, p),
        )?;
        if gpu_plots::has_gpu_figures(&configs) {
            draw(
                "gpu_vs_batch.svg",
                "GPU utilisation, power, SM clock and memory against batch size (NVML)",
                &|p| gpu_plots::gpu_vs_batch(&configs, p),
            )?;
        }
    }
    if !data.rates.is_empty() {
        draw(
            "latency_throughput.svg",
            "Latency against throughput (Poisson arrivals)",
            &|p| latency_throughput(data, goal, p),
        )?;
    }
    Ok(plots)
}

fn throughput_vs_batch(configs: &[&ConfigRecord], svg: &mut String) -> DrawResult<()> {
    let root = SVGBackend::with_string(svg, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let series = lines(configs, |c| {
        c.figures.as_ref().map(|f| &f.throughput_samples_per_s)
    });
    stat_chart(
        &root,
        "Throughput vs batch size",
        "samples/s",
        &batch_sizes(configs),
        &series,
    )?;
    root.present()?;
    Ok(())
}

fn latency_vs_batch(configs: &[&ConfigRecord], svg: &mut String) -> DrawResult<()> {
    let root = SVGBackend::with_string(svg, (1400, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let sizes = batch_sizes(configs);
    for (panel, p) in panels.iter().zip([Percentile::Mean, Percentile::P99]) {
        let series = lines(configs, |c| c.figures.as_ref().map(|f| f.latency_ms.get(p)));
        let title = format!("{} latency vs batch size", p.name());
        stat_chart(panel, &title, "ms", &sizes, &series)?;
    }
    root.present()?;
    Ok(())
}

fn latency_throughput(data: &SweepData, goal: &Goal, svg: &mut String) -> DrawResult<()> {
    let root = SVGBackend::with_string(svg, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut curves: BTreeMap<&str, Vec<&RatePoint>> = BTreeMap::new();
    for r in &data.rates {
        curves.entry(r.id.as_str()).or_default().push(r);
    }
    for points in curves.values_mut() {
        points.sort_by(|a, b| a.offered_rps.total_cmp(&b.offered_rps));
    }
    let x_max = data
        .rates
        .iter()
        .map(|r| r.achieved_rps.max(r.offered_rps))
        .fold(0.0, f64::max)
        * 1.05;
    // The budget the rate search held, else the report's own, if it has one.
    let budget = data
        .max_rates
        .last()
        .map(|m| (m.percentile, m.budget_ms))
        .or(goal.budget_ms.map(|b| (goal.percentile, b)));
    let y_max = data
        .rates
        .iter()
        .map(|r| r.latency_ms.p99)
        .chain(budget.map(|b| b.1))
        .fold(0.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Latency vs achieved throughput", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max.max(1e-9), 0.0..y_max.max(1e-9))?;
    chart
        .configure_mesh()
        .x_desc("achieved requests/s (offered rate on the points' labels in report.md)")
        .y_desc("latency from intended send time, ms")
        .draw()?;
    let mut k = 0;
    for (id, points) in &curves {
        for (p, width) in [(Percentile::P50, 1), (Percentile::P99, 3)] {
            let color = Palette99::pick(k).to_rgba();
            k += 1;
            let xy: Vec<(f64, f64)> = points
                .iter()
                .map(|r| (r.achieved_rps, p.of_summary(&r.latency_ms)))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(width)))?
                .label(format!("{id} {}", p.name()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
                });
            chart.draw_series(
                xy.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )?;
        }
    }
    if let Some((p, b)) = budget {
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, b), (x_max, b)],
                RED.stroke_width(1),
            ))?
            .label(format!("budget: {} ≤ {b} ms", p.name()))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

fn stage_bars(configs: &[&ConfigRecord], svg: &mut String) -> DrawResult<()> {
    let height = 120 + 34 * configs.len() as u32;
    let root = SVGBackend::with_string(svg, (1200, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let stage_names: Vec<String> = configs[0]
        .figures
        .as_ref()
        .expect("filtered")
        .stages_ms
        .keys()
        .cloned()
        .collect();
    let order = [
        "queue", "batch", "copy_in", "compute", "copy_out", "response",
    ];
    let mut stages: Vec<String> = order
        .iter()
        .map(|s| s.to_string())
        .filter(|s| stage_names.contains(s))
        .collect();
    stages.extend(
        stage_names
            .into_iter()
            .filter(|s| !order.contains(&s.as_str())),
    );
    let total = |c: &ConfigRecord| -> f64 {
        c.figures
            .as_ref()
            .expect("filtered")
            .stages_ms
            .values()
            .map(|s| s.mean)
            .sum()
    };
    let x_max = configs
        .iter()
        .map(|c| total(c))
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.05;
    let n = configs.len() as f64;
    let ids: Vec<String> = configs.iter().map(|c| c.id.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Mean time per stage", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(330)
        .build_cartesian_2d(0.0..x_max, -0.5..n - 0.5)?;
    let label = category_label(&ids);
    chart
        .configure_mesh()
        .x_desc("ms (stages add up to the mean latency)")
        .y_labels(configs.len() * 2 + 1)
        .y_label_formatter(&label)
        .disable_y_mesh()
        .draw()?;
    for (s, stage) in stages.iter().enumerate() {
        let color = Palette99::pick(s).to_rgba();
        let bars = configs.iter().enumerate().map(|(k, c)| {
            let f = c.figures.as_ref().expect("filtered");
            let start: f64 = stages[..s]
                .iter()
                .filter_map(|n| f.stages_ms.get(n))
                .map(|st| st.mean)
                .sum();
            let width = f.stages_ms.get(stage).map_or(0.0, |st| st.mean);
            let y = k as f64;
            Rectangle::new(
                [(start, y - 0.35), (start + width, y + 0.35)],
                color.filled(),
            )
        });
        chart
            .draw_series(bars)?
            .label(stage.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}
