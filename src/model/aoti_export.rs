//! `--compile aot-inductor` for the built-in models: export the run's own weights
//! with the Python of the linked torch (`scripts/aoti-export.py`, embedded), compile
//! with AOTInductor for the run's device, batch and precision, and cache the package.
//! The same script, cache and key make `--quantize dynamic-int8`'s TorchScript file
//! (`quantize_dynamic` is Python-only) ([`quantized_for`]).
//!
//! The cache key is everything the package depends on, written out in full: the
//! export script, the torch version, the architecture, the weights (a digest), the
//! input size, the batch range, the element type, the device, and on the CPU the
//! instruction sets the package was compiled for (AOTInductor compiles for the
//! machine it runs on), on a GPU its model and compute capability (not `cuda:N`,
//! which names another GPU on another machine). A folder per key holds `key.txt`, `model.pt2` and
//! `compiled.json` (how long the compile took); a key that matches the text in
//! `key.txt` exactly is a hit, if its file loads: an entry that does not (cut short
//! by a full disk, damaged since) is discarded and made again, never served and never
//! left to fail every later run. The folder is written under another name and
//! renamed, so a compile cut short leaves no entry behind.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tch::nn::VarStore;
use tch::Device;

use super::export_python::{device_name, python, run_export, Compiled, Job, EXPORT_SCRIPT};
use super::export_weights::{short_digest, weights_digest, write_weights};
use super::zoo::Architecture;
use crate::error::{Error, Result};

pub use super::export_python::ExportShape;

/// What the export script makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    /// An AOTInductor package.
    Aoti,
    /// A TorchScript file of the model with dynamically quantized int8 linear layers.
    DynamicInt8,
}

impl Made {
    fn mode(self) -> &'static str {
        match self {
            Made::Aoti => "aoti",
            Made::DynamicInt8 => "dynamic-int8",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Made::Aoti => "model.pt2",
            Made::DynamicInt8 => "model.pt",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Made::Aoti => "AOTInductor package",
            Made::DynamicInt8 => "dynamic-int8 TorchScript file",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Made::Aoti => "compiling with AOTInductor (a minute or more; cached for the next run)",
            Made::DynamicInt8 => "quantizing with PyTorch (seconds; cached for the next run)",
        }
    }
}

/// A package ready to load, and how it was obtained.
pub struct Package {
    /// What it is, for the report.
    pub made: &'static str,
    /// The `.pt2` file.
    pub path: PathBuf,
    /// How long the export and compile took when the package was made.
    pub compiled_in_s: f64,
    /// Whether it came from the cache (made by an earlier run).
    pub cache_hit: bool,
}

impl Package {
    /// Where it came from, for the report.
    pub fn origin(&self) -> crate::results::CompileCache {
        crate::results::CompileCache {
            made: self.made.to_string(),
            hit: self.cache_hit,
            compiled_in_s: self.compiled_in_s,
        }
    }
}

/// Loads a made file once, to check it before it is served (or kept).
pub type LoadCheck<'a> = &'a dyn Fn(&Path) -> Result<()>;

/// The AOTInductor package for `arch` with the weights of `vs`, from the cache or
/// compiled now (a minute or more: `progress` says so first); `loads` checks that
/// it loads.
pub fn package_for(
    arch: Architecture,
    vs: &VarStore,
    shape: ExportShape,
    loads: LoadCheck<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Package> {
    make(Made::Aoti, arch, vs, shape, loads, progress)
}

/// The TorchScript file of `arch` with the weights of `vs` and its linear layers
/// dynamically quantized to int8, from the cache or made now; `loads` checks it.
pub fn quantized_for(
    arch: Architecture,
    vs: &VarStore,
    shape: ExportShape,
    loads: LoadCheck<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Package> {
    make(Made::DynamicInt8, arch, vs, shape, loads, progress)
}

fn make(
    kind: Made,
    arch: Architecture,
    vs: &VarStore,
    shape: ExportShape,
    loads: LoadCheck<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Package> {
    let key = cache_key(kind, arch, vs, &shape)?;
    let root = cache_root().join("aoti");
    let entry = root.join(short_digest(&key));
    if let Some(hit) = cached(kind, &entry, &key) {
        match loads(&hit.path) {
            Ok(()) => return Ok(hit),
            Err(e) => {
                progress(&format!(
                    "the cached {} in {} does not load ({}); discarding the entry and making it again",
                    kind.what(),
                    entry.display(),
                    first_line(&e.to_string())
                ));
                std::fs::remove_dir_all(&entry).map_err(|e| {
                    Error::io("cannot discard the cache entry (delete it)", &entry, e)
                })?;
            }
        }
    }
    progress(kind.doing());
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::io("cannot create the AOTInductor cache", &root, e))?;
    let work = tempfile::Builder::new()
        .prefix(".making-")
        .tempdir_in(&root)
        .map_err(|e| Error::io("cannot create a folder in", &root, e))?;
    write_weights(vs, work.path())?;
    let job = Job {
        mode: kind.mode(),
        arch,
        shape: &shape,
        work: work.path(),
        file: kind.file(),
    };
    let done = run_export(job)?;
    // What was just made must load before it becomes an entry; the work folder is
    // removed with the error.
    loads(&work.path().join(kind.file())).map_err(|e| {
        Error::config(
            "compile",
            format!("the {} just made does not load: {e}", kind.what()),
        )
    })?;
    std::fs::write(work.path().join("key.txt"), &key)
        .map_err(|e| Error::io("cannot write", work.path().join("key.txt"), e))?;
    let record = serde_json::to_string(&done).expect("plain numbers serialize");
    std::fs::write(work.path().join("compiled.json"), record)
        .map_err(|e| Error::io("cannot write", work.path().join("compiled.json"), e))?;
    for weights in ["weights.bin", "weights.json"] {
        let _ = std::fs::remove_file(work.path().join(weights));
    }
    let _ = std::fs::remove_dir_all(&entry); // a stale entry whose key did not match
    let made = work.keep();
    std::fs::rename(&made, &entry)
        .map_err(|e| Error::io("cannot move into the cache", &entry, e))?;
    Ok(Package {
        made: kind.what(),
        path: entry.join(kind.file()),
        compiled_in_s: done.export_s + done.compile_s,
        cache_hit: false,
    })
}

/// The entry's package when its key is `key` and its record reads.
fn cached(kind: Made, entry: &Path, key: &str) -> Option<Package> {
    let stored = std::fs::read_to_string(entry.join("key.txt")).ok()?;
    if stored != key {
        return None;
    }
    let text = std::fs::read_to_string(entry.join("compiled.json")).ok()?;
    let done: Compiled = serde_json::from_str(&text).ok()?;
    Some(Package {
        made: kind.what(),
        path: entry.join(kind.file()),
        compiled_in_s: done.export_s + done.compile_s,
        cache_hit: true,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `INFERBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/inferbench`, else `~/.cache/inferbench`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("INFERBENCH_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("inferbench");
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/inferbench")
}

/// Everything the package depends on, one line each.
fn cache_key(kind: Made, arch: Architecture, vs: &VarStore, shape: &ExportShape) -> Result<String> {
    let mut key = String::new();
    let _ = writeln!(key, "make {}", kind.mode());
    let _ = writeln!(key, "script {}", short_digest(EXPORT_SCRIPT));
    let _ = writeln!(
        key,
        "torch {}",
        option_env!("INFERBENCH_LIBTORCH_VERSION").unwrap_or("unknown")
    );
    let _ = writeln!(key, "python {}", python().path.display());
    let _ = writeln!(key, "arch {}", arch.name());
    let _ = writeln!(key, "input {}", shape.input);
    let _ = writeln!(
        key,
        "batch {}..={}",
        shape.batch,
        shape.max_batch.max(shape.batch)
    );
    let _ = writeln!(key, "precision {}", shape.precision.name());
    let _ = writeln!(key, "device {}", device_name(shape.device));
    let _ = writeln!(key, "channels-last {}", shape.channels_last);
    match shape.device {
        Device::Cpu => {
            let _ = writeln!(key, "cpu {}", cpu_isa());
        }
        Device::Cuda(ordinal) => {
            let _ = writeln!(key, "gpu {}", gpu_identity(ordinal)?);
        }
        _ => {}
    }
    let _ = writeln!(key, "weights {}", weights_digest(vs)?);
    Ok(key)
}

/// The GPU's model and compute capability: a package compiled for one GPU is not one
/// for another that happens to have the same index.
#[cfg(feature = "cuda")]
fn gpu_identity(ordinal: usize) -> Result<String> {
    crate::device::cuda::identity(ordinal)
}

#[cfg(not(feature = "cuda"))]
fn gpu_identity(ordinal: usize) -> Result<String> {
    Err(Error::config(
        "device",
        format!("cuda:{ordinal}: this binary was built without CUDA support; build with --features cuda"),
    ))
}

/// The CPU's instruction-set flags that AOTInductor's kernels depend on.
fn cpu_isa() -> String {
    const FLAGS: [&str; 7] = [
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
    ];
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let line = info.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let have: Vec<&str> = line.split_whitespace().collect();
    let found: Vec<&str> = FLAGS.into_iter().filter(|f| have.contains(f)).collect();
    format!("{} [{}]", std::env::consts::ARCH, found.join(" "))
}
