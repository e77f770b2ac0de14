//! A binary whose libtorch folder is gone: the loader's raw error, and the launcher
//! (scripts/inferbench) that names the fix instead.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary's RUNPATH, from `readelf -d`.
fn runpath(binary: &Path) -> Option<String> {
    let out = Command::new("readelf")
        .arg("-d")
        .arg(binary)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))?;
    Some(line.split('[').nth(1)?.trim_end_matches(']').to_string())
}

/// A copy of the CLI whose RUNPATH names a folder that does not exist (same length,
/// so the ELF stays valid): as if the libtorch it was built against were removed.
fn binary_without_libtorch(dir: &Path) -> Option<PathBuf> {
    let original = Path::new(env!("CARGO_BIN_EXE_inferbench"));
    let old = runpath(original)?;
    let new = format!("/gone{}", "x".repeat(old.len().saturating_sub(5)));
    let mut bytes = std::fs::read(original).unwrap();
    let (old, new) = (old.as_bytes(), &new.as_bytes()[..old.len()]);
    let mut at = 0;
    while let Some(k) = bytes[at..].windows(old.len()).position(|w| w == old) {
        bytes[at + k..at + k + old.len()].copy_from_slice(new);
        at += k + old.len();
    }
    let copy = dir.join("inferbench");
    std::fs::write(&copy, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(copy)
}

#[test]
fn a_binary_without_its_libtorch_is_explained_by_the_launcher() {
    let dir = tempfile::tempdir().unwrap();
    let Some(copy) = binary_without_libtorch(dir.path()) else {
        eprintln!("skipped: readelf is missing or the binary has no RUNPATH");
        return;
    };
    let raw = Command::new(&copy)
        .arg("--help")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(!raw.status.success());
    assert!(String::from_utf8_lossy(&raw.stderr).contains("cannot open shared object file"));

    let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/inferbench");
    let explained = Command::new(&launcher)
        .arg("--help")
        .env("INFERBENCH_BIN", &copy)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&explained.stderr);
    assert_eq!(explained.status.code(), Some(127), "{err}");
    assert!(
        err.contains("scripts/setup.sh") && err.contains("libtorch"),
        "{err}"
    );

    let working = Command::new(&launcher)
        .arg("--version")
        .env("INFERBENCH_BIN", env!("CARGO_BIN_EXE_inferbench"))
        .output()
        .unwrap();
    assert!(
        working.status.success(),
        "{}",
        String::from_utf8_lossy(&working.stderr)
    );
}
