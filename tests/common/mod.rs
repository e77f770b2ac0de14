//! Helpers the command-line tests share: run the built binary, assert it succeeded or
//! refused by name, count result lines.

#![allow(dead_code)] // each test crate uses its own subset

use std::path::Path;
use std::process::{Command, Output};

pub mod serve;
pub mod served;
pub mod wire;

/// Runs the `inferbench` binary built for these tests.
pub fn inferbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inferbench"))
        .args(args)
        .output()
        .expect("run the inferbench binary")
}

/// Runs `inferbench` and asserts it exited 0, showing its stderr if not.
pub fn inferbench_ok(args: &[&str]) -> Output {
    let result = inferbench(args);
    assert!(
        result.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    result
}

/// Asserts `inferbench args` exits 1 with `needle` in its stderr and no panic.
pub fn refused(args: &[&str], needle: &str) {
    let out = inferbench(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: stderr does not name '{needle}':\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Lines in a file; 0 when it does not exist.
pub fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Copies a folder tree (a fixture the test then changes).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
