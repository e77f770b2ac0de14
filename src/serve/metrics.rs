//! The server's Prometheus metrics (`GET /metrics`), named after Triton's
//! `nv_inference_*` families so that a dashboard or scraper written for Triton reads
//! them as they are (`--target` scrapes them too), with inferbench's own families
//! beside them for what Triton does not split out.
//!
//! | family | what |
//! |---|---|
//! | `nv_inference_request_success`, `nv_inference_request_failure{reason}` | requests answered, and refused or failed (`reason`: `REJECTED` 4xx, `UNAVAILABLE` 503, `BACKEND` 500, `CANCELED` client gone) |
//! | `nv_inference_count`, `nv_inference_exec_count` | samples inferred; forwards run (each request adds its share of its forward, so the sum is whole) |
//! | `nv_inference_request_duration_us` | headers read to response built, summed over answered requests |
//! | `nv_inference_queue_duration_us` | the pipeline's queue and batcher waits |
//! | `nv_inference_compute_{input,infer,output}_duration_us` | copy-in, forward, copy-out |
//! | `nv_inference_pending_request_count` | requests in the server now |
//! | `inferbench_stage_duration_us_total{stage}` | every server stage (see [`super::timeline`]) |
//! | `inferbench_request_duration_seconds` | histogram of the time on the server |
//! | `inferbench_forward_batch_samples` | histogram, per request, of the samples in the forward that computed it |

use prometheus::{
    Counter, CounterVec, Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

use super::timeline::{ServerStage, Timeline};
use crate::request::Stage;

/// Why a request was not answered, as the failure counter's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// Refused: a malformed request, an unknown model, a body over the limit (4xx).
    Rejected,
    /// Not ready, or stopping (503).
    Unavailable,
    /// The pipeline failed (500).
    Backend,
    /// The client went away before its answer.
    Canceled,
}

impl FailureReason {
    fn label(self) -> &'static str {
        match self {
            FailureReason::Rejected => "REJECTED",
            FailureReason::Unavailable => "UNAVAILABLE",
            FailureReason::Backend => "BACKEND",
            FailureReason::Canceled => "CANCELED",
        }
    }
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    success: IntCounter,
    failure: IntCounterVec,
    count: IntCounter,
    exec_count: Counter,
    request_us: Counter,
    queue_us: Counter,
    compute_us: [Counter; 3],
    stage_us: CounterVec,
    pending: IntGauge,
    duration: Histogram,
    batch: Histogram,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

impl Metrics {
    /// Families for `model` (version 1).
    pub fn new(model: &str) -> Self {
        let registry = Registry::new();
        let labels = [model, "1"];
        let counter = |name: &str, help: &str| {
            let vec = CounterVec::new(Opts::new(name, help), &["model", "version"])
                .expect("valid metric names; this is a bug");
            registry
                .register(Box::new(vec.clone()))
                .expect("each family registered once; this is a bug");
            vec.with_label_values(&labels)
        };
        let int_counter = |name: &str, help: &str| {
            let vec = IntCounterVec::new(Opts::new(name, help), &["model", "version"])
                .expect("valid metric names; this is a bug");
            registry
                .register(Box::new(vec.clone()))
                .expect("each family registered once; this is a bug");
            vec.with_label_values(&labels)
        };
        let success = int_counter("nv_inference_request_success", "Requests answered");
        let count = int_counter("nv_inference_count", "Samples inferred");
        let exec_count = counter("nv_inference_exec_count", "Forwards run");
        let request_us = counter(
            "nv_inference_request_duration_us",
            "Time on the server of answered requests, headers read to response built (us)",
        );
        let queue_us = counter(
            "nv_inference_queue_duration_us",
            "Time in the pipeline's request queue and batcher (us)",
        );
        let compute_us = [
            counter(
                "nv_inference_compute_input_duration_us",
                "Copy-in time (us)",
            ),
            counter(
                "nv_inference_compute_infer_duration_us",
                "Forward time, including the wait for a worker (us)",
            ),
            counter(
                "nv_inference_compute_output_duration_us",
                "Copy-out time (us)",
            ),
        ];
        let failure = IntCounterVec::new(
            Opts::new("nv_inference_request_failure", "Requests refused or failed"),
            &["model", "version", "reason"],
        )
        .expect("valid metric names; this is a bug");
        let stage_us = CounterVec::new(
            Opts::new(
                "inferbench_stage_duration_us_total",
                "Time per server stage, summed over answered requests (us)",
            ),
            &["model", "stage"],
        )
        .expect("valid metric names; this is a bug");
        let pending = IntGauge::with_opts(
            Opts::new(
                "nv_inference_pending_request_count",
                "Requests in the server now",
            )
            .const_label("model", model)
            .const_label("version", "1"),
        )
        .expect("valid metric names; this is a bug");
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "inferbench_request_duration_seconds",
                "Time on the server of answered requests",
            )
            .const_label("model", model)
            .buckets(prometheus::exponential_buckets(50e-6, 2.0, 18).expect("valid buckets")),
        )
        .expect("valid metric names; this is a bug");
        let batch = Histogram::with_opts(
            HistogramOpts::new(
                "inferbench_forward_batch_samples",
                "Per answered request, the samples in the forward that computed it",
            )
            .const_label("model", model)
            .buckets(prometheus::exponential_buckets(1.0, 2.0, 13).expect("valid buckets")),
        )
        .expect("valid metric names; this is a bug");
        for family in [
            Box::new(failure.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(stage_us.clone()),
            Box::new(pending.clone()),
            Box::new(duration.clone()),
            Box::new(batch.clone()),
        ] {
            registry
                .register(family)
                .expect("each family registered once; this is a bug");
        }
        // Every reason and stage is listed from the start, at 0, so that a scrape
        // before and after a window can take differences of every series.
        for reason in [
            FailureReason::Rejected,
            FailureReason::Unavailable,
            FailureReason::Backend,
            FailureReason::Canceled,
        ] {
            failure.with_label_values(&[model, "1", reason.label()]);
        }
        for stage in ServerStage::ALL {
            stage_us.with_label_values(&[model, stage.name()]);
        }
        let stage_us_model = stage_us;
        Self {
            registry,
            success,
            failure: failure.clone(),
            count,
            exec_count,
            request_us,
            queue_us,
            compute_us,
            stage_us: stage_us_model,
            pending,
            duration,
            batch,
        }
    }

    /// A request entered the server.
    pub fn started(&self) {
        self.pending.inc();
    }

    /// A request left the server, answered or not.
    pub fn finished(&self) {
        self.pending.dec();
    }

    /// An answered request, with its stamps.
    pub fn answered(&self, model: &str, t: &Timeline) {
        self.success.inc();
        if let Some(meta) = &t.pipeline {
            self.count.inc_by(meta.samples as u64);
            if meta.batch_samples > 0 {
                self.exec_count
                    .inc_by(meta.samples as f64 / meta.batch_samples as f64);
                self.batch.observe(meta.batch_samples as f64);
            }
        }
        if let Some(total) = t.total_ns() {
            self.request_us.inc_by(us(total));
            self.duration.observe(total as f64 * 1e-9);
        }
        for (stage, ns) in t.stages() {
            self.stage_us
                .with_label_values(&[model, stage.name()])
                .inc_by(us(ns));
            match stage {
                ServerStage::Pipeline(Stage::Queue | Stage::Batch) => self.queue_us.inc_by(us(ns)),
                ServerStage::Pipeline(Stage::CopyIn) => self.compute_us[0].inc_by(us(ns)),
                ServerStage::Pipeline(Stage::Compute) => self.compute_us[1].inc_by(us(ns)),
                ServerStage::Pipeline(Stage::CopyOut) => self.compute_us[2].inc_by(us(ns)),
                _ => {}
            }
        }
    }

    /// A request that was not answered.
    pub fn failed(&self, model: &str, reason: FailureReason) {
        self.failure
            .with_label_values(&[model, "1", reason.label()])
            .inc();
    }

    /// Requests answered so far.
    pub fn answered_count(&self) -> u64 {
        self.success.get()
    }

    /// Requests not answered so far, by reason.
    pub fn failed_counts(&self, model: &str) -> Vec<(&'static str, u64)> {
        [
            FailureReason::Rejected,
            FailureReason::Unavailable,
            FailureReason::Backend,
            FailureReason::Canceled,
        ]
        .into_iter()
        .map(|r| {
            let n = self
                .failure
                .with_label_values(&[model, "1", r.label()])
                .get();
            (r.label(), n)
        })
        .collect()
    }

    /// Mean time per stage over the answered requests, ms (stages no request
    /// passed are left out).
    pub fn stage_means_ms(&self, model: &str) -> Vec<(&'static str, f64)> {
        let n = self.success.get();
        if n == 0 {
            return Vec::new();
        }
        ServerStage::ALL
            .into_iter()
            .filter_map(|stage| {
                let total = self
                    .stage_us
                    .with_label_values(&[model, stage.name()])
                    .get();
                (total > 0.0).then(|| (stage.name(), total / n as f64 / 1e3))
            })
            .collect()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory; this is a bug");
        String::from_utf8(out).expect("the text format is UTF-8; this is a bug")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{RequestMeta, Stamp, Stamps};

    #[test]
    fn triton_families_and_stage_sums_are_exposed() {
        let m = Metrics::new("resnet18");
        let mut stamps = Stamps::default();
        for (k, stamp) in Stamp::ALL.into_iter().enumerate() {
            stamps.set(stamp, 10_000 + 1_000 * k as u64);
        }
        let t = Timeline {
            arrived: 1_000,
            read: 2_000,
            decoded: 10_000,
            pipeline: Some(RequestMeta {
                id: 3,
                samples: 2,
                batch_samples: 4,
                stamps,
            }),
            resumed: 18_000,
            postprocessed: 19_000,
            encoded: 21_000,
            ..Timeline::default()
        };
        m.answered("resnet18", &t);
        m.failed("resnet18", FailureReason::Rejected);
        let text = m.render();
        for line in [
            "nv_inference_request_success{model=\"resnet18\",version=\"1\"} 1",
            "nv_inference_count{model=\"resnet18\",version=\"1\"} 2",
            "nv_inference_exec_count{model=\"resnet18\",version=\"1\"} 0.5",
            "nv_inference_request_duration_us{model=\"resnet18\",version=\"1\"} 20",
            "nv_inference_compute_infer_duration_us{model=\"resnet18\",version=\"1\"} 1",
            "nv_inference_request_failure{model=\"resnet18\",reason=\"REJECTED\",version=\"1\"} 1",
            "nv_inference_request_failure{model=\"resnet18\",reason=\"CANCELED\",version=\"1\"} 0",
            "inferbench_stage_duration_us_total{model=\"resnet18\",stage=\"encode\"} 2",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        let means = m.stage_means_ms("resnet18");
        let total: f64 = means.iter().map(|(_, v)| v).sum();
        assert!((total - 0.020).abs() < 1e-9, "{means:?}");
        assert!(!means.iter().any(|(s, _)| *s == "preprocess"));
    }
}
