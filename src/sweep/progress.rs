//! The sweep's progress line: a bar, the run count, elapsed time and an ETA from
//! the mean time of the runs done so far (runs differ in cost, so the ETA firms up
//! as the sweep goes; it is labelled an estimate for that reason).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Progress over a known number of runs.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: usize,
    done: usize,
    started: Instant,
    redraw: bool,
}

impl Progress {
    /// Starts counting `total` runs now, `what` naming them in the closing line. On a terminal the line redraws in place;
    /// elsewhere (CI logs) each update is its own line.
    pub fn start(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            done: 0,
            started: Instant::now(),
            redraw: std::io::stderr().is_terminal(),
        }
    }

    /// Marks one run finished.
    pub fn finish_one(&mut self) {
        self.done = (self.done + 1).min(self.total);
    }

    /// Prints the line for what is about to run.
    pub fn show(&self, label: &str) {
        let line = render(self.done, self.total, self.started.elapsed(), label);
        let mut err = std::io::stderr().lock();
        let _ = if self.redraw {
            write!(err, "\r\x1b[2K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    /// Ends the line (on a terminal) and prints the total time.
    pub fn end(&self) {
        let mut err = std::io::stderr().lock();
        if self.redraw {
            let _ = writeln!(err);
        }
        let _ = writeln!(
            err,
            "[{}] {} runs in {}",
            self.what,
            self.done,
            clock(self.started.elapsed())
        );
    }
}

/// Time left, from the mean time of the runs done; `None` before the first one ends.
pub fn eta(done: usize, total: usize, elapsed: Duration) -> Option<Duration> {
    if done == 0 {
        return None;
    }
    let per_run = elapsed.as_secs_f64() / done as f64;
    Some(Duration::from_secs_f64(
        per_run * total.saturating_sub(done) as f64,
    ))
}

/// `[#####.....] 12/36  33%  elapsed 1m05s  ETA ~2m10s  bs4/eager/w2 (rep 2/3)`.
pub fn render(done: usize, total: usize, elapsed: Duration, label: &str) -> String {
    const WIDTH: usize = 24;
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * WIDTH as f64).round() as usize).min(WIDTH);
    let eta =
        eta(done, total, elapsed).map_or("ETA --".to_string(), |d| format!("ETA ~{}", clock(d)));
    format!(
        "[{}{}] {done}/{total} {:>3.0}%  elapsed {}  {eta}  {label}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        fraction * 100.0,
        clock(elapsed),
    )
}

/// `45s`, `3m05s`, `1h02m`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_the_mean_run_time_times_the_runs_left() {
        assert_eq!(eta(0, 10, Duration::from_secs(5)), None);
        assert_eq!(
            eta(4, 10, Duration::from_secs(20)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(eta(10, 10, Duration::from_secs(50)), Some(Duration::ZERO));
    }

    #[test]
    fn the_line_shows_bar_count_and_eta() {
        let line = render(
            3,
            12,
            Duration::from_secs(90),
            "bs4/eager/w2/shared (rep 1/3)",
        );
        assert!(
            line.starts_with("[######..................] 3/12  25%"),
            "{line}"
        );
        assert!(
            line.contains("elapsed 1m30s") && line.contains("ETA ~4m30s"),
            "{line}"
        );
        assert!(line.ends_with("(rep 1/3)"));
        assert!(render(0, 5, Duration::ZERO, "x").contains("ETA --"));
    }

    #[test]
    fn clock_reads_at_every_scale() {
        assert_eq!(clock(Duration::from_secs(45)), "45s");
        assert_eq!(clock(Duration::from_secs(185)), "3m05s");
        assert_eq!(clock(Duration::from_secs(3720)), "1h02m");
    }
}
