//! Where a sweep ran: versions, CPU, GPU and the source's commit, written into every
//! record so that figures from two machines or two commits are never mistaken for
//! one another; and the CPU's GEMM peak, the probe record every sweep starts with.

use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::record::{ProbeRecord, SweepEnvironment};
use crate::error::{Error, Result};
use crate::results::Environment;

impl SweepEnvironment {
    /// Reads this process's environment. The tch and libtorch versions were recorded
    /// by `build.rs` at build time (libtorch has no version call).
    pub fn detect() -> Self {
        let base = Environment::detect();
        Self {
            inferbench_version: base.inferbench_version,
            tch_version: option_env!("INFERBENCH_TCH_VERSION").map(str::to_string),
            libtorch_version: option_env!("INFERBENCH_LIBTORCH_VERSION").map(str::to_string),
            cpu_model: base.cpu_model,
            cores: base.cores,
            gpu: gpu_name(base.cuda_available),
            driver_version: driver_version(),
            git_commit: option_env!("INFERBENCH_GIT_COMMIT").map(str::to_string),
            started_utc: Some(utc_now()),
        }
    }
}

/// GPU 0's name from NVML; libtorch's word alone when NVML cannot name it.
fn gpu_name(cuda_available: bool) -> Option<String> {
    let named = nvml_wrapper::Nvml::init()
        .ok()
        .and_then(|nvml| nvml.device_by_index(0).ok().and_then(|d| d.name().ok()));
    named.or_else(|| cuda_available.then(|| "CUDA device (NVML could not name it)".into()))
}

/// The NVIDIA driver's version from NVML; `None` without a driver.
fn driver_version() -> Option<String> {
    nvml_wrapper::Nvml::init()
        .ok()
        .and_then(|nvml| nvml.sys_driver_version().ok())
}

/// Now, UTC, as `2026-11-24T10:15:00Z`.
pub fn utc_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `results/<folder>/<name>-<UTC time>.jsonl`, so that sweeps never mix by accident.
pub fn default_results_path(folder: &str, name: &str) -> std::path::PathBuf {
    let stamp = utc_now().replace(':', "-");
    std::path::Path::new("results")
        .join(folder)
        .join(format!("{name}-{stamp}.jsonl"))
}

/// Side of the probe's square matrices: 2 GFLOP a product, long enough to time and
/// large enough to reach the BLAS kernel's steady state.
pub const GEMM_SIZE: i64 = 1024;
const GEMM_REPS: u32 = 10;

/// The CPU's peak for f32 GEMM with every core, as the best of several products.
pub fn gemm_peak_gflops(size: i64, threads: u32, reps: u32) -> Result<f64> {
    tch::set_num_threads(threads as i32);
    let opts = (Kind::Float, Device::Cpu);
    let a = Tensor::f_randn([size, size], opts).map_err(Error::Torch)?;
    let b = Tensor::f_randn([size, size], opts).map_err(Error::Torch)?;
    let _warm = a.f_mm(&b).map_err(Error::Torch)?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let c = a.f_mm(&b).map_err(Error::Torch)?;
        let _ = c.f_sum(Kind::Float).map_err(Error::Torch)?; // the product is used
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(2.0 * (size as f64).powi(3) / best / 1e9)
}

/// The probe record a sweep starts with: the GEMM peak on every core.
pub fn probe_record(sweep: &str, env: &SweepEnvironment) -> Result<ProbeRecord> {
    let threads = env.cores.max(1) as u32;
    Ok(ProbeRecord {
        sweep: sweep.to_string(),
        gemm_size: GEMM_SIZE as u32,
        threads,
        peak_gflops: gemm_peak_gflops(GEMM_SIZE, threads, GEMM_REPS)?,
        reps: GEMM_REPS,
        device: "cpu".into(),
        env: env.clone(),
    })
}
