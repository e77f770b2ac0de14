//! The custom criterion measurements and their formatters, so that terminal and
//! HTML output read in ms and %, not "ns".

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

use crate::percentile::Percentile;

/// A latency statistic (a percentile or the mean) of each sample's window, in
/// nanoseconds (× iters).
#[derive(Debug, Clone, Copy)]
pub struct TailLatency {
    /// The statistic; its name (`p99`, `p99.9`) is the benchmark function's name.
    pub percentile: Percentile,
}

impl TailLatency {
    /// The statistic's name, as a benchmark function name (`p99`, `p99.9`, `mean`).
    pub fn name(&self) -> String {
        self.percentile.name().into()
    }
}

/// Where [`Utilization`] reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UtilizationSource {
    /// GPU 0 through NVML.
    Gpu,
    /// This process's CPU time over all cores.
    Cpu,
}

/// Mean utilisation over each sample's window, in percent (× iters).
#[derive(Debug, Clone, Copy)]
pub struct Utilization {
    /// What is measured; never a GPU figure without a GPU.
    pub source: UtilizationSource,
}

impl Utilization {
    /// GPU where NVML sees one, else CPU.
    pub fn detect() -> Self {
        let gpu = nvml_wrapper::Nvml::init()
            .ok()
            .is_some_and(|n| n.device_count().is_ok_and(|c| c > 0));
        Self {
            source: if gpu {
                UtilizationSource::Gpu
            } else {
                UtilizationSource::Cpu
            },
        }
    }

    /// The benchmark function name: `gpu-util` or `cpu-util`.
    pub fn name(&self) -> &'static str {
        match self.source {
            UtilizationSource::Gpu => "gpu-util",
            UtilizationSource::Cpu => "cpu-util",
        }
    }
}

macro_rules! f64_measurement {
    ($ty:ty) => {
        impl Measurement for $ty {
            type Intermediate = ();
            type Value = f64;
            fn start(&self) -> Self::Intermediate {}
            fn end(&self, _: Self::Intermediate) -> Self::Value {
                // Only iter_custom is supported: the value comes from the pipeline window.
                0.0
            }
            fn add(&self, a: &f64, b: &f64) -> f64 {
                a + b
            }
            fn zero(&self) -> f64 {
                0.0
            }
            fn to_f64(&self, value: &f64) -> f64 {
                *value
            }
            fn formatter(&self) -> &dyn ValueFormatter {
                self
            }
        }
    };
}

f64_measurement!(TailLatency);
f64_measurement!(Utilization);

/// Scales nanoseconds to the unit that suits `typical`.
fn scale_ns(typical: f64, values: &mut [f64]) -> &'static str {
    let (factor, unit) = if typical < 1e3 {
        (1.0, "ns")
    } else if typical < 1e6 {
        (1e-3, "µs")
    } else if typical < 1e9 {
        (1e-6, "ms")
    } else {
        (1e-9, "s")
    };
    values.iter_mut().for_each(|v| *v *= factor);
    unit
}

impl ValueFormatter for TailLatency {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        scale_ns(typical, values)
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "(no throughput for a percentile)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl ValueFormatter for Utilization {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        match self.source {
            UtilizationSource::Gpu => "% GPU",
            UtilizationSource::Cpu => "% CPU",
        }
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _t: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "(no throughput for utilisation)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "%"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_scales_to_readable_units() {
        let mut v = [2_500_000.0, 3_000_000.0];
        let p99 = TailLatency {
            percentile: Percentile::P99,
        };
        assert_eq!(p99.scale_values(2_500_000.0, &mut v), "ms");
        assert_eq!(v, [2.5, 3.0]);
        // Benchmark function names: the committed baselines are stored under them.
        assert_eq!(p99.name(), "p99");
        let name = |percentile| TailLatency { percentile }.name();
        assert_eq!(name(Percentile::P999), "p99.9");
        assert_eq!(name(Percentile::P50), "p50");
        assert_eq!(name(Percentile::Mean), "mean");
    }

    #[test]
    fn utilization_is_labelled_by_its_source() {
        let cpu = Utilization {
            source: UtilizationSource::Cpu,
        };
        assert_eq!(cpu.scale_values(50.0, &mut [50.0]), "% CPU");
        assert_eq!(cpu.name(), "cpu-util");
    }
}
