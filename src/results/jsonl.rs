//! The results file: one JSON object per line, appended.
//!
//! The file is opened before a run starts, so an unwritable folder fails in a
//! second instead of after a long run; each record is written with a single
//! `write_all` of a complete line, so a failed run never leaves half a record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// An open results file.
pub struct JsonlSink {
    file: File,
    path: PathBuf,
}

impl JsonlSink {
    /// Opens `path` for appending, creating its folder if needed.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("cannot create the folder of results file", path, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("cannot write results to", path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record as a single line.
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("reports serialise; this is a bug");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| Error::io("cannot write results to", &self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
