//! Replacing a file so that a reader never sees half of it: write a temporary file
//! in the same folder, then rename it over the target (tempfile's `persist`).
//!
//! A rename replaces whatever the path names, so it is done only onto a regular file
//! or a new path: a symbolic link, a device node or a pipe at the path is written
//! through in place instead (as a shell's `>` would), never replaced by a plain file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path`: atomically where the path is a regular file or new,
/// in place where it is something else (a link, a device, a pipe).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
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
    let mut tmp = tempfile::Builder::new()
        .prefix(".inferbench-")
        .tempfile_in(folder)
        .map_err(|e| Error::io("cannot write a temporary file in", folder, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .map_err(|e| Error::io("cannot write", path, e))?;
    tmp.persist(path)
        .map(drop)
        .map_err(|e| Error::io("cannot write", path, e.error))
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
}
