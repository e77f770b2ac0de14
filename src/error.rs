//! The crate's one error type. Each variant carries the context a user needs to
//! fix the problem (which file, which field, what to run instead).

use std::path::PathBuf;

/// Everything that can go wrong in a run, a checkpoint operation or a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range or the combination is impossible.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// The offending field, as the CLI flag names it.
        field: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },

    /// A model name that the zoo does not know.
    #[error("unknown model '{name}': expected one of resnet18, tiny-cnn, mobilenet_v3_small, tiny-transformer, torchscript:PATH, aoti:PATH, spin:<duration> (e.g. spin:2ms), or fail:<model>@N[:error|:panic|:hang] (e.g. fail:spin:2ms@10)")]
    UnknownModel {
        /// The name as given.
        name: String,
    },

    /// The model directory does not exist or is not a checkpoint written by `init-model`.
    #[error("model directory {}: {reason}; create one with `inferbench init-model --model resnet18 --out {}`", path.display(), path.display())]
    ModelDir {
        /// The directory as given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },

    /// The checkpoint exists but cannot be read into the model.
    #[error("corrupt checkpoint {}: {reason}; recreate it with `inferbench init-model`", path.display())]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The underlying failure.
        reason: String,
    },

    /// A libtorch call failed.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),

    /// A file or folder could not be read or written.
    #[error("{action} {}: {cause}", path.display())]
    Io {
        /// What was being done ("cannot write results to", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error (not a `source`, so that it is printed once).
        cause: std::io::Error,
    },

    /// Ctrl-C stopped the run (before anything was measured) or the sweep.
    #[error("interrupted (Ctrl-C)")]
    Interrupted,

    /// A report's plot could not be drawn (writing it is an [`Error::Io`]).
    #[error("cannot draw {}: {reason}", path.display())]
    Plot {
        /// The plot's file.
        path: PathBuf,
        /// What the plotting library said.
        reason: String,
    },

    /// A pipeline stage stopped before every request was answered.
    #[error("pipeline failed: {0}")]
    Pipeline(String),

    /// A device (GPU) was asked for and is not available.
    #[error("device unavailable: {0}")]
    Device(String),

    /// Criterion's output or a saved baseline is missing or unreadable.
    #[error("{0}")]
    Baseline(String),

    /// A run of an A/B comparison could not be started, failed, or printed no report.
    #[error("a/b: {0}")]
    Ab(String),

    /// A server measured over the network (`--target`) refused a request, failed it,
    /// or could not be reached.
    #[error("target: {0}")]
    Target(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for a [`Error::Config`].
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(action: &'static str, path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            cause,
        }
    }
}

/// The message a panic carried (`panic!` with a string or a format), or "unknown panic".
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// Takes a message a C++ shim returned (`shim/*.cpp`: every call returns null on
/// success, else a C++ exception's text): `None` for null, else the text, after
/// which `free` releases the string with the allocator that made it. The one place
/// such a pointer becomes a Rust string; each caller then makes its own error.
///
/// # Safety
/// `message` is null or a NUL-terminated string that no one else uses or frees,
/// and `free` releases it.
pub unsafe fn take_shim_message(
    message: *mut std::ffi::c_char,
    free: impl FnOnce(*mut std::ffi::c_char),
) -> Option<String> {
    if message.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated and ours until `free`, by the contract above.
    let text = unsafe { std::ffi::CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    free(message);
    Some(text)
}

/// A message without libtorch's C++ context: libtorch appends "Exception raised
/// from ..." and a stack of frames to its first line, dozens of lines a user cannot
/// act on. Keeps every line before that context; the frames are shown only on
/// request (`-v`).
pub fn without_cpp_frames(message: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in message.lines().map(str::trim_end) {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with("Exception raised from") || t.starts_with("frame #") {
            continue;
        }
        // libtorch repeats its message after the frames (": <message>"): keep it once.
        let text = t.trim_start_matches(':').trim_start();
        if !kept.iter().any(|k| k.contains(text)) {
            kept.push(line);
        }
    }
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shim_message_is_read_once_and_freed_once_and_null_is_none() {
        let mut freed = 0;
        // SAFETY: null is allowed; `free` is not called for it.
        assert_eq!(
            unsafe { take_shim_message(std::ptr::null_mut(), |_| freed += 1) },
            None
        );
        let raw = std::ffi::CString::new("boom\nframe #0").unwrap().into_raw();
        // SAFETY: a string from CString::into_raw, freed by CString::from_raw.
        let text = unsafe {
            take_shim_message(raw, |m| {
                freed += 1;
                drop(std::ffi::CString::from_raw(m));
            })
        };
        assert_eq!(text.as_deref(), Some("boom\nframe #0"));
        assert_eq!(freed, 1);
    }

    #[test]
    fn cpp_frames_are_cut_and_the_meaningful_line_kept() {
        let raw = "libtorch: [enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: not enough memory: you tried to allocate 824633720832 bytes.
Exception raised from alloc_cpu at /pytorch/c10/core/impl/alloc_cpu.cpp:121 (most recent call first):
frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x8d (0x7f in libc10.so)
frame #1: c10::alloc_cpu(unsigned long) + 0x3c1 (0x7f in libc10.so)
frame #2: <unknown function> + 0x1d (0x7f in libc10.so)
: [enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: not enough memory: you tried to allocate 824633720832 bytes.
";
        let short = without_cpp_frames(raw);
        assert_eq!(short.lines().count(), 1, "{short}");
        assert!(short.contains("not enough memory"), "{short}");
        assert_eq!(without_cpp_frames("plain error"), "plain error");
    }
}
