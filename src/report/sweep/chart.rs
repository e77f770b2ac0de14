//! What every sweep plot draws with: the lines of a chart (one per configuration
//! variant, over batch sizes), the ± std line chart, the legend and categorical
//! tick labels. The plots themselves are in `plots.rs` and `gpu_plots.rs`.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sweep::record::{ConfigRecord, Stat};

pub(super) type DrawResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The configuration without its model and batch size: the line it belongs to.
pub fn variant(c: &ConfigRecord) -> String {
    let parts: Vec<&str> = c.id.split('/').collect();
    match parts.iter().position(|p| p.starts_with("bs")) {
        Some(k) => parts[k + 1..].join("/"),
        None => c.id.clone(),
    }
}

/// Lines by variant, each a list of (batch size, statistic), sorted by batch size. A
/// configuration without the statistic (`None`) is left out, never drawn as 0.
pub(super) fn lines<'a>(
    configs: &[&'a ConfigRecord],
    stat: impl Fn(&'a ConfigRecord) -> Option<&'a Stat>,
) -> BTreeMap<String, Vec<(u32, &'a Stat)>> {
    let mut out: BTreeMap<String, Vec<(u32, &Stat)>> = BTreeMap::new();
    for c in configs {
        if let Some(s) = stat(c) {
            out.entry(variant(c))
                .or_default()
                .push((c.config.load.batch_size, s));
        }
    }
    for points in out.values_mut() {
        points.sort_by_key(|p| p.0);
    }
    out
}

/// The legend box every plot uses.
pub(crate) fn draw_legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult<()>
where
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Tick labels for a categorical axis drawn as positions 0, 1, 2…: the name at a whole
/// position, nothing between (plotters also asks for ticks at fractions).
pub(super) fn category_label(names: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |v: &f64| {
        let k = v.round();
        if (v - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
            names[k as usize].clone()
        } else {
            String::new()
        }
    }
}

/// Distinct batch sizes, ascending: the x axis is categorical over them.
pub(super) fn batch_sizes(configs: &[&ConfigRecord]) -> Vec<u32> {
    let mut sizes: Vec<u32> = configs.iter().map(|c| c.config.load.batch_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// A line chart over categorical batch sizes with ± std bars, one line per variant.
pub(super) fn stat_chart(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    unit: &str,
    sizes: &[u32],
    series: &BTreeMap<String, Vec<(u32, &Stat)>>,
) -> DrawResult<()> {
    let top = series
        .values()
        .flatten()
        .map(|(_, s)| s.mean + s.std)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.15;
    let x_of = |bs: u32| sizes.iter().position(|&s| s == bs).unwrap_or(0) as f64;
    let n = sizes.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)?;
    let names: Vec<String> = sizes.iter().map(u32::to_string).collect();
    let label = category_label(&names);
    chart
        .configure_mesh()
        .x_desc("batch size (samples per request)")
        .y_desc(unit)
        .x_labels(sizes.len() * 2 + 1)
        .x_label_formatter(&label)
        .disable_x_mesh()
        .draw()?;
    for (k, (name, points)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let xy: Vec<(f64, f64)> = points.iter().map(|(bs, s)| (x_of(*bs), s.mean)).collect();
        chart
            .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            xy.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
        )?;
        chart.draw_series(points.iter().map(|(bs, s)| {
            ErrorBar::new_vertical(x_of(*bs), s.mean - s.std, s.mean, s.mean + s.std, color, 8)
        }))?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}
