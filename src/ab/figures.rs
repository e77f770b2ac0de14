//! The figures an A/B compares, and how each is read from a run's JSON report.
//!
//! They are read by JSON pointer from `inferbench run --json`, not by
//! deserialising [`crate::results::RunReport`]: the base binary is another revision,
//! whose report may have gained or lost fields; only these few paths must agree.

use serde::Serialize;

/// One figure of a run; serialised as its [`Figure::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Figure {
    /// Samples per second over the measured window.
    #[serde(rename = "throughput")]
    Throughput,
    /// Mean end-to-end latency, ms.
    #[serde(rename = "mean")]
    MeanLatency,
    /// 99th-percentile end-to-end latency, ms.
    #[serde(rename = "p99")]
    P99Latency,
    /// Process CPU utilisation, % of all cores.
    #[serde(rename = "cpu-util")]
    CpuUtil,
    /// GPU utilisation, %; absent where no GPU is visible.
    #[serde(rename = "gpu-util")]
    GpuUtil,
}

impl Figure {
    /// Every figure, in table order.
    pub const ALL: [Figure; 5] = [
        Figure::Throughput,
        Figure::MeanLatency,
        Figure::P99Latency,
        Figure::CpuUtil,
        Figure::GpuUtil,
    ];

    /// The name in tables and benchmark ids (as `compare`'s function names).
    pub fn name(self) -> &'static str {
        match self {
            Figure::Throughput => "throughput",
            Figure::MeanLatency => "mean",
            Figure::P99Latency => "p99",
            Figure::CpuUtil => "cpu-util",
            Figure::GpuUtil => "gpu-util",
        }
    }

    /// The unit of the values.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Throughput => "samples/s",
            Figure::MeanLatency | Figure::P99Latency => "ms",
            Figure::CpuUtil | Figure::GpuUtil => "%",
        }
    }

    /// Whether a smaller value is better. Utilisation counts as bigger-is-better,
    /// as in `compare` (a saturated pipeline whose device utilisation drops is
    /// waiting on the harness), so that both tools read a change the same way.
    pub fn smaller_is_better(self) -> bool {
        matches!(self, Figure::MeanLatency | Figure::P99Latency)
    }

    /// The figure a name (as [`Figure::name`]) stands for.
    pub fn parse(name: &str) -> crate::error::Result<Self> {
        Figure::ALL
            .into_iter()
            .find(|f| f.name() == name.trim())
            .ok_or_else(|| {
                crate::error::Error::config(
                    "figures",
                    format!(
                        "'{name}' is not a figure; expected some of throughput, mean, p99, cpu-util, gpu-util"
                    ),
                )
            })
    }

    fn pointer(self) -> &'static str {
        match self {
            Figure::Throughput => "/throughput_samples_per_s",
            Figure::MeanLatency => "/latency_ms/mean",
            Figure::P99Latency => "/latency_ms/p99",
            Figure::CpuUtil => "/utilization/cpu_pct",
            Figure::GpuUtil => "/utilization/gpu_pct",
        }
    }
}

/// What one run measured: a value per figure (`None` where the run reports it
/// absent), and the configuration's id when the report carries one this build can read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurement {
    /// Values in [`Figure::ALL`] order.
    pub values: [Option<f64>; 5],
    /// `RunConfig::id` of the configuration that ran.
    pub config_id: Option<String>,
}

impl Measurement {
    /// The value of one figure; only positive finite values count (a ratio of
    /// anything else means nothing).
    pub fn get(&self, figure: Figure) -> Option<f64> {
        let index = Figure::ALL
            .iter()
            .position(|&f| f == figure)
            .expect("every figure is in Figure::ALL; this is a bug");
        self.values[index].filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Reads the figures from a run report's JSON.
    pub fn from_report_json(report: &serde_json::Value) -> Self {
        let values = Figure::ALL.map(|f| report.pointer(f.pointer()).and_then(|v| v.as_f64()));
        let config_id = report
            .get("config")
            .and_then(|c| serde_json::from_value::<crate::config::RunConfig>(c.clone()).ok())
            .map(|c| c.id());
        Self { values, config_id }
    }

    /// A measurement with these values and no id (synthetic data in tests).
    pub fn from_values(values: [Option<f64>; 5]) -> Self {
        Self {
            values,
            config_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_by_path_and_absent_ones_stay_absent() {
        let report = serde_json::json!({
            "throughput_samples_per_s": 190.5,
            "latency_ms": {"mean": 5.2, "p99": 6.0},
            "utilization": {"cpu_pct": 49.0, "gpu_pct": null},
            "config": {"not": "a run config"}
        });
        let m = Measurement::from_report_json(&report);
        assert_eq!(m.get(Figure::Throughput), Some(190.5));
        assert_eq!(m.get(Figure::MeanLatency), Some(5.2));
        assert_eq!(m.get(Figure::P99Latency), Some(6.0));
        assert_eq!(m.get(Figure::CpuUtil), Some(49.0));
        assert_eq!(m.get(Figure::GpuUtil), None);
        assert_eq!(m.config_id, None);
    }

    #[test]
    fn figures_parse_by_name() {
        for f in Figure::ALL {
            assert_eq!(Figure::parse(f.name()).unwrap(), f);
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
        }
        let err = Figure::parse("p95").unwrap_err().to_string();
        assert!(err.contains("'p95'") && err.contains("throughput"), "{err}");
    }

    #[test]
    fn a_report_of_this_build_names_its_configuration() {
        let cfg = crate::config::RunConfig::default();
        let report = serde_json::json!({"config": cfg, "throughput_samples_per_s": 0.0});
        let m = Measurement::from_report_json(&report);
        assert_eq!(m.config_id, Some(cfg.id()));
        // Zero is not a value a ratio can use.
        assert_eq!(m.get(Figure::Throughput), None);
    }
}
