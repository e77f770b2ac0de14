//! Utilisation over the measured window, sampled every period on its own thread.
//!
//! - Process CPU: a cumulative counter (`CLOCK_PROCESS_CPUTIME_ID`, ns resolution),
//!   so the time-weighted mean over the window is Δcpu / (Δwall × cores).
//! - GPU: NVML's utilisation gauge (percent of the last sampling period a kernel
//!   ran), SM clock and power draw, each averaged with every reading weighted by the
//!   interval it covers; memory used as its peak over the window.
//!
//! Where a figure cannot be measured (no NVIDIA driver, a failing probe) it is
//! `None` and reports print it as absent; it is never 0 and never estimated.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use serde::{Deserialize, Serialize};

/// Default sampling period (the seed polled nvidia-smi every 100 ms).
pub const DEFAULT_PERIOD: Duration = Duration::from_millis(100);

/// Utilisation over the measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UtilizationSummary {
    /// Process CPU time / (wall time × cores), percent (100 = every core busy).
    pub cpu_pct: Option<f64>,
    /// GPU busy percent, time-weighted; `None` where no NVIDIA GPU is visible.
    pub gpu_pct: Option<f64>,
    /// Peak GPU memory used (all processes), MiB.
    #[serde(default)]
    pub gpu_memory_used_mib: Option<f64>,
    /// SM clock, MHz, time-weighted.
    #[serde(default)]
    pub gpu_sm_clock_mhz: Option<f64>,
    /// Board power draw, W, time-weighted.
    #[serde(default)]
    pub gpu_power_w: Option<f64>,
    /// Why the GPU figure is absent, when it is.
    pub gpu_absent_reason: Option<String>,
    /// Samples taken (including the ones at the window's start and end).
    pub samples: usize,
}

/// Process CPU time consumed so far, in seconds.
pub fn process_cpu_seconds() -> Option<f64> {
    cpu_clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time the calling thread has consumed so far, in seconds.
pub fn thread_cpu_seconds() -> Option<f64> {
    cpu_clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_clock_seconds(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// Mean of a cumulative counter's rate over the samples: (last − first) / elapsed.
/// Samples are `(seconds since start, counter)`.
pub fn counter_mean_rate(samples: &[(f64, f64)]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let elapsed = last.0 - first.0;
    (elapsed > 0.0).then(|| (last.1 - first.1) / elapsed)
}

/// Time-weighted mean of a gauge: each reading covers the interval since the one
/// before it. Samples are `(seconds since start, value)`; the first only opens the window.
pub fn gauge_time_weighted_mean(samples: &[(f64, f64)]) -> Option<f64> {
    let (mut weighted, mut total) = (0.0, 0.0);
    for pair in samples.windows(2) {
        let dt = pair[1].0 - pair[0].0;
        weighted += pair[1].1 * dt;
        total += dt;
    }
    (total > 0.0).then(|| weighted / total)
}

/// One NVML reading; a field NVML would not give is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GpuReading {
    /// Busy percent over NVML's last sampling period.
    pub util_pct: Option<f64>,
    /// Memory used, MiB.
    pub memory_used_mib: Option<f64>,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// Power draw, W.
    pub power_w: Option<f64>,
}

/// Which GPU NVML reads. NVML numbers GPUs in PCI order and ignores
/// `CUDA_VISIBLE_DEVICES`, while CUDA's ordinals follow that variable (and by default
/// put the fastest GPU first), so `cuda:1` need not be NVML's device 1: the PCI bus id
/// names the same GPU to both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuId {
    /// NVML's own index (right only where NVML and CUDA agree, e.g. on one GPU).
    Index(u32),
    /// The PCI bus id, `domain:bus:device.function` in hex (`0000:17:00.0`).
    PciBusId(String),
}

impl std::fmt::Display for GpuId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuId::Index(i) => write!(f, "index {i}"),
            GpuId::PciBusId(id) => write!(f, "PCI bus id {id}"),
        }
    }
}

struct GpuProbe {
    nvml: nvml_wrapper::Nvml,
    id: GpuId,
}

impl GpuProbe {
    fn open(id: GpuId) -> Result<Self, String> {
        let nvml =
            nvml_wrapper::Nvml::init().map_err(|e| format!("no NVIDIA GPU visible (NVML: {e})"))?;
        let probe = Self { nvml, id };
        probe
            .device()
            .map_err(|e| format!("NVML sees no device at {} ({e})", probe.id))?;
        Ok(probe)
    }

    fn device(&self) -> Result<nvml_wrapper::Device<'_>, nvml_wrapper::error::NvmlError> {
        match &self.id {
            GpuId::Index(i) => self.nvml.device_by_index(*i),
            GpuId::PciBusId(id) => self.nvml.device_by_pci_bus_id(id.as_str()),
        }
    }

    fn read(&self) -> Option<GpuReading> {
        use nvml_wrapper::enum_wrappers::device::Clock;
        let device = self.device().ok()?;
        Some(GpuReading {
            util_pct: device.utilization_rates().ok().map(|u| u.gpu as f64),
            memory_used_mib: device
                .memory_info()
                .ok()
                .map(|m| m.used as f64 / (1024.0 * 1024.0)),
            sm_clock_mhz: device.clock_info(Clock::SM).ok().map(f64::from),
            power_w: device.power_usage().ok().map(|mw| mw as f64 / 1000.0),
        })
    }
}

/// A running sampler; [`UtilizationSampler::stop`] ends the window.
pub struct UtilizationSampler {
    stop: Sender<()>,
    handle: JoinHandle<UtilizationSummary>,
}

impl UtilizationSampler {
    /// Starts sampling now, every `period` (GPU figures from NVML's GPU 0).
    pub fn start(period: Duration) -> Self {
        Self::start_on(period, GpuId::Index(0))
    }

    /// Starts sampling now, every `period`, GPU figures from the GPU `gpu` names.
    pub fn start_on(period: Duration, gpu: GpuId) -> Self {
        let (stop, stopped) = bounded::<()>(1);
        let handle = std::thread::Builder::new()
            .name("utilization".into())
            .spawn(move || {
                let gpu = GpuProbe::open(gpu);
                let started = Instant::now();
                let mut cpu = Vec::new();
                let mut gpu_samples = Vec::new();
                loop {
                    let t = started.elapsed().as_secs_f64();
                    if let Some(c) = process_cpu_seconds() {
                        cpu.push((t, c));
                    }
                    if let Some(g) = gpu.as_ref().ok().and_then(GpuProbe::read) {
                        gpu_samples.push((t, g));
                    }
                    match stopped.recv_timeout(period) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
                let t = started.elapsed().as_secs_f64();
                if let Some(c) = process_cpu_seconds() {
                    cpu.push((t, c));
                }
                if let Some(g) = gpu.as_ref().ok().and_then(GpuProbe::read) {
                    gpu_samples.push((t, g));
                }
                summarise(&cpu, &gpu_samples, gpu.err(), period)
            })
            .expect("spawning the utilisation thread");
        Self { stop, handle }
    }

    /// Ends the window and returns the means over it.
    pub fn stop(self) -> UtilizationSummary {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}

fn window_s(samples: &[(f64, f64)]) -> f64 {
    samples
        .last()
        .zip(samples.first())
        .map_or(0.0, |(l, f)| l.0 - f.0)
}

/// The samples of one field of the readings that have it.
fn series(gpu: &[(f64, GpuReading)], field: fn(&GpuReading) -> Option<f64>) -> Vec<(f64, f64)> {
    gpu.iter()
        .filter_map(|(t, r)| field(r).map(|v| (*t, v)))
        .collect()
}

fn summarise(
    cpu: &[(f64, f64)],
    gpu: &[(f64, GpuReading)],
    gpu_error: Option<String>,
    period: Duration,
) -> UtilizationSummary {
    let cores = crate::config::cores() as f64;
    let gpu_pct = gauge_time_weighted_mean(&series(gpu, |r| r.util_pct));
    let gpu_absent_reason = match (&gpu_pct, gpu_error) {
        (Some(_), _) => None,
        (None, Some(e)) => Some(e),
        (None, None) => Some("NVML gave no readings in the window".into()),
    };
    UtilizationSummary {
        // Linux accounts other cores' running threads lazily, so over a window shorter than
        // one sampling period the CPU clock can overshoot: such a window has no CPU figure.
        cpu_pct: counter_mean_rate(cpu)
            .filter(|_| window_s(cpu) >= period.as_secs_f64())
            .map(|rate| 100.0 * rate / cores),
        gpu_pct,
        gpu_memory_used_mib: series(gpu, |r| r.memory_used_mib)
            .iter()
            .map(|s| s.1)
            .reduce(f64::max),
        gpu_sm_clock_mhz: gauge_time_weighted_mean(&series(gpu, |r| r.sm_clock_mhz)),
        gpu_power_w: gauge_time_weighted_mean(&series(gpu, |r| r.power_w)),
        gpu_absent_reason,
        samples: cpu.len().max(gpu.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_mean_weights_by_interval() {
        // 100 % for 0.3 s then 0 % for 0.1 s: mean 75 %, not the 50 % of a plain average.
        let s = [(0.0, 0.0), (0.3, 100.0), (0.4, 0.0)];
        assert!((gauge_time_weighted_mean(&s).unwrap() - 75.0).abs() < 1e-9);
        assert_eq!(gauge_time_weighted_mean(&[(0.0, 50.0)]), None);
    }

    #[test]
    fn counter_rate_over_window() {
        let s = [(0.0, 10.0), (0.1, 10.1), (0.5, 10.9)];
        assert!((counter_mean_rate(&s).unwrap() - 1.8).abs() < 1e-9);
        assert_eq!(counter_mean_rate(&[]), None);
    }

    #[test]
    fn a_window_counts_as_long_enough_against_the_sampler_s_own_period() {
        // 60 ms of one busy core: enough for a 20 ms sampler, too short for a 100 ms one.
        let cpu = [(0.0, 1.0), (0.02, 1.02), (0.04, 1.04), (0.06, 1.06)];
        let fast = summarise(&cpu, &[], None, Duration::from_millis(20));
        assert!(fast.cpu_pct.is_some());
        let slow = summarise(&cpu, &[], None, DEFAULT_PERIOD);
        assert_eq!(slow.cpu_pct, None);
    }

    #[test]
    fn gpu_figures_are_time_weighted_with_peak_memory_and_absent_when_unread() {
        let r = |util, mem, clock, power| GpuReading {
            util_pct: Some(util),
            memory_used_mib: Some(mem),
            sm_clock_mhz: clock,
            power_w: Some(power),
        };
        let gpu = [
            (0.0, r(0.0, 100.0, None, 50.0)),
            (0.1, r(100.0, 900.0, None, 300.0)),
            (0.4, r(60.0, 500.0, None, 200.0)),
        ];
        let u = summarise(&[], &gpu, None, DEFAULT_PERIOD);
        // 100 % over 0.1 s, 60 % over 0.3 s.
        assert!((u.gpu_pct.unwrap() - 70.0).abs() < 1e-9);
        assert!((u.gpu_power_w.unwrap() - 225.0).abs() < 1e-9);
        assert_eq!(u.gpu_memory_used_mib, Some(900.0));
        assert_eq!(u.gpu_sm_clock_mhz, None, "never read: absent, not 0");
        assert_eq!(u.gpu_absent_reason, None);

        let none = summarise(
            &[],
            &[],
            Some("no NVIDIA GPU visible".into()),
            DEFAULT_PERIOD,
        );
        assert_eq!(
            (none.gpu_pct, none.gpu_power_w, none.gpu_memory_used_mib),
            (None, None, None)
        );
        assert_eq!(
            none.gpu_absent_reason.as_deref(),
            Some("no NVIDIA GPU visible")
        );
    }

    #[test]
    fn busy_thread_shows_as_cpu_and_gpu_is_absent_not_zero() {
        // The share of a core this thread gets depends on the machine's load, so the
        // figure is held against the share measured here, in the same window: the
        // sampler's window lies inside this one, and this thread spins through all
        // of it but the sampler's start-up, which is allowed half of the spin.
        let own = || thread_cpu_seconds().expect("thread CPU time is readable on Linux");
        let (wall, spun) = (Instant::now(), own());
        let sampler = UtilizationSampler::start(Duration::from_millis(20));
        while own() - spun < 0.3 {
            std::hint::spin_loop();
        }
        let u = sampler.stop();
        let share = (own() - spun) / wall.elapsed().as_secs_f64();
        let cores = crate::config::cores() as f64;
        let cpu = u.cpu_pct.expect("a window of many sampling periods");
        let floor = 100.0 * share / 2.0 / cores;
        assert!(
            cpu >= floor && cpu <= 100.0 + 1e-6,
            "cpu {cpu} % for a thread that had {share:.2} of a core on {cores} cores"
        );
        assert!(u.samples >= 3);
        if u.gpu_pct.is_none() {
            assert!(u.gpu_absent_reason.is_some());
        }
    }
}
