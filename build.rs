//! Link fix-ups for libtorch (see tch-rs issues #907 and #329).
//!
//! tch links with `--as-needed`, which leaves two traps:
//! - binaries get no RPATH, so they fail to start unless `LD_LIBRARY_PATH`
//!   names the libtorch folder;
//! - `libtorch_cuda.so` is dropped (nothing references it directly), so
//!   libtorch never sees a GPU even on a machine that has one.
//!
//! Every binary of this package (the CLI, tests, benches) gets an RPATH to the
//! libtorch folder, and `libtorch_cuda.so` stays linked where it exists.

use std::path::PathBuf;

fn libtorch_lib_dir() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("LIBTORCH_LIB") {
        return Some(PathBuf::from(lib).join("lib"));
    }
    let root = PathBuf::from(std::env::var("LIBTORCH").ok()?);
    // Canonical path: the RPATH must not depend on the symlink in .venv.
    Some(root.canonicalize().unwrap_or(root).join("lib"))
}

/// The libtorch version, from the torch package's version.py or a libtorch
/// distribution's build-version file: libtorch has no call that returns it.
fn libtorch_version() -> Option<String> {
    let root = PathBuf::from(std::env::var("LIBTORCH").ok()?);
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        let line = text.lines().find(|l| l.starts_with("__version__"))?;
        return Some(line.split(['\'', '"']).nth(1)?.to_string());
    }
    let text = std::fs::read_to_string(root.join("build-version")).ok()?;
    Some(text.trim().to_string())
}

/// The tch version this build resolved, from Cargo.lock.
fn tch_version() -> Option<String> {
    let lock = std::fs::read_to_string("Cargo.lock").ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"tch\"" {
            let version = lines.next()?;
            return Some(
                version
                    .strip_prefix("version = \"")?
                    .trim_end_matches('"')
                    .to_string(),
            );
        }
    }
    None
}

/// The source's commit, `-dirty` when tracked files differ from it; recorded at build
/// time so that a binary copied elsewhere still says what it was built from. Written
/// here rather than with a build-info crate: it is two git calls, and this build
/// script exists anyway. Reruns when HEAD or the branch it points at moves, and when a
/// source file changes (which is when `-dirty` can appear or go). Not on every change of
/// git's index: staging a file would then rebuild the crate.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    println!("cargo:rerun-if-changed=src");
    for file in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(jit_shim)");
    if let Some(commit) = git_commit() {
        println!("cargo:rustc-env=INFERBENCH_GIT_COMMIT={commit}");
    }
    println!("cargo:rerun-if-changed=Cargo.lock");
    if let Some(v) = tch_version() {
        println!("cargo:rustc-env=INFERBENCH_TCH_VERSION={v}");
    }
    if let Some(v) = libtorch_version() {
        println!("cargo:rustc-env=INFERBENCH_LIBTORCH_VERSION={v}");
    }
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return; // built without libtorch (the instruction-count benches): nothing to link
    }
    let Some(lib) = libtorch_lib_dir() else {
        println!(
            "cargo:warning=LIBTORCH is not set; run scripts/setup.sh (binaries will need LD_LIBRARY_PATH)"
        );
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    #[cfg(feature = "torch")]
    build_jit_shim(&lib);
    println!("cargo:rustc-cfg=jit_shim");
    if let Some(python) = venv_python(&lib) {
        println!(
            "cargo:rustc-env=INFERBENCH_VENV_PYTHON={}",
            python.display()
        );
    }
    #[cfg(feature = "cuda")]
    build_stream_shim(&lib);
    // Kept linked although nothing here calls them: libtorch_cuda.so registers the
    // GPU; libtorch.so is what AOTInductor packages name as their dependency, and a
    // package's .so is dlopen'ed without a path to find it unless it is loaded already.
    for name in ["torch_cuda", "torch"] {
        if lib.join(format!("lib{name}.so")).exists() {
            println!("cargo:rustc-link-search=native={}", lib.display());
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-l{name}");
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
        }
    }
}

/// The Python of the torch package being linked (`.venv/lib/python3.X/site-packages/
/// torch/lib` → `.venv/bin/python3`), which `--compile aot-inductor` exports with;
/// `None` for a libtorch that is not a Python package.
fn venv_python(lib: &std::path::Path) -> Option<PathBuf> {
    let venv = lib.ancestors().nth(5)?;
    let python = venv.join("bin/python3");
    python.exists().then_some(python)
}

/// Compiles the C++ stream shim (src/device/shim/streams.cpp): streams, events and
/// pinned memory for the CUDA device.
#[cfg(feature = "cuda")]
fn build_stream_shim(lib: &std::path::Path) {
    compile_shim(
        lib,
        &["src/device/shim/streams.cpp"],
        "inferbench_streams",
        &[],
    );
    let cuda = cuda_headers(lib).unwrap_or_else(|| {
        panic!(
            "src/device/shim/graphs.cpp: CUDA's headers (cuda_runtime_api.h) not found next to \
             the torch package of {} (nvidia/*/include) nor under CUDA_HOME or /usr/local/cuda; \
             `--features cuda` builds against a torch wheel from PyPI, which brings them \
             (and scripts/setup.sh adds nvidia-cuda-crt's crt/ headers)",
            lib.display()
        )
    });
    compile_shim(
        lib,
        &["src/device/shim/graphs.cpp"],
        "inferbench_graphs",
        &[cuda.join("include")],
    );
    println!("cargo:rustc-link-lib=dylib=c10_cuda");
    println!("cargo:rustc-link-lib=dylib=torch_cuda");
    link_cudart(&cuda.join("lib"));
}

/// The c10 headers' inline functions call the CUDA runtime directly, so the shim links
/// the runtime torch's own libraries use (PyPI ships only `libcudart.so.<major>`),
/// with an RPATH to its folder as to libtorch's: a binary's direct dependencies are
/// looked up by its own paths, not those of libtorch_cuda.so that needs it too.
#[cfg(feature = "cuda")]
fn link_cudart(dir: &std::path::Path) {
    let runtime = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("libcudart.so"))
        .min_by_key(|name| name.len()) // libcudart.so before libcudart.so.13
        .unwrap_or_else(|| panic!("no libcudart.so* in {}", dir.display()));
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rustc-link-arg=-l:{runtime}");
}

/// The CUDA toolkit folder (with `include/cuda_runtime_api.h`) that the torch being
/// linked was built with: PyPI's wheels put it in `site-packages/nvidia/cu13` (CUDA
/// 13) or `nvidia/cuda_runtime` (CUDA 12); a libtorch distribution uses CUDA_HOME.
#[cfg(feature = "cuda")]
fn cuda_headers(lib: &std::path::Path) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let has_headers = |dir: &std::path::Path| dir.join("include/cuda_runtime_api.h").exists();
    let site = lib.parent()?.parent()?;
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(site.join("nvidia"))
        .map(|dirs| dirs.flatten().map(|d| d.path()).collect())
        .unwrap_or_default();
    candidates.sort(); // deterministic: cu13 before cuda_runtime
    candidates.extend(std::env::var_os("CUDA_HOME").map(PathBuf::from));
    candidates.push(PathBuf::from("/usr/local/cuda"));
    candidates.into_iter().find(|dir| has_headers(dir))
}

/// Compiles the C++ model shims (src/model/shim/): freezing and optimizing a
/// TorchScript module for inference (`--compile frozen`), and loading and running
/// and AOTInductor packages (`--compile aot-inductor`, `--model aoti:PATH`).
#[cfg(feature = "torch")]
fn build_jit_shim(lib: &std::path::Path) {
    compile_shim(
        lib,
        &["src/model/shim/jit.cpp", "src/model/shim/aoti.cpp"],
        "inferbench_jit",
        &[],
    );
}

/// Compiles a C++ shim against the headers of the libtorch being linked: the shims
/// call C++ methods, so headers and libraries must be the same version. The ABI
/// flag matches PyPI's and the cxx11 libtorch builds.
#[cfg(feature = "torch")]
fn compile_shim(lib: &std::path::Path, sources: &[&str], name: &str, includes: &[PathBuf]) {
    for source in sources {
        println!("cargo:rerun-if-changed={source}");
    }
    let root = lib.parent().expect("lib dir has a parent; this is a bug");
    let include = root.join("include");
    if !include.join("c10/core/Event.h").exists() {
        panic!(
            "{sources:?}: libtorch headers not found under {} (LIBTORCH must point at a libtorch \
             or torch package folder with its include/ directory)",
            include.display()
        );
    }
    let mut build = cc::Build::new();
    for dir in includes {
        build.flag(format!("-isystem{}", dir.display()));
    }
    build
        .cpp(true)
        .std("c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        // -isystem: the headers' own warnings are not this crate's to fix.
        .flag(format!("-isystem{}", include.display()))
        .flag(format!(
            "-isystem{}",
            include.join("torch/csrc/api/include").display()
        ))
        .warnings(true)
        .extra_warnings(true)
        .files(sources)
        .compile(name);
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=c10");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
}
