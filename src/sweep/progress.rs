//! The sweep's progress line: a bar, the run count, elapsed time and an ETA from
//! the mean time of the runs done so far (runs differ in cost, so the ETA firms up
//! as the sweep goes; it is labelled an estimate for that reason).
//!
//! On a terminal, `indicatif` draws it: it redraws in place, fits the line to the
//! terminal's width, keeps the elapsed time and ETA ticking during a long run, and
//! prints notes (a failed configuration) above the bar instead of through it.
//! Elsewhere (CI logs, a file) indicatif draws nothing, so each update is written
//! as one plain line ([`render`]), which a log keeps and a reader can grep.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Where the line goes.
#[derive(Debug)]
enum Output {
    /// Redrawn in place by indicatif.
    Bar(ProgressBar),
    /// One line per update on stderr.
    Lines,
}

/// Progress over a known number of runs.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: usize,
    done: usize,
    started: Instant,
    output: Output,
}

/// `[#####.....] 12/36  33%  elapsed 1m05s  ETA ~2m10s  label`, as indicatif renders it.
const TEMPLATE: &str =
    "[{bar:24}] {pos}/{len} {percent:>3}%  elapsed {clock}  {eta_estimate}  {wide_msg}";

impl Progress {
    /// Starts counting `total` runs now, `what` naming them in the closing line. On a
    /// terminal the line redraws in place; elsewhere each update is its own line.
    pub fn start(what: &'static str, total: usize) -> Self {
        let target = if std::io::stderr().is_terminal() {
            Some(ProgressDrawTarget::stderr())
        } else {
            None
        };
        Self::with_target(what, total, target)
    }

    /// As [`Progress::start`], drawing with indicatif on `target`, or plain lines if `None`.
    pub fn with_target(
        what: &'static str,
        total: usize,
        target: Option<ProgressDrawTarget>,
    ) -> Self {
        let output = match target {
            Some(target) => {
                let bar = ProgressBar::with_draw_target(Some(total as u64), target);
                bar.set_style(style());
                // Redraw every second so that elapsed time and ETA move during a long run.
                bar.enable_steady_tick(Duration::from_secs(1));
                Output::Bar(bar)
            }
            None => Output::Lines,
        };
        Self {
            what,
            total,
            done: 0,
            started: Instant::now(),
            output,
        }
    }

    /// Marks one run finished.
    pub fn finish_one(&mut self) {
        self.done = (self.done + 1).min(self.total);
        if let Output::Bar(bar) = &self.output {
            bar.set_position(self.done as u64);
        }
    }

    /// Shows the line for what is about to run.
    pub fn show(&self, label: &str) {
        match &self.output {
            Output::Bar(bar) => bar.set_message(label.to_string()),
            Output::Lines => eprintln!(
                "{}",
                render(self.done, self.total, self.started.elapsed(), label)
            ),
        }
    }

    /// Prints a note (such as a failed run) without breaking the line.
    pub fn note(&self, text: &str) {
        match &self.output {
            Output::Bar(bar) => bar.println(text),
            Output::Lines => eprintln!("{text}"),
        }
    }

    /// Leaves the final line and prints the total time.
    pub fn end(&self) {
        if let Output::Bar(bar) = &self.output {
            bar.finish();
        }
        eprintln!(
            "[{}] {} runs in {}",
            self.what,
            self.done,
            clock(self.started.elapsed())
        );
    }
}

impl Drop for Progress {
    /// A sweep that stops with an error leaves the bar where it was, not half-cleared.
    fn drop(&mut self) {
        if let Output::Bar(bar) = &self.output {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

/// The terminal line's style, with this module's clock and ETA so that the
/// terminal and the log read the same.
fn style() -> ProgressStyle {
    ProgressStyle::with_template(TEMPLATE)
        .expect("the progress template is valid; this is a bug")
        .progress_chars("#.")
        .with_key("clock", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&clock(s.elapsed()));
        })
        .with_key(
            "eta_estimate",
            |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let total = s.len().unwrap_or(0) as usize;
                let _ = w.write_str(&eta_text(s.pos() as usize, total, s.elapsed()));
            },
        )
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

/// `ETA ~2m10s`, or `ETA --` before the first run ends.
fn eta_text(done: usize, total: usize, elapsed: Duration) -> String {
    eta(done, total, elapsed).map_or("ETA --".to_string(), |d| format!("ETA ~{}", clock(d)))
}

/// The log line: `[#####.....] 12/36  33%  elapsed 1m05s  ETA ~2m10s  bs4/eager/w2 (rep 2/3)`.
pub fn render(done: usize, total: usize, elapsed: Duration, label: &str) -> String {
    const WIDTH: usize = 24;
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * WIDTH as f64).round() as usize).min(WIDTH);
    format!(
        "[{}{}] {done}/{total} {:>3.0}%  elapsed {}  {}  {label}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        fraction * 100.0,
        clock(elapsed),
        eta_text(done, total, elapsed),
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
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

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
    fn the_log_line_shows_bar_count_and_eta() {
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

    /// A terminal that records what indicatif writes to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            160
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            self.write_str("\n")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_terminal_bar_shows_count_label_eta_and_notes() {
        let screen = Screen::default();
        let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let mut progress = Progress::with_target("sweep", 12, Some(target));
        for _ in 0..3 {
            progress.finish_one();
        }
        progress.show("bs4/eager/w2/shared (rep 1/3)");
        progress.note("[sweep] bs8 failed: out of memory; recorded, going on");
        let text = screen.text();
        assert!(
            text.contains("[######..................] 3/12  25%"),
            "{text}"
        );
        assert!(text.contains("bs4/eager/w2/shared (rep 1/3)"), "{text}");
        assert!(
            text.contains("elapsed 0s") && text.contains("ETA ~"),
            "{text}"
        );
        assert!(text.contains("bs8 failed: out of memory"), "{text}");
        progress.end();
        assert!(screen.text().contains("3/12"));
    }
}
