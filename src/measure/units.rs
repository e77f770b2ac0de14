//! The custom criterion measurements and their formatters, so that terminal and
//! HTML output read in ms and %, not "ns".

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

use crate::config::{DeviceSpec, RunConfig};
use crate::percentile::Percentile;

/// A latency statistic (a percentile or the mean) of each sample's window, in
/// nanoseconds (× iters).
#[derive(Debug, Clone, Copy)]
pub struct TailLatency {
    /// The statistic (`p99`, `p99.9`, `mean`).
    pub percentile: Percentile,
    /// The steady load it is measured under: a closed loop with this many requests
    /// in flight per worker.
    pub in_flight_per_worker: u32,
}

impl TailLatency {
    /// The benchmark function's name: the statistic and its load, e.g.
    /// `p99@2-in-flight-per-worker`.
    pub fn name(&self) -> String {
        format!(
            "{}@{}-in-flight-per-worker",
            self.percentile.name(),
            self.in_flight_per_worker
        )
    }

    /// Requests in one sample's window: at least `requested`, and at least 100 per
    /// 1 % of tail (100 for p99, 1,000 for p99.9), so the statistic is a percentile.
    pub fn requests(&self, requested: u64) -> u64 {
        let floor = self
            .percentile
            .quantile()
            .map_or(1, |q| (1.0 / (1.0 - q)).round() as u64);
        requested.max(floor)
    }

    /// The window's load: a closed loop with the stated number in flight per worker.
    pub fn arrival(&self, workers: u32) -> crate::config::Arrival {
        crate::config::Arrival::Concurrency(self.in_flight_per_worker * workers)
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
    /// GPU utilisation for a suite that runs on a GPU, where NVML sees one; else the
    /// process's CPU. A CPU-only suite on a machine that happens to have a GPU gets
    /// CPU figures: an idle GPU's 0 % says nothing about a CPU run.
    pub fn for_suite(configs: &[RunConfig]) -> Self {
        let on_gpu = configs
            .iter()
            .any(|c| matches!(c.backend.device, DeviceSpec::Cuda(_)));
        let nvml = || {
            nvml_wrapper::Nvml::init()
                .ok()
                .is_some_and(|n| n.device_count().is_ok_and(|c| c > 0))
        };
        Self::choose(on_gpu, nvml)
    }

    fn choose(on_gpu: bool, nvml_sees_a_gpu: impl FnOnce() -> bool) -> Self {
        let source = if on_gpu && nvml_sees_a_gpu() {
            UtilizationSource::Gpu
        } else {
            UtilizationSource::Cpu
        };
        Self { source }
    }

    /// Whether this measurement applies to `cfg`: GPU utilisation only to GPU
    /// configurations (a mixed suite's CPU points get none), CPU to every one.
    pub fn applies_to(&self, cfg: &RunConfig) -> bool {
        match self.source {
            UtilizationSource::Gpu => matches!(cfg.backend.device, DeviceSpec::Cuda(_)),
            UtilizationSource::Cpu => true,
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

/// The criterion [`Measurement`] and [`ValueFormatter`] of a measurement whose values
/// are `f64`s read off a pipeline window by `iter_custom`: `$scale` is the type's
/// method that scales values to a display unit, `$machine` the unit of the raw
/// values in machine-readable output, and `$no_throughput` what criterion prints where
/// it would print a throughput.
macro_rules! f64_measurement {
    ($ty:ty, scale: $scale:ident, machine_unit: $machine:expr, no_throughput: $no_throughput:expr) => {
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

        impl ValueFormatter for $ty {
            fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
                self.$scale(typical, values)
            }
            fn scale_throughputs(
                &self,
                _typical: f64,
                _t: &Throughput,
                _values: &mut [f64],
            ) -> &'static str {
                $no_throughput
            }
            fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
                $machine
            }
        }
    };
}

f64_measurement!(TailLatency, scale: scale_ns, machine_unit: "ns",
    no_throughput: "(no throughput for a percentile)");
f64_measurement!(Utilization, scale: unit, machine_unit: "%",
    no_throughput: "(no throughput for utilisation)");

impl TailLatency {
    /// Scales nanoseconds to the unit that suits `typical`.
    fn scale_ns(&self, typical: f64, values: &mut [f64]) -> &'static str {
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
}

impl Utilization {
    /// Percent stays percent; the unit says whose.
    fn unit(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        match self.source {
            UtilizationSource::Gpu => "% GPU",
            UtilizationSource::Cpu => "% CPU",
        }
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
            in_flight_per_worker: 2,
        };
        assert_eq!(p99.scale_values(2_500_000.0, &mut v), "ms");
        assert_eq!(v, [2.5, 3.0]);
        // Benchmark function names: the committed baselines are stored under them.
        assert_eq!(p99.name(), "p99@2-in-flight-per-worker");
        let tail = |percentile| TailLatency {
            percentile,
            in_flight_per_worker: 1,
        };
        assert_eq!(
            tail(Percentile::P999).name(),
            "p99.9@1-in-flight-per-worker"
        );
        assert_eq!(tail(Percentile::Mean).name(), "mean@1-in-flight-per-worker");
        // At least 100 requests per 1 % of tail in a window.
        assert_eq!(p99.requests(16), 100);
        assert_eq!(p99.requests(400), 400);
        assert_eq!(tail(Percentile::P999).requests(16), 1000);
        assert_eq!(tail(Percentile::P90).requests(16), 16);
        assert_eq!(tail(Percentile::Mean).requests(16), 16);
        assert_eq!(p99.arrival(2), crate::config::Arrival::Concurrency(4));
    }

    #[test]
    fn gpu_utilisation_only_for_gpu_suites_where_nvml_sees_a_gpu() {
        let cpu_cfg = RunConfig::default();
        let mut gpu_cfg = RunConfig::default();
        gpu_cfg.backend.device = DeviceSpec::Cuda(0);
        let cpu_suite = Utilization::choose(false, || panic!("a CPU suite never asks NVML"));
        assert_eq!(cpu_suite.source, UtilizationSource::Cpu);
        let no_nvml = Utilization::choose(true, || false);
        assert_eq!(no_nvml.source, UtilizationSource::Cpu);
        assert!(no_nvml.applies_to(&gpu_cfg) && no_nvml.applies_to(&cpu_cfg));
        let gpu = Utilization::choose(true, || true);
        assert_eq!(gpu.source, UtilizationSource::Gpu);
        assert!(gpu.applies_to(&gpu_cfg));
        assert!(
            !gpu.applies_to(&cpu_cfg),
            "an idle GPU's figure for a CPU run"
        );
        assert_eq!(
            Utilization::for_suite(&[cpu_cfg]).source,
            UtilizationSource::Cpu
        );
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
