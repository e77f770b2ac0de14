//! Running the export script (`scripts/aoti-export.py`, embedded) with the Python of
//! the linked torch, and saying plainly why it failed: which interpreter ran and
//! where it came from (`INFERBENCH_PYTHON`, the build's venv, or `python3`), a
//! Python without torch, an interpreter that failed and printed nothing, and Ctrl-C
//! (which reaches the interpreter too) as an interruption, not as a failed export.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::Device;

use super::zoo::Architecture;
use crate::config::{InputSpec, Precision, ValueRange};
use crate::error::{Error, Result};

/// What a package is compiled for.
#[derive(Debug, Clone)]
pub struct ExportShape {
    /// The model's input, per sample (an image, or token ids).
    pub input: InputSpec,
    /// Samples of every request.
    pub batch: u32,
    /// The most samples one forward takes (above `batch`: dynamic batching).
    pub max_batch: u32,
    /// Element type of weights and inputs.
    pub precision: Precision,
    /// Where the package runs.
    pub device: Device,
    /// Weights and inputs in the channels-last memory format.
    pub channels_last: bool,
}

/// The export script, run with `python -c`.
pub(super) const EXPORT_SCRIPT: &str = include_str!("../../scripts/aoti-export.py");

/// The variable that names the exporting interpreter.
const PYTHON_VAR: &str = "INFERBENCH_PYTHON";

/// How long the export script said each part took.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Compiled {
    pub(super) export_s: f64,
    pub(super) compile_s: f64,
    pub(super) torch: String,
}

/// The interpreter that exports, and where its path came from.
pub(super) struct Python {
    /// The interpreter.
    pub(super) path: PathBuf,
    /// Where the path came from, for errors.
    origin: String,
}

/// The Python that exports: `INFERBENCH_PYTHON`, else the venv of the torch this
/// binary was built against, else `python3`.
pub(super) fn python() -> Python {
    if let Some(path) = std::env::var_os(PYTHON_VAR) {
        return Python {
            origin: format!("{PYTHON_VAR}={}", Path::new(&path).display()),
            path: PathBuf::from(path),
        };
    }
    match option_env!("INFERBENCH_VENV_PYTHON") {
        Some(venv) => Python {
            path: PathBuf::from(venv),
            origin: format!(
                "the venv this binary was built with ({venv}); {PYTHON_VAR} overrides it"
            ),
        },
        None => Python {
            path: PathBuf::from("python3"),
            origin: format!("python3 on PATH; {PYTHON_VAR} names another"),
        },
    }
}

/// What one export makes.
pub(super) struct Job<'a> {
    /// `aoti` or `dynamic-int8`, as the script reads it.
    pub(super) mode: &'static str,
    /// The architecture.
    pub(super) arch: Architecture,
    /// The input, batches, precision, device and layout.
    pub(super) shape: &'a ExportShape,
    /// The folder with the weights, where the result goes.
    pub(super) work: &'a Path,
    /// The file to make in `work`.
    pub(super) file: &'static str,
}

/// Runs the export script for `job`; its timing line.
pub(super) fn run_export(job: Job<'_>) -> Result<Compiled> {
    let shape = job.shape;
    let args = serde_json::json!({
        "mode": job.mode,
        "arch": job.arch.name(),
        "weights": job.work,
        "input_shape": shape.input.shape,
        "input_dtype": torch_dtype(&shape.input),
        "input_high": match shape.input.range {
            ValueRange::Uniform { hi, .. } if shape.input.dtype.is_integer() => Some(hi as i64),
            _ => None,
        },
        "batch": shape.batch,
        "max_batch": shape.max_batch.max(shape.batch),
        "dtype": dtype_name(shape.precision),
        "device": device_name(shape.device),
        "channels_last": shape.channels_last,
        "out": job.work.join(job.file),
    });
    let python = python();
    let started = Instant::now();
    let output = Command::new(&python.path)
        .arg("-c")
        .arg(EXPORT_SCRIPT)
        .arg(args.to_string())
        .output()
        .map_err(|e| {
            Error::config(
                "compile",
                format!(
                    "{} needs Python with torch; cannot start {} ({e}), from {}: run scripts/setup.sh or set {PYTHON_VAR}",
                    job.mode,
                    python.path.display(),
                    python.origin
                ),
            )
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if interrupted(&output.status, &stderr) {
            return Err(Error::Interrupted);
        }
        let why = failure(&output.status, &stderr, &python);
        return Err(Error::config(
            "compile",
            format!(
                "{}: exporting {} failed after {:.0} s: {why}",
                job.mode,
                job.arch.name(),
                started.elapsed().as_secs_f64()
            ),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|_| {
        Error::Pipeline(format!(
            "{}: the export script printed no timing line (stdout: {last:?}; Python: {})",
            job.mode, python.origin
        ))
    })
}

/// Whether the interpreter ended because of Ctrl-C: killed by SIGINT (Python
/// re-raises it after an uncaught `KeyboardInterrupt`), or it said so.
fn interrupted(status: &std::process::ExitStatus, stderr: &str) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGINT)
        || status.code() == Some(130)
        || stderr.lines().any(|l| l.trim() == "KeyboardInterrupt")
}

/// What a failed export said, made into something to act on: a missing module
/// named with the interpreter and where it came from, an interpreter that printed
/// nothing named with its exit status, else the last lines of its stderr.
fn failure(status: &std::process::ExitStatus, stderr: &str, python: &Python) -> String {
    let used = format!("{} (from {})", python.path.display(), python.origin);
    if stderr.contains("No module named 'torch'") {
        return format!(
            "{used} has no torch: point {PYTHON_VAR} at a Python with torch {} (the version this binary links), or run scripts/setup.sh",
            option_env!("INFERBENCH_LIBTORCH_VERSION").unwrap_or("of the linked libtorch")
        );
    }
    let tail: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if tail.is_empty() {
        return format!("{used} exited with {status} and printed nothing");
    }
    let last = &tail[tail.len().saturating_sub(6)..];
    format!("{} (Python: {used})", last.join(" | "))
}

/// PyTorch's name of an input's element type (an image's is the run's precision).
fn torch_dtype(input: &InputSpec) -> &'static str {
    use crate::config::InputDtype::*;
    match input.dtype {
        F32 => "float32",
        F16 => "float16",
        Bf16 => "bfloat16",
        I64 => "int64",
        I32 => "int32",
        U8 => "uint8",
    }
}

fn dtype_name(precision: Precision) -> &'static str {
    match precision {
        Precision::Fp32 => "float32",
        Precision::Fp16 => "float16",
        Precision::Bf16 => "bfloat16",
    }
}

/// `cpu` or `cuda:N`, as the script and the cache key write a device.
pub(super) fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exited(code: i32) -> std::process::ExitStatus {
        std::process::ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn a_failed_export_names_the_interpreter_and_what_to_do() {
        let python = Python {
            path: "/opt/py/bin/python".into(),
            origin: "INFERBENCH_PYTHON=/opt/py/bin/python".into(),
        };
        let no_torch = "Traceback (most recent call last):\n  File \"<string>\", line 28, in <module>\nModuleNotFoundError: No module named 'torch'\n";
        let why = failure(&exited(1), no_torch, &python);
        assert!(
            why.contains("INFERBENCH_PYTHON=/opt/py/bin/python") && why.contains("has no torch"),
            "{why}"
        );
        let why = failure(&exited(3), "  \n", &python);
        assert!(
            why.contains("printed nothing") && why.contains("exit status: 3"),
            "{why}"
        );
        let why = failure(&exited(1), "a\nb\nRuntimeError: boom\n", &python);
        assert!(why.contains("RuntimeError: boom") && why.contains("/opt/py/bin/python"));
    }

    #[test]
    fn ctrl_c_in_the_interpreter_is_an_interruption() {
        let killed = std::process::ExitStatus::from_raw(libc::SIGINT);
        assert!(interrupted(&killed, ""));
        let caught =
            "Traceback (most recent call last):\n  File \"<string>\", line 3\nKeyboardInterrupt\n";
        assert!(interrupted(&exited(1), caught));
        assert!(!interrupted(&exited(1), "RuntimeError: boom"));
    }
}
