//! Appends report-sized records to a results file as fast as it can, for checking
//! that a writer killed at any moment leaves a file whose every line parses
//! (scripts/robustness.sh kill-appends). Usage: append_stress FILE

use inferbench::results::jsonl::JsonlSink;

fn main() -> anyhow::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: append_stress FILE"))?;
    let mut sink = JsonlSink::open(std::path::Path::new(&path))?;
    // About the size of a run's line (1.4 KB), so that lines cross page boundaries.
    let filler = "x".repeat(1400);
    for n in 0u64.. {
        sink.append(&serde_json::json!({"n": n, "filler": filler}))?;
    }
    Ok(())
}
