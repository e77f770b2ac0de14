//! The per-request trace file (`inferbench run --trace FILE`): one JSON line per
//! measured request with its latency and stage times, for distributions the report's
//! means and percentiles do not show (for instance the median of the time a request
//! spends outside the forward).
//!
//! Written whole to a temporary file beside the target and renamed into place, so a
//! failed write never leaves a partial trace.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::request::{RequestMeta, StageScheme, Stamp};

/// One request's line.
#[derive(Debug, Serialize)]
pub struct TraceRecord {
    /// Request id (warm-up requests come first, so measured ids start above 0).
    pub id: u64,
    /// Samples in the request.
    pub samples: u32,
    /// Intended send time, ns since the run's clock started.
    pub intended_ns: u64,
    /// End-to-end latency, ns.
    pub latency_ns: u64,
    /// Each stage's duration, ns, in the order a request passes them (an object
    /// keyed by stage name).
    #[serde(serialize_with = "stages_as_object")]
    pub stages_ns: Vec<(&'static str, u64)>,
    /// Latency minus the core stage (the forward; a remote request's round trip):
    /// what the pipeline or the client adds, ns.
    pub overhead_ns: u64,
    /// The wake-up inside each stage that ends in a hand-off between threads, ns
    /// (an object keyed by stage name; stages without a hand-off are absent).
    #[serde(serialize_with = "stages_as_object")]
    pub wake_up_ns: Vec<(&'static str, u64)>,
}

impl TraceRecord {
    /// The record of a fully stamped request, its stamps read as `scheme`'s
    /// stages; `None` if a stamp is missing.
    pub fn of(meta: &RequestMeta, scheme: StageScheme) -> Option<Self> {
        let latency_ns = meta.stamps.latency_ns()?;
        let stages_ns = scheme
            .stages()
            .iter()
            .map(|&stage| Some((stage.0, meta.stamps.span_ns(stage)?)))
            .collect::<Option<Vec<_>>>()?;
        let core = scheme.core_stage();
        let compute = stages_ns
            .iter()
            .find(|(n, _)| *n == core)
            .map_or(0, |s| s.1);
        Some(Self {
            id: meta.id,
            samples: meta.samples,
            intended_ns: meta.stamps.get(Stamp::Intended),
            latency_ns,
            stages_ns,
            overhead_ns: latency_ns.saturating_sub(compute),
            wake_up_ns: scheme
                .stages()
                .iter()
                .filter_map(|&(name, _, ends)| Some((name, meta.stamps.wake_ns(ends)?)))
                .collect(),
        })
    }
}

/// `{"queue": ns, "batch": ns, ...}` in pipeline order.
fn stages_as_object<S: serde::Serializer>(
    stages: &[(&'static str, u64)],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_map(stages.iter().copied())
}

/// Checks, before a long run, that the trace may go to `path`: never onto the run's
/// results file `results` (the trace replaces its file: the results would be lost,
/// or the two kinds of line mixed), never over an existing file that is not a trace
/// written here unless `force` (a results file or anything else a user keeps), and
/// writable ([`check_writable`]).
pub fn check_target(path: &Path, results: &Path, force: bool) -> Result<()> {
    if crate::results::file::same_file(path, results) {
        return Err(Error::config(
            "trace",
            format!(
                "{} is also the results file (--out): the trace replaces its file, so the results would be lost; give the trace its own file",
                path.display()
            ),
        ));
    }
    if !force {
        if let Some(why) = not_a_trace(path)? {
            return Err(Error::config(
                "trace",
                format!(
                    "{} exists and is not a trace written by inferbench ({why}); the trace would replace it: give another path, or --force to replace it",
                    path.display()
                ),
            ));
        }
    }
    check_writable(path)
}

/// Why the regular file at `path` (a link followed) is not a trace of ours, or
/// `None` when it is one, is empty, or is not a regular file (a device or a pipe
/// is written into, not replaced).
fn not_a_trace(path: &Path) -> Result<Option<String>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => {}
        _ => return Ok(None),
    }
    let first = crate::results::file::first_line(path)
        .map_err(|e| Error::io("cannot read the existing trace file", path, e))?;
    let record: Option<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&first).ok();
    let is_trace = record.is_some_and(|r| {
        ["id", "latency_ns", "stages_ns", "overhead_ns"]
            .iter()
            .all(|key| r.contains_key(*key))
    });
    Ok((!is_trace).then(|| "its first line is not a trace record".to_string()))
}

/// Fails now if `path` cannot be written, rather than after a long run. Creates
/// nothing: an existing path is opened for writing without truncating it (so a link,
/// a device or a pipe is checked as what it is), a new one is probed with a
/// temporary file in its folder.
pub fn check_writable(path: &Path) -> Result<()> {
    let unwritable = |e| Error::io("cannot write the trace to", path, e);
    if std::fs::symlink_metadata(path).is_ok() {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking, so that checking a pipe does not wait for its reader.
        return std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map(drop)
            .map_err(unwritable);
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".inferbench-check-")
        .tempfile_in(folder)
        .map(drop)
        .map_err(unwritable)
}

/// Writes the trace of `metas`, read as `scheme`'s stages, to `path` (replacing it).
pub fn write(path: &Path, metas: &[RequestMeta], scheme: StageScheme) -> Result<()> {
    let mut text = Vec::with_capacity(metas.len() * 200);
    for record in metas.iter().filter_map(|m| TraceRecord::of(m, scheme)) {
        serde_json::to_writer(&mut text, &record).expect("trace records serialise; this is a bug");
        text.push(b'\n');
    }
    crate::results::file::write_atomically(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_splits_latency_into_stages_and_overhead() {
        let mut meta = RequestMeta::new(7, 2, 1_000);
        for (k, stamp) in Stamp::ALL.into_iter().enumerate().skip(1) {
            meta.stamps.set(stamp, 1_000 + 10 * k as u64);
        }
        // Make the compute stage long: CopiedIn → Computed.
        let computed = meta.stamps.get(Stamp::CopiedIn) + 500;
        let shift = computed - meta.stamps.get(Stamp::Computed);
        for stamp in [Stamp::Computed, Stamp::CopiedOut, Stamp::Received] {
            meta.stamps.set(stamp, meta.stamps.get(stamp) + shift);
        }
        let record = TraceRecord::of(&meta, StageScheme::Pipeline).unwrap();
        let sum: u64 = record.stages_ns.iter().map(|(_, ns)| ns).sum();
        assert_eq!(sum, record.latency_ns);
        assert_eq!(record.overhead_ns, record.latency_ns - 500);
        assert_eq!(record.stages_ns[3], ("compute", 500));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["stages_ns"]["compute"], 500);
        assert_eq!(json["overhead_ns"], record.latency_ns - 500);
    }

    #[test]
    fn an_incomplete_request_has_no_record() {
        assert!(TraceRecord::of(&RequestMeta::new(1, 1, 5), StageScheme::Pipeline).is_none());
    }
}
