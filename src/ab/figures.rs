//! The figures an A/B compares, and how each is read from a run's JSON report.
//!
//! Two families: a pipeline run's ([`Figure::ALL`], what `ab` judges) and an LLM
//! server's window ([`Figure::LLM`], what `llm-ab` judges). A pipeline run's figures
//! are read by JSON pointer from `inferbench run --json`, not by deserialising
//! [`crate::results::RunReport`]: the base binary is another revision, whose report
//! may have gained or lost fields; only these few paths must agree. An LLM window's
//! come from its figures in this process (`crate::ab::llm_runs`).

use std::collections::BTreeMap;

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
    /// LLM: output tokens of completed requests per second; absent without token counts.
    #[serde(rename = "output-tokens")]
    OutputTokensPerS,
    /// LLM: completed requests per second.
    #[serde(rename = "requests")]
    RequestsPerS,
    /// LLM: median time to first token, ms; absent for whole answers.
    #[serde(rename = "ttft-p50")]
    TtftP50,
    /// LLM: 99th-percentile time to first token, ms.
    #[serde(rename = "ttft-p99")]
    TtftP99,
    /// LLM: median time per output token after the first, ms; absent for whole
    /// answers and without token counts.
    #[serde(rename = "tpot-p50")]
    TpotP50,
    /// LLM: 99th-percentile time per output token, ms.
    #[serde(rename = "tpot-p99")]
    TpotP99,
    /// LLM: 99th-percentile end-to-end latency of completed requests, ms.
    #[serde(rename = "e2e-p99")]
    E2eP99,
    /// LLM: requests per second that met the goodput bounds; absent without bounds.
    #[serde(rename = "goodput")]
    Goodput,
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

    /// Every figure of an LLM server's window, in table order.
    pub const LLM: [Figure; 8] = [
        Figure::OutputTokensPerS,
        Figure::RequestsPerS,
        Figure::TtftP50,
        Figure::TtftP99,
        Figure::TpotP50,
        Figure::TpotP99,
        Figure::E2eP99,
        Figure::Goodput,
    ];

    /// The name in tables and benchmark ids (as `compare`'s function names).
    pub fn name(self) -> &'static str {
        match self {
            Figure::Throughput => "throughput",
            Figure::MeanLatency => "mean",
            Figure::P99Latency => "p99",
            Figure::CpuUtil => "cpu-util",
            Figure::GpuUtil => "gpu-util",
            Figure::OutputTokensPerS => "output-tokens",
            Figure::RequestsPerS => "requests",
            Figure::TtftP50 => "ttft-p50",
            Figure::TtftP99 => "ttft-p99",
            Figure::TpotP50 => "tpot-p50",
            Figure::TpotP99 => "tpot-p99",
            Figure::E2eP99 => "e2e-p99",
            Figure::Goodput => "goodput",
        }
    }

    /// The unit of the values.
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Throughput => "samples/s",
            Figure::MeanLatency | Figure::P99Latency => "ms",
            Figure::CpuUtil | Figure::GpuUtil => "%",
            Figure::OutputTokensPerS => "tokens/s",
            Figure::RequestsPerS | Figure::Goodput => "requests/s",
            Figure::TtftP50
            | Figure::TtftP99
            | Figure::TpotP50
            | Figure::TpotP99
            | Figure::E2eP99 => "ms",
        }
    }

    /// Whether a smaller value is better: latencies. Utilisation counts as
    /// bigger-is-better, as in `compare` (a saturated pipeline whose device
    /// utilisation drops is waiting on the harness), so that both tools read a
    /// change the same way.
    pub fn smaller_is_better(self) -> bool {
        matches!(
            self,
            Figure::MeanLatency
                | Figure::P99Latency
                | Figure::TtftP50
                | Figure::TtftP99
                | Figure::TpotP50
                | Figure::TpotP99
                | Figure::E2eP99
        )
    }

    /// The figure of [`Figure::ALL`] a name (as [`Figure::name`]) stands for.
    pub fn parse(name: &str) -> crate::error::Result<Self> {
        Self::parse_in(name, &Figure::ALL)
    }

    /// The figure of `family` a name stands for; the error lists the family's names.
    pub fn parse_in(name: &str, family: &[Figure]) -> crate::error::Result<Self> {
        family
            .iter()
            .copied()
            .find(|f| f.name() == name.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = family.iter().map(|f| f.name()).collect();
                crate::error::Error::config(
                    "figures",
                    format!(
                        "'{name}' is not a figure; expected some of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    fn pointer(self) -> Option<&'static str> {
        match self {
            Figure::Throughput => Some("/throughput_samples_per_s"),
            Figure::MeanLatency => Some("/latency_ms/mean"),
            Figure::P99Latency => Some("/latency_ms/p99"),
            Figure::CpuUtil => Some("/utilization/cpu_pct"),
            Figure::GpuUtil => Some("/utilization/gpu_pct"),
            _ => None,
        }
    }
}

/// What one run measured: a value per figure it reported (a figure it reports
/// absent has no entry), and the configuration's id when the report carries one this
/// build can read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurement {
    /// The values the run reported, by figure, as reported (zero included).
    pub values: BTreeMap<Figure, f64>,
    /// `RunConfig::id` of the configuration that ran.
    pub config_id: Option<String>,
}

impl Measurement {
    /// The value of one figure; only positive finite values count (a ratio of
    /// anything else means nothing).
    pub fn get(&self, figure: Figure) -> Option<f64> {
        self.values
            .get(&figure)
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Reads the figures of [`Figure::ALL`] from a run report's JSON.
    pub fn from_report_json(report: &serde_json::Value) -> Self {
        let config_id = report
            .get("config")
            .and_then(|c| serde_json::from_value::<crate::config::RunConfig>(c.clone()).ok())
            .map(|c| c.id());
        Self {
            values: Self::figures_of(Figure::ALL.iter().filter_map(|&f| {
                let value = report.pointer(f.pointer()?)?.as_f64();
                Some((f, value))
            })),
            config_id,
        }
    }

    /// A measurement with these values of [`Figure::ALL`], in its order, and no id
    /// (synthetic data in tests).
    pub fn from_values(values: [Option<f64>; 5]) -> Self {
        Self {
            values: Self::figures_of(Figure::ALL.into_iter().zip(values)),
            config_id: None,
        }
    }

    /// A measurement of these figures (`None`: reported absent, left out).
    pub fn from_figures(
        values: impl IntoIterator<Item = (Figure, Option<f64>)>,
        config_id: Option<String>,
    ) -> Self {
        Self {
            values: Self::figures_of(values),
            config_id,
        }
    }

    fn figures_of(
        values: impl IntoIterator<Item = (Figure, Option<f64>)>,
    ) -> BTreeMap<Figure, f64> {
        values
            .into_iter()
            .filter_map(|(f, v)| Some((f, v?)))
            .collect()
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
    fn llm_figures_have_their_own_names_units_and_directions() {
        for f in Figure::LLM {
            assert!(!Figure::ALL.contains(&f));
            assert_eq!(Figure::parse_in(f.name(), &Figure::LLM).unwrap(), f);
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
        }
        // The pipeline's names are not LLM figures, nor the other way round.
        let err = Figure::parse_in("throughput", &Figure::LLM)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ttft-p99") && err.contains("goodput"), "{err}");
        assert!(Figure::parse("ttft-p50").is_err());
        assert!(Figure::TtftP99.smaller_is_better() && Figure::E2eP99.smaller_is_better());
        assert!(
            !Figure::OutputTokensPerS.smaller_is_better() && !Figure::Goodput.smaller_is_better()
        );
        assert_eq!(Figure::OutputTokensPerS.unit(), "tokens/s");
        // Table order: the pipeline's figures first, then the LLM's in their own order.
        let mut all: Vec<Figure> = Figure::LLM
            .iter()
            .rev()
            .chain(&Figure::ALL)
            .copied()
            .collect();
        all.sort();
        assert_eq!(all, [Figure::ALL.to_vec(), Figure::LLM.to_vec()].concat());
    }

    #[test]
    fn values_are_stored_by_figure_and_absent_ones_have_no_entry() {
        let m = Measurement::from_figures(
            [
                (Figure::TtftP50, Some(20.0)),
                (Figure::TpotP50, None),
                (Figure::Goodput, Some(0.0)),
            ],
            Some("id".into()),
        );
        assert_eq!(m.get(Figure::TtftP50), Some(20.0));
        assert_eq!(m.get(Figure::TpotP50), None);
        assert!(!m.values.contains_key(&Figure::TpotP50));
        // Zero is kept as reported, but no ratio uses it.
        assert_eq!(m.values.get(&Figure::Goodput), Some(&0.0));
        assert_eq!(m.get(Figure::Goodput), None);
        assert_eq!(m.get(Figure::Throughput), None);
        let old = Measurement::from_values([Some(1.0), None, Some(3.0), None, Some(5.0)]);
        assert_eq!(
            old.values.keys().copied().collect::<Vec<_>>(),
            [Figure::Throughput, Figure::P99Latency, Figure::GpuUtil]
        );
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
