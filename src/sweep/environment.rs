//! Where a sweep ran: versions, CPU, GPU and the source's commit, written into every
//! record so that figures from two machines or two commits are never mistaken for
//! one another.

use super::record::SweepEnvironment;
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
