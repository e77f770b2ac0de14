//! The GPU figures NVML gives a sweep (utilisation, power, SM clock, peak memory)
//! against batch size, one panel each, one line per compile × workers × streams.
//! A configuration without a figure (a CPU run, a machine without NVML) is left out
//! of that panel, never drawn as 0; a panel no configuration has is not drawn, and
//! without any GPU figure there is no plot at all.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::chart::{batch_sizes, lines, stat_chart, DrawResult};
use crate::sweep::record::{ConfigFigures, ConfigRecord, Stat};

/// One panel: its title, unit, and where its figure is in a configuration's figures.
struct Panel {
    title: &'static str,
    unit: &'static str,
    figure: fn(&ConfigFigures) -> Option<&Stat>,
}

const PANELS: [Panel; 4] = [
    Panel {
        title: "GPU utilisation (NVML)",
        unit: "% busy",
        figure: |f| f.gpu_util_pct.as_ref(),
    },
    Panel {
        title: "GPU power draw",
        unit: "W",
        figure: |f| f.gpu_power_w.as_ref(),
    },
    Panel {
        title: "SM clock",
        unit: "MHz",
        figure: |f| f.gpu_sm_clock_mhz.as_ref(),
    },
    Panel {
        title: "Peak GPU memory used",
        unit: "MiB",
        figure: |f| f.gpu_memory_used_mib.as_ref(),
    },
];

/// Lines by variant of the configurations that have the figure.
fn present_lines<'a>(
    configs: &[&'a ConfigRecord],
    figure: fn(&ConfigFigures) -> Option<&Stat>,
) -> BTreeMap<String, Vec<(u32, &'a Stat)>> {
    lines(configs, |c| c.figures.as_ref().and_then(figure))
}

/// Whether any configuration has any GPU figure (else there is nothing to draw).
pub fn has_gpu_figures(configs: &[&ConfigRecord]) -> bool {
    PANELS
        .iter()
        .any(|p| !present_lines(configs, p.figure).is_empty())
}

/// A panel and its lines: each line's name and its points (batch size, figure).
type PanelLines<'a> = (&'a Panel, BTreeMap<String, Vec<(u32, &'a Stat)>>);

/// Draws the panels that have data, two to a row.
pub fn gpu_vs_batch(configs: &[&ConfigRecord], svg: &mut String) -> DrawResult<()> {
    let panels: Vec<PanelLines<'_>> = PANELS
        .iter()
        .map(|p| (p, present_lines(configs, p.figure)))
        .filter(|(_, lines)| !lines.is_empty())
        .collect();
    let rows = panels.len().div_ceil(2).max(1);
    let root = SVGBackend::with_string(svg, (1400, 480 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((rows, 2));
    let sizes = batch_sizes(configs);
    for (area, (panel, lines)) in areas.iter().zip(&panels) {
        stat_chart(area, panel.title, panel.unit, &sizes, lines)?;
    }
    root.present()?;
    Ok(())
}
