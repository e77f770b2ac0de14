//! A server's own figures over a window, from its Prometheus metrics read before and
//! after: the differences of its counters for the target's model. Two families of
//! names are known: Triton's `nv_inference_*` (which `inferbench serve` exports too,
//! with its per-stage `inferbench_stage_duration_us_total`) and MLServer's
//! `model_infer_request_{success,failure}_total` and `model_infer_request_duration`
//! (a histogram in seconds; MLServer serves them on a port of their own, 8082 by
//! default). A server with neither gives no figures, and the report says so.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::results::target::ServerMetrics;

/// One sample of the text format: a series and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Parses the Prometheus text format (comments and malformed lines are skipped).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = open + line[open..].find('}')?;
            (&line[..close + 1], &line[close + 1..])
        }
        None => line.split_at(line.find(char::is_whitespace)?),
    };
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))?),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.trim().to_string(),
        labels,
        value,
    })
}

fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => value.push(chars.next()?.1),
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        rest = after[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some(labels)
}

/// The sum of `name`'s series whose `label` is `model`; `None` when there is none.
fn total(samples: &[Sample], name: &str, label: &str, model: &str) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.labels.get(label).is_some_and(|m| m == model))
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// The server's figures for `model` from the samples read `before` and `after` a
/// window; `None` when the metrics name no known family for it.
pub fn window(
    before: &[Sample],
    after: &[Sample],
    model: &str,
    source: &str,
) -> Option<ServerMetrics> {
    let delta = |name: &str, label: &str| {
        Some(total(after, name, label, model)? - total(before, name, label, model)?)
    };
    if let Some(requests) = delta("nv_inference_request_success", "model") {
        let per_request = |us: f64| (requests > 0.0).then(|| us / requests / 1e3);
        let mut stages_ms: Vec<(String, f64)> = Vec::new();
        for stage in stage_names(after, model) {
            let d = delta_stage(before, after, model, &stage);
            if let Some(ms) = d.and_then(per_request).filter(|&ms| ms > 0.0) {
                stages_ms.push((stage, ms));
            }
        }
        if stages_ms.is_empty() {
            for (name, stage) in [
                ("nv_inference_queue_duration_us", "queue"),
                ("nv_inference_compute_input_duration_us", "compute_input"),
                ("nv_inference_compute_infer_duration_us", "compute_infer"),
                ("nv_inference_compute_output_duration_us", "compute_output"),
            ] {
                if let Some(ms) = delta(name, "model").and_then(per_request) {
                    stages_ms.push((stage.to_string(), ms));
                }
            }
        }
        return Some(ServerMetrics {
            source: source.into(),
            families: "triton".into(),
            requests,
            failures: delta("nv_inference_request_failure", "model"),
            samples: delta("nv_inference_count", "model"),
            forwards: delta("nv_inference_exec_count", "model"),
            request_ms: delta("nv_inference_request_duration_us", "model").and_then(per_request),
            stages_ms,
        });
    }
    let requests = delta("model_infer_request_success_total", "model")?;
    let duration_s = delta("model_infer_request_duration_sum", "model");
    let timed = delta("model_infer_request_duration_count", "model");
    let request_ms = match (duration_s, timed) {
        (Some(s), Some(n)) if n > 0.0 => Some(s / n * 1e3),
        _ => None,
    };
    Some(ServerMetrics {
        source: source.into(),
        families: "mlserver".into(),
        requests,
        failures: delta("model_infer_request_failure_total", "model"),
        samples: None,
        forwards: None,
        request_ms,
        stages_ms: Vec::new(),
    })
}

const STAGE_FAMILY: &str = "inferbench_stage_duration_us_total";

/// The stages `inferbench serve` lists for `model`, in the order it lists them.
fn stage_names(samples: &[Sample], model: &str) -> Vec<String> {
    let mut names = Vec::new();
    for s in samples {
        if s.name == STAGE_FAMILY && s.labels.get("model").is_some_and(|m| m == model) {
            if let Some(stage) = s.labels.get("stage") {
                if !names.contains(stage) {
                    names.push(stage.clone());
                }
            }
        }
    }
    // The text format sorts series by label; put them back in a request's order.
    const ORDER: [&str; 12] = [
        "receive",
        "decode",
        "preprocess",
        "queue",
        "batch",
        "copy_in",
        "compute",
        "copy_out",
        "response",
        "resume",
        "postprocess",
        "encode",
    ];
    names.sort_by_key(|n| ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()));
    names
}

fn delta_stage(before: &[Sample], after: &[Sample], model: &str, stage: &str) -> Option<f64> {
    let value = |samples: &[Sample]| {
        samples
            .iter()
            .find(|s| {
                s.name == STAGE_FAMILY
                    && s.labels.get("model").is_some_and(|m| m == model)
                    && s.labels.get("stage").is_some_and(|x| x == stage)
            })
            .map(|s| s.value)
    };
    Some(value(after)? - value(before).unwrap_or(0.0))
}

/// `GET url` as text, for the server's metrics.
pub async fn get_text(url: &str) -> std::result::Result<String, String> {
    use http_body_util::{BodyExt, Empty};
    let uri: hyper::Uri = url.parse().map_err(|e| format!("not a valid URL: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let response = tokio::time::timeout(Duration::from_secs(10), client.get(uri))
        .await
        .map_err(|_| "no answer in 10 s".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_is_read_with_labels_escapes_and_timestamps() {
        let text = "# HELP x help\n# TYPE x counter\nx 3\ny{a=\"1\",b=\"q\\\"uote\"} 2.5 1700000000\nbad line\nz{} 1e3\n";
        let s = parse(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].labels["b"], "q\"uote");
        assert_eq!((s[1].value, s[2].value), (2.5, 1000.0));
    }

    #[test]
    fn a_window_is_the_difference_of_the_models_counters() {
        let before = parse(
            "nv_inference_request_success{model=\"m\",version=\"1\"} 10\n\
             nv_inference_request_success{model=\"other\",version=\"1\"} 99\n\
             nv_inference_request_duration_us{model=\"m\",version=\"1\"} 1000\n\
             inferbench_stage_duration_us_total{model=\"m\",stage=\"compute\"} 500\n\
             inferbench_stage_duration_us_total{model=\"m\",stage=\"queue\"} 100\n",
        );
        let after = parse(
            "nv_inference_request_success{model=\"m\",version=\"1\"} 30\n\
             nv_inference_request_success{model=\"other\",version=\"1\"} 100\n\
             nv_inference_request_duration_us{model=\"m\",version=\"1\"} 41000\n\
             inferbench_stage_duration_us_total{model=\"m\",stage=\"compute\"} 20500\n\
             inferbench_stage_duration_us_total{model=\"m\",stage=\"queue\"} 2100\n",
        );
        let w = window(&before, &after, "m", "http://x/metrics").unwrap();
        assert_eq!(w.requests, 20.0);
        assert_eq!(w.request_ms, Some(2.0));
        assert_eq!(
            w.stages_ms,
            vec![("queue".to_string(), 0.1), ("compute".to_string(), 1.0)]
        );
        assert!(window(&before, &after, "absent", "x").is_none());
        // MLServer counts REST requests under version "None" and gRPC under "".
        let ml_before = parse(
            "model_infer_request_success_total{model=\"m\",version=\"None\"} 1\n\
             model_infer_request_success_total{model=\"m\",version=\"\"} 0\n\
             model_infer_request_duration_sum{model=\"m\",version=\"None\"} 0.5\n\
             model_infer_request_duration_count{model=\"m\",version=\"None\"} 1\n",
        );
        let ml_after = parse(
            "model_infer_request_success_total{model=\"m\",version=\"None\"} 31\n\
             model_infer_request_success_total{model=\"m\",version=\"\"} 10\n\
             model_infer_request_duration_sum{model=\"m\",version=\"None\"} 0.8\n\
             model_infer_request_duration_count{model=\"m\",version=\"None\"} 31\n",
        );
        let w = window(&ml_before, &ml_after, "m", "x").unwrap();
        assert_eq!((w.families.as_str(), w.requests), ("mlserver", 40.0));
        assert!((w.request_ms.unwrap() - 10.0).abs() < 1e-9);
    }
}
