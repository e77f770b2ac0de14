//! Where a sweep ran: versions, CPU, GPU and the source's commit, written into every
//! record so that figures from two machines or two commits are never mistaken for
//! one another.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

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
            git_commit: git_commit(),
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

/// `git rev-parse --short HEAD` of the source tree, `-dirty` when it has uncommitted
/// changes to tracked files; `None` outside a git checkout.
fn git_commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("git")
        .args(["-C", dir, "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = Command::new("git")
        .args(["-C", dir, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

/// Now, UTC, as `2026-11-24T10:15:00Z`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_from_unix(secs)
}

/// Civil date and time of a Unix time (Howard Hinnant's days-to-civil algorithm).
pub fn utc_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_convert_to_utc() {
        assert_eq!(utc_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_from_unix(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
