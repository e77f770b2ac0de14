//! The results file: one JSON object per line, appended.
//!
//! The file must stay readable line by line whatever happens to a run:
//! - it is checked for writability before a run starts (an unwritable folder fails
//!   in a second, not after a long run) but created only by the first append, so a
//!   run that fails before measuring leaves no empty file behind;
//! - each record is one `write` of a whole line; if that write fails part-way (a
//!   full disk) the file is cut back to its previous length, so the next line is
//!   never glued onto half a record;
//! - a writer killed in the middle of a line (SIGKILL can stop a write between two
//!   pages) cannot roll back, so the next writer does: it cuts the unterminated
//!   tail off before appending; readers ([`read_lines`]) skip a line that was cut
//!   short all the same, with a warning naming it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// A results file, opened on the first append.
pub struct JsonlSink {
    file: Option<File>,
    path: PathBuf,
}

impl JsonlSink {
    /// Checks that `path` can be appended to, creating its folder if needed; the
    /// file itself is created by the first [`JsonlSink::append`].
    pub fn open(path: &Path) -> Result<Self> {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(folder)
            .map_err(|e| Error::io("cannot create the folder of results file", path, e))?;
        let unwritable = |e| Error::io("cannot write results to", path, e);
        refuse_other_content(path)?;
        if path.exists() {
            OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(unwritable)?;
        } else {
            tempfile::Builder::new()
                .prefix(".inferbench-check-")
                .tempfile_in(folder)
                .map_err(unwritable)?;
        }
        Ok(Self {
            file: None,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record as a single line: whole, or not at all.
    pub fn append<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("reports serialise; this is a bug");
        line.push(b'\n');
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(open_for_append(&self.path)?),
        };
        append_whole(file, &line).map_err(|e| Error::io("cannot write results to", &self.path, e))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Refuses an existing regular file whose first whole line is not a JSON object:
/// a file of something else (a README, a CSV) given as `--out` by mistake would
/// otherwise get records appended to it. An empty file, a first line cut short (the
/// append cuts it off), a device or a pipe are written to.
fn refuse_other_content(path: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if !meta.is_file() || meta.len() == 0 {
        return Ok(());
    }
    let mut head = Vec::new();
    {
        use std::io::BufRead;
        let file = File::open(path).map_err(|e| Error::io("cannot read results file", path, e))?;
        std::io::BufReader::new(file.take(1 << 20))
            .read_until(b'\n', &mut head)
            .map_err(|e| Error::io("cannot read results file", path, e))?;
    }
    if head.last() != Some(&b'\n') {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(&head) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(Error::config(
            "out",
            format!(
                "{} exists and is not a results file (its first line is not a JSON object); appending would mix records into it: give another file",
                path.display()
            ),
        )),
    }
}

/// Opens `path` for appending; cuts off a last line that a killed writer left
/// unterminated (the roll-back that writer could not do).
fn open_for_append(path: &Path) -> Result<File> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| Error::io("cannot write results to", path, e))?;
    let whole = whole_lines_length(&mut file)
        .map_err(|e| Error::io("cannot read results file", path, e))?;
    if let Some(len) = whole {
        file.set_len(len)
            .map_err(|e| Error::io("cannot cut a half-written line off", path, e))?;
    }
    Ok(file)
}

/// The length up to the last newline, when a regular file does not end with one.
fn whole_lines_length(file: &mut File) -> std::io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(None);
    }
    let mut end = meta.len();
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(k) = chunk.iter().rposition(|&b| b == b'\n') {
            let len = start + k as u64 + 1;
            return Ok((len != meta.len()).then_some(len));
        }
        end = start;
    }
    Ok(Some(0))
}

/// A file a line can be appended to and, for a regular file, cut back.
pub trait LineFile {
    /// The current length, if the file is a regular one (not a pipe or a device).
    fn length(&mut self) -> std::io::Result<Option<u64>>;
    /// Writes all of `bytes` at the end.
    fn write_end(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Cuts the file back to `len` bytes.
    fn cut_to(&mut self, len: u64) -> std::io::Result<()>;
}

impl LineFile for File {
    fn length(&mut self) -> std::io::Result<Option<u64>> {
        let meta = self.metadata()?;
        Ok(meta.is_file().then_some(meta.len()))
    }
    fn write_end(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }
    fn cut_to(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)
    }
}

/// Appends `line` whole: when the write fails part-way, the file is cut back to
/// its length before the write and the write's error returned.
pub fn append_whole(file: &mut impl LineFile, line: &[u8]) -> std::io::Result<()> {
    let before = file.length()?;
    let Err(e) = file.write_end(line) else {
        return Ok(());
    };
    if let Some(len) = before {
        if let Err(cut) = file.cut_to(len) {
            return Err(std::io::Error::new(
                e.kind(),
                format!("{e}; cutting the half-written line off failed too ({cut})"),
            ));
        }
    }
    Err(e)
}

/// A line of a file with its number, counting from 1.
pub type NumberedLine = (usize, String);

/// Every record of a results file, in order, each line parsed as a `T`: lines cut
/// short are skipped with a warning on stderr (as [`read_lines`] finds them), and
/// the first whole line that is not a `T` is the error `bad(line number, line,
/// why)` words, so that each kind of file names what it expected.
pub fn read_records<T: serde::de::DeserializeOwned>(
    path: &Path,
    bad: impl Fn(usize, &str, serde_json::Error) -> Error,
) -> Result<Vec<T>> {
    let (lines, warnings) = read_lines(path)?;
    for warning in warnings {
        eprintln!("inferbench: warning: {warning}");
    }
    lines
        .iter()
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| bad(*n, line, e)))
        .collect()
}

/// The lines of a results file that hold JSON, numbered from 1, and a warning for
/// each line that was cut short (a writer killed mid-line, a full disk) and skipped.
/// A line that is whole JSON is returned as it is, for the caller to interpret.
pub fn read_lines(path: &Path) -> Result<(Vec<NumberedLine>, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("cannot read results file", path, e))?;
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde::de::IgnoredAny>(line) {
            Err(e) if e.is_eof() => warnings.push(format!(
                "{}:{}: skipped a line that was cut short (an interrupted write)",
                path.display(),
                n + 1
            )),
            _ => lines.push((n + 1, line.to_string())),
        }
    }
    Ok((lines, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that takes `room` more bytes, then fails like a full disk.
    struct SmallDisk {
        data: Vec<u8>,
        room: usize,
    }

    impl LineFile for SmallDisk {
        fn length(&mut self) -> std::io::Result<Option<u64>> {
            Ok(Some(self.data.len() as u64))
        }
        fn write_end(&mut self, bytes: &[u8]) -> std::io::Result<()> {
            let fits = bytes.len().min(self.room);
            self.data.extend_from_slice(&bytes[..fits]);
            self.room -= fits;
            if fits < bytes.len() {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            Ok(())
        }
        fn cut_to(&mut self, len: u64) -> std::io::Result<()> {
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    #[test]
    fn a_line_that_does_not_fit_is_cut_off_whole() {
        let mut disk = SmallDisk {
            data: Vec::new(),
            room: 20,
        };
        append_whole(&mut disk, b"{\"a\":1}\n").unwrap();
        let err = append_whole(&mut disk, b"{\"b\":\"a longer line\"}\n").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(disk.data, b"{\"a\":1}\n", "only whole lines are left");
    }

    #[test]
    fn no_file_is_created_until_the_first_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/runs.jsonl");
        let mut sink = JsonlSink::open(&path).unwrap();
        assert!(!path.exists(), "opening alone leaves no empty results file");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            0
        );
        sink.append(&serde_json::json!({"n": 1})).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":1}\n");
    }

    #[test]
    fn a_file_that_is_not_a_results_file_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.md");
        std::fs::write(&path, "# my notes\nkeep these\n").unwrap();
        let err = JsonlSink::open(&path).err().expect("refused").to_string();
        assert!(
            err.contains("notes.md") && err.contains("not a results file"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# my notes\nkeep these\n"
        );
        // A results file, and one whose only line was cut short, are appended to.
        std::fs::write(&path, "{\"n\":1}\n").unwrap();
        JsonlSink::open(&path).unwrap();
        std::fs::write(&path, "{\"n\":").unwrap();
        JsonlSink::open(&path).unwrap();
    }

    #[test]
    fn an_unwritable_folder_fails_at_open() {
        let err = JsonlSink::open(Path::new("/proc/inferbench/runs.jsonl"))
            .err()
            .expect("/proc takes no folders")
            .to_string();
        assert!(err.contains("/proc/inferbench/runs.jsonl"), "{err}");
    }

    #[test]
    fn a_line_cut_short_is_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2,\"lat").unwrap();
        let mut sink = JsonlSink::open(&path).unwrap();
        sink.append(&serde_json::json!({"n": 3})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"n\":1}\n{\"n\":3}\n"
        );
        // A file that is one unterminated line is cut to nothing.
        std::fs::write(&path, "{\"n\":1").unwrap();
        JsonlSink::open(&path)
            .unwrap()
            .append(&serde_json::json!({"n": 4}))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":4}\n");
    }

    #[test]
    fn readers_skip_a_line_cut_short_with_a_warning_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        std::fs::write(&path, "{\"n\":1}\n{\"n\":2,\"lat\n{\"n\":3}\n{\"n\":4,").unwrap();
        let (lines, warnings) = read_lines(&path).unwrap();
        let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 3]);
        assert_eq!(warnings.len(), 2);
        assert!(
            warnings[0].contains("runs.jsonl:2") && warnings[1].contains("runs.jsonl:4"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_whole_line_that_is_not_a_record_is_left_for_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "not json at all\n").unwrap();
        let (lines, warnings) = read_lines(&path).unwrap();
        assert_eq!((lines.len(), warnings.len()), (1, 0));
    }
}
