//! A results file written by a process killed at any moment holds only whole lines
//! (and at most a cut-short tail that the next append cuts off): a writer appends
//! report-sized records as fast as it can and is SIGKILLed a random 0-300 ms after
//! its first append, again and again on one file.
//!
//! The writer is this test binary itself, started with [`WRITER_VAR`] naming the
//! file (then [`writer_killed_by_the_other_test`] appends until killed; in a plain
//! test run it does nothing). [`KILLS_VAR`] sets the number of kills (default 3);
//! `scripts/robustness.sh kill-appends N` runs this with N.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use inferbench::results::jsonl::JsonlSink;

/// The file the writer appends to; unset, the writer test does nothing.
const WRITER_VAR: &str = "INFERBENCH_APPEND_STRESS_FILE";
/// How many times the writer is killed.
const KILLS_VAR: &str = "INFERBENCH_APPEND_KILLS";

/// The writer side: appends until killed, when started by the other test.
#[test]
fn writer_killed_by_the_other_test() {
    let Some(path) = std::env::var_os(WRITER_VAR) else {
        return;
    };
    let mut sink = JsonlSink::open(Path::new(&path)).expect("the results file opens");
    // About the size of a run's line (1.4 KB), so that lines cross page boundaries.
    let filler = "x".repeat(1400);
    for n in 0u64.. {
        sink.append(&serde_json::json!({"n": n, "filler": filler}))
            .expect("the append succeeds");
    }
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[test]
fn a_writer_killed_at_any_moment_leaves_only_whole_lines() {
    let kills: u32 = std::env::var(KILLS_VAR).ok().map_or(3, |v| {
        v.parse().expect("INFERBENCH_APPEND_KILLS is a count")
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("appends.jsonl");
    // xorshift from the clock: a different moment each run, the seed shown to repeat it.
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    eprintln!("kill moments from seed {state}");
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..kills {
        let before = size(&file);
        let mut writer = Command::new(std::env::current_exe().unwrap())
            .args([
                "append_kill::writer_killed_by_the_other_test",
                "--exact",
                "--nocapture",
            ])
            .env(WRITER_VAR, &file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the writer starts");
        // Kill only once it is appending (it loads libtorch first), at a random moment.
        let started = Instant::now();
        while size(&file) <= before {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the writer never appended"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(next() % 300));
        writer.kill().unwrap();
        writer.wait().unwrap();
    }
    // Hundreds of MB (the writer appends as fast as it can): read line by line.
    let mut reader = std::io::BufReader::new(std::fs::File::open(&file).unwrap());
    let (mut lines, mut bad, mut tail) = (0usize, Vec::new(), 0);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).unwrap() > 0 {
        if line.pop() != Some(b'\n') {
            // After the last newline: a line cut short by the last kill.
            tail = line.len() + 1;
            break;
        }
        lines += 1;
        let value = serde_json::from_slice::<serde_json::Value>(&line);
        if !value.is_ok_and(|v| v.is_object()) {
            bad.push(lines);
        }
        line.clear();
    }
    eprintln!(
        "{kills} SIGKILLs: {} lines, {} parse, {} do not {:?}; unterminated tail: {} bytes",
        lines,
        lines - bad.len(),
        bad.len(),
        &bad[..bad.len().min(5)],
        tail
    );
    assert!(bad.is_empty(), "lines that do not parse: {bad:?}");
    assert!(
        lines >= kills as usize,
        "each writer appended at least once"
    );
}
