//! `--scrape-server-metrics URL`: the server's Prometheus text read before and after
//! the measured window, and the difference of every counter and histogram series
//! (names ending `_total`, `_count`, `_sum`, `_bucket`: the ones that only grow), so
//! that the server's own account of the window (vLLM's `vllm:*`, TGI's `tgi_*`, …)
//! sits next to the client's without this crate knowing each server's names.
//! Gauges are left out: their value before and after says nothing of the window.

use serde::{Deserialize, Serialize};

use crate::target::scrape::{self, Sample};

/// One series' growth over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesDelta {
    /// `name{label="value",…}` as the server wrote it (labels in name order).
    pub series: String,
    /// After − before.
    pub delta: f64,
}

/// A histogram's mean over the window: Δsum / Δcount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramMean {
    /// The histogram's name and labels (without `_sum`/`_count`).
    pub series: String,
    /// Observations in the window.
    pub count: f64,
    /// Their mean, in the histogram's unit.
    pub mean: f64,
}

/// The server's figures for a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerWindow {
    /// Where they were read.
    pub url: String,
    /// Every counter-like series that changed.
    pub deltas: Vec<SeriesDelta>,
    /// Every histogram observed in the window, with its mean.
    pub histograms: Vec<HistogramMean>,
}

fn key(s: &Sample, name: &str) -> String {
    if s.labels.is_empty() {
        return name.to_string();
    }
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// The window between two readings of `url`'s text.
pub fn window(url: &str, before: &str, after: &str) -> ServerWindow {
    let (before, after) = (scrape::parse(before), scrape::parse(after));
    let counter_like = |n: &str| {
        ["_total", "_count", "_sum", "_bucket"]
            .iter()
            .any(|s| n.ends_with(s))
    };
    let old: std::collections::BTreeMap<String, f64> = before
        .iter()
        .filter(|s| counter_like(&s.name))
        .map(|s| (key(s, &s.name), s.value))
        .collect();
    let mut deltas = Vec::new();
    for s in after.iter().filter(|s| counter_like(&s.name)) {
        let k = key(s, &s.name);
        // A series born in the window grew from nothing.
        let delta = s.value - old.get(&k).copied().unwrap_or(0.0);
        if delta != 0.0 {
            deltas.push(SeriesDelta { series: k, delta });
        }
    }
    let mut histograms = Vec::new();
    for s in after.iter().filter(|s| s.name.ends_with("_count")) {
        let base = s.name.trim_end_matches("_count");
        let find = |name: &str| {
            deltas
                .iter()
                .find(|d| d.series == key(s, name))
                .map(|d| d.delta)
        };
        if let (Some(count), Some(sum)) = (find(&s.name), find(&format!("{base}_sum"))) {
            if count > 0.0 {
                histograms.push(HistogramMean {
                    series: key(s, base),
                    count,
                    mean: sum / count,
                });
            }
        }
    }
    ServerWindow {
        url: url.to_string(),
        deltas,
        histograms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_grow_gauges_are_left_out() {
        let before = "a_total{m=\"x\"} 10\nq 5\nh_count 2\nh_sum 0.5\nh_bucket{le=\"1\"} 2\n";
        let after =
            "a_total{m=\"x\"} 14\nq 9\nh_count 6\nh_sum 2.5\nh_bucket{le=\"1\"} 6\nnew_total 3\n";
        let w = window("u", before, after);
        let get = |k: &str| w.deltas.iter().find(|d| d.series == k).map(|d| d.delta);
        assert_eq!(get("a_total{m=\"x\"}"), Some(4.0));
        assert_eq!(get("new_total"), Some(3.0));
        assert_eq!(get("q"), None);
        assert_eq!(
            w.histograms,
            [HistogramMean {
                series: "h".into(),
                count: 4.0,
                mean: 0.5
            }]
        );
    }
}
