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

/// Servers' counters of prompt tokens answered from a cache, and of all prompt
/// tokens: (cached, the rest or all, whether the second counts the cached too).
const PROMPT_CACHE_COUNTERS: [(&str, &str, bool); 2] = [
    // llama.cpp: tokens taken from a slot's cache, and tokens computed.
    (
        "llamacpp:prompt_tokens_cached_total",
        "llamacpp:prompt_tokens_total",
        false,
    ),
    // vLLM (v1): prefix-cache hits and queries, in tokens.
    (
        "vllm:prefix_cache_hits_total",
        "vllm:prefix_cache_queries_total",
        true,
    ),
];

/// Below this share of its prompt tokens from the server's cache, a window is not
/// called cached: a shared template prefix is cached in every window.
const CACHED_SHARE: f64 = 0.1;

/// A note where the server says it answered at least [`CACHED_SHARE`] of the
/// window's prompt tokens from its cache (for the servers whose counters
/// [`PROMPT_CACHE_COUNTERS`] knows): such a window measured cached prefill, which
/// a window repeating an earlier one's prompts (the same `--seed` against the same
/// server) gets, and its TTFT with it.
pub fn prompt_cache_note(w: &ServerWindow) -> Option<String> {
    let sum = |name: &str| -> f64 {
        w.deltas
            .iter()
            .filter(|d| d.series == name || d.series.starts_with(&format!("{name}{{")))
            .map(|d| d.delta)
            .sum()
    };
    PROMPT_CACHE_COUNTERS
        .iter()
        .find_map(|&(cached_name, other_name, includes_cached)| {
            let cached = sum(cached_name);
            let other = sum(other_name);
            let total = if includes_cached { other } else { cached + other };
            (total > 0.0 && cached >= CACHED_SHARE * total).then(|| {
                format!(
                    "the server answered {cached:.0} of the window's {total:.0} prompt tokens from its cache ({cached_name}): a window that repeats prompts the server has seen (an earlier run's --seed against the same server) measures cached prefill, and its TTFT with it; another --seed measures it uncached"
                )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deltas(pairs: &[(&str, f64)]) -> ServerWindow {
        ServerWindow {
            url: "u".into(),
            deltas: pairs
                .iter()
                .map(|&(series, delta)| SeriesDelta {
                    series: series.into(),
                    delta,
                })
                .collect(),
            histograms: Vec::new(),
        }
    }

    #[test]
    fn a_window_answered_from_the_prompt_cache_is_noted_a_template_prefix_is_not() {
        // llama.cpp: 1,900 cached + 40 computed (the figures of docs/llm.md).
        let w = deltas(&[
            ("llamacpp:prompt_tokens_cached_total", 1900.0),
            ("llamacpp:prompt_tokens_total", 40.0),
        ]);
        let note = prompt_cache_note(&w).expect("a cached window is noted");
        assert!(
            note.contains("1900 of the window's 1940 prompt tokens"),
            "{note}"
        );
        // 2 of 1,884: a shared prefix, not a repeated prompt.
        let w = deltas(&[
            ("llamacpp:prompt_tokens_cached_total", 2.0),
            ("llamacpp:prompt_tokens_total", 1882.0),
        ]);
        assert_eq!(prompt_cache_note(&w), None);
        // vLLM: queries count the hits too; labelled series are summed.
        let w = deltas(&[
            (
                "vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"}",
                300.0,
            ),
            (
                "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"}",
                1000.0,
            ),
        ]);
        let note = prompt_cache_note(&w).expect("30 % cached is noted");
        assert!(note.contains("300 of the window's 1000"), "{note}");
        assert_eq!(prompt_cache_note(&deltas(&[("other_total", 5.0)])), None);
    }

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
