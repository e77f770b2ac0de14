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

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
