//! Replacing a file so that a reader never sees half of it: write a temporary file
//! in the same folder, then rename it over the target (tempfile's `persist`).
//!
//! A rename replaces whatever the path names, so it is done only onto a regular file
//! or a new path: a symbolic link, a device node or a pipe at the path is written
//! through in place instead (as a shell's `>` would), never replaced by a plain file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path`: atomically where the path is a regular file or new,
/// in place where it is something else (a link, a device, a pipe). A write that
/// fails (a full disk) names the file and the cause and leaves no temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, bytes, |file, bytes| file.write_all(bytes))
}

/// [`write_atomically`] with the write itself given, so that its failure can be
/// tested without filling a disk.
fn write_atomically_with(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let replaceable = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.file_type().is_file(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::io("cannot write", path, e)),
    };
    if !replaceable {
        return std::fs::write(path, bytes).map_err(|e| Error::io("cannot write", path, e));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Readable as a file made by `>` would be (0666 less the umask), not 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".inferbench-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(folder)
        .map_err(|e| Error::io("cannot write a temporary file in", folder, e))?;
    // The file itself, not the wrapper, so that an error names `path`, not the
    // temporary file (which is removed when `tmp` is dropped).
    write(tmp.as_file_mut(), bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .map_err(|e| Error::io("cannot write", path, e))?;
    tmp.persist(path)
        .map(drop)
        .map_err(|e| Error::io("cannot write", path, e.error))
}

/// Whether `a` and `b` name the same file: the same inode where both exist, else
/// the same absolute path once their folders are resolved (`./x` and `x`, a path
/// through a symbolic link to a folder). Two names for a file not yet made count
/// as the same when they would make one file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return ma.dev() == mb.dev() && ma.ino() == mb.ino();
    }
    match (resolved(a), resolved(b)) {
        (Some(ra), Some(rb)) => ra == rb,
        _ => a == b,
    }
}

/// `path` with its folder made absolute and its links resolved; `None` when the
/// folder does not exist.
fn resolved(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(folder).ok()?.join(name))
}

/// The first line of a file (without its newline), read no further than 1 MiB.
pub fn first_line(path: &Path) -> std::io::Result<String> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(path)?;
    let mut line = Vec::new();
    std::io::BufReader::new(file.take(1 << 20)).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_a_regular_file_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old old old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the target is left: {names:?}");
    }

    #[test]
    fn writes_through_a_symbolic_link_instead_of_replacing_it() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let err = write_atomically(Path::new("/nonexistent-folder/x.json"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nonexistent-folder"), "{err}");
    }

    #[test]
    fn a_full_disk_names_the_file_and_the_cause_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plot.svg");
        let err = write_atomically_with(&path, b"<svg/>", |file, bytes| {
            file.write_all(&bytes[..2])?;
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("plot.svg") && err.contains("No space left on device"),
            "{err}"
        );
        assert!(
            !err.contains(".inferbench-"),
            "names a temporary file: {err}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "nothing is left behind: {left:?}");
        // A device that is full: written in place, the same message.
        let err = write_atomically(Path::new("/dev/full"), b"x").unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
    }

    #[test]
    fn a_new_file_is_readable_as_one_made_by_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        write_atomically(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_ne!(mode & 0o044, 0, "group or others can read it: {mode:o}");
    }

    #[test]
    fn one_file_under_two_names_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        let via_dot = dir.path().join(".").join("a.jsonl");
        assert!(same_file(&a, &via_dot), "not made yet: the same path");
        assert!(!same_file(&a, &dir.path().join("b.jsonl")));
        std::fs::write(&a, b"x").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert!(same_file(&link, &a), "a link to it");
        assert!(!same_file(&a, Path::new("/nonexistent-folder/a.jsonl")));
    }

    #[test]
    fn the_first_line_is_read_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one\ntwo\n").unwrap();
        assert_eq!(first_line(&path).unwrap(), "one");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(first_line(&path).unwrap(), "");
    }
}
