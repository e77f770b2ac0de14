//! Runs as windows of two servers taking turns: per block, each side's
//! `PROGRAM serve-windows --quiet FLAGS` starts (both at once, before any
//! window), then the parent asks them for windows in the order A B, B A, … for the
//! block's rounds, and closes both. See [`super::serve`] for the child's side and
//! why this beats a process per run on a drifting machine.
//!
//! Each window is asked for only once the other side's has come back, so the two
//! never measure at the same time; an idle server waits in a blocking read. A
//! server that dies or answers garbage fails the job with its stderr's last lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use super::procedure::{order, Measure, Pair};
use super::program::{check_job, scratch_dir, Program};
use super::{Measurement, Side};
use crate::error::{Error, Result};

/// The subcommand a server side runs.
pub const SUBCOMMAND: &str = "serve-windows";

/// The line that asks a server for one window.
pub const WINDOW_REQUEST: &str = "window";

/// Blocks of windows from two programs' servers.
pub struct WindowServers {
    base: Program,
    head: Program,
    configs: Vec<Vec<String>>,
    rounds: u32,
    /// Blocks measured so far.
    blocks: usize,
    /// The servers' stderr files, removed on drop.
    scratch: tempfile::TempDir,
}

impl WindowServers {
    /// `rounds` A B B A rounds per block (at least 1); checks the programs and
    /// flags as [`check_job`] says.
    pub fn new(
        base: Program,
        head: Program,
        configs: Vec<Vec<String>>,
        rounds: u32,
    ) -> Result<Self> {
        check_job(&base, &head, &configs)?;
        Ok(Self {
            base,
            head,
            configs,
            rounds: rounds.max(1),
            blocks: 0,
            scratch: scratch_dir()?,
        })
    }

    fn start(&self, config: usize, side: Side) -> Result<Server> {
        let program = match side {
            Side::Base => &self.base,
            Side::Head => &self.head,
        };
        let stderr_path = self.scratch.path().join(format!("{side:?}.stderr"));
        let stderr =
            File::create(&stderr_path).map_err(|e| Error::io("cannot create", &stderr_path, e))?;
        let mut cmd = Command::new(&program.path);
        cmd.args([SUBCOMMAND, "--quiet"])
            .args(&self.configs[config])
            .args(&program.extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let shown = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Ab(format!("cannot start {shown}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(Server {
            child,
            stdin,
            stdout,
            stderr_path,
            shown,
            side,
        })
    }
}

impl Measure for WindowServers {
    /// Every other block starts with the head (B A A B …), both in which server is
    /// started first and which measures first, so that nothing about going first
    /// leans on one side. Before the measured rounds each server measures one window
    /// that is thrown away: a server's first window after its warm-up was seen to be
    /// slower (with two intra-op threads an A/A job called the side that never went
    /// first 4-5 % faster, interval clear of zero), and the first measured window
    /// now follows the other side's, as every later one does.
    fn block(&mut self, config: usize) -> Result<Vec<Pair>> {
        let shift = self.blocks % 2;
        self.blocks += 1;
        let [first, second] = order(shift);
        let (first_server, second_server) =
            (self.start(config, first)?, self.start(config, second)?);
        let (mut base, mut head) = match first {
            Side::Base => (first_server, second_server),
            Side::Head => (second_server, first_server),
        };
        let mut window = |side| match side {
            Side::Base => base.window(),
            Side::Head => head.window(),
        };
        for side in order(shift) {
            window(side)?; // thrown away
        }
        let mut pairs = Vec::new();
        for index in shift..shift + 2 * self.rounds as usize {
            let [a, b] = order(index);
            let (x, y) = (window(a)?, window(b)?);
            pairs.push(if a == Side::Base { (x, y) } else { (y, x) });
        }
        base.finish()?;
        head.finish()?;
        Ok(pairs)
    }
}

/// One side's running server.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    stderr_path: PathBuf,
    shown: String,
    side: Side,
}

impl Server {
    /// Asks for one window and reads its report.
    fn window(&mut self) -> Result<Measurement> {
        let asked = self
            .stdin
            .as_mut()
            .map(|s| writeln!(s, "{}", WINDOW_REQUEST).and_then(|_| s.flush()));
        let mut line = String::new();
        let read = match (asked, self.stdout.as_mut()) {
            (Some(Ok(())), Some(out)) => out.read_line(&mut line).ok(),
            _ => None,
        };
        if !matches!(read, Some(n) if n > 0) {
            return Err(self.failure());
        }
        let report: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
            Error::Ab(format!(
                "{} answered a window with something that is not a report ({e}): {}",
                self.shown,
                line.trim()
            ))
        })?;
        Ok(Measurement::from_report_json(&report))
    }

    /// Closes its input and waits for it to stop the server and exit.
    fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        match self.child.wait() {
            Ok(status) if status.success() => Ok(()),
            _ => Err(self.failure()),
        }
    }

    /// The error for a server that stopped answering: its exit status and the end of
    /// its stderr; a program without the subcommand (an older revision) is named so.
    fn failure(&mut self) -> Error {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| format!("not waited for: {e}"));
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let side = self.side.name();
        if stderr.contains("unrecognized subcommand") {
            return Error::Ab(format!(
                "the {side} program has no `{SUBCOMMAND}` (a revision older than windowed A/B): \
                 give --process-per-run to run a fresh `run` process per measurement ({})",
                self.shown
            ));
        }
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Error::Ab(format!(
            "the {side} server stopped ({status}): {}\n{}",
            self.shown,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // An error elsewhere in the block leaves this one running: end it.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
