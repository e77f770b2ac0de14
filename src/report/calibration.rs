//! The thread-scaling table of `inferbench calibrate`.

use crate::config::RunConfig;
use crate::pipeline::calibrate::ThreadPoint;

/// One line per thread count: samples/s (median, and the turns' range), the
/// speed-up over the 1-thread point, and that speed-up per thread added (1.0 is
/// linear). Without a 1-thread point the base is the smallest count measured, and
/// the table says so: a speed-up is a ratio of two measurements, never one scaled
/// as if the base had scaled perfectly.
pub fn render(cfg: &RunConfig, points: &[ThreadPoint], cores: u32) -> String {
    let mut out = format!(
        "bare forward of {} ({} px, bs {}, {}, {}) on {}, {cores} core(s) available\n",
        cfg.model.name,
        cfg.model.image_size,
        cfg.load.batch_size,
        cfg.model.compile.name(),
        cfg.model.precision.name(),
        cfg.backend.device,
    );
    let Some(base) = points.iter().min_by_key(|p| p.threads) else {
        return out;
    };
    if base.threads == 1 {
        out += "speed-up: against 1 thread, as measured\n";
    } else {
        out += &format!(
            "speed-up: against {} threads, the fewest measured (no 1-thread point; add 1 to --threads for it)\n",
            base.threads
        );
    }
    out += "threads  samples/s  (turns: min-max)   speed-up  per thread\n";
    for p in points {
        let (lo, hi) = p
            .turns
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        let speedup = p.speedup(base);
        let threads_ratio = p.threads as f64 / base.threads as f64;
        out += &format!(
            "{:>7}  {:>9.1}  ({:>7.1}-{:<7.1})  {:>8.2}  {:>10.2}\n",
            p.threads,
            p.samples_per_s,
            lo,
            hi,
            speedup,
            speedup / threads_ratio
        );
    }
    if points.iter().any(|p| p.threads > cores) {
        out += "note: more threads than cores: those counts measure oversubscription\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(threads: u32, rate: f64) -> ThreadPoint {
        ThreadPoint {
            threads,
            samples_per_s: rate,
            turns: vec![rate - 1.0, rate, rate + 1.0],
        }
    }

    fn row(text: &str, threads: u32) -> &str {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(&threads.to_string()))
            .unwrap_or_else(|| panic!("no row for {threads}: {text}"))
    }

    #[test]
    fn speedup_is_against_the_one_thread_point_wherever_it_is_listed() {
        // --threads 2,1: the 1-thread point is the base, not the first listed.
        let text = render(
            &RunConfig::default(),
            &[point(2, 150.0), point(1, 100.0), point(4, 200.0)],
            2,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("bs 1") && lines[0].contains("2 core(s)"),
            "{text}"
        );
        assert!(text.contains("against 1 thread, as measured"), "{text}");
        assert!(row(&text, 1).contains("100.0") && row(&text, 1).contains("1.00"));
        let two = row(&text, 2);
        assert!(
            two.contains("150.0") && two.contains("1.50") && two.contains("0.75"),
            "{text}"
        );
        let four = row(&text, 4);
        assert!(four.contains("2.00") && four.contains("0.50"), "{text}");
        assert!(
            text.contains("oversubscription"),
            "4 threads on 2 cores: {text}"
        );
    }

    #[test]
    fn without_a_one_thread_point_the_fewest_threads_are_the_base_and_said_so() {
        let text = render(
            &RunConfig::default(),
            &[point(4, 200.0), point(2, 150.0)],
            4,
        );
        assert!(
            text.contains("against 2 threads, the fewest measured"),
            "{text}"
        );
        // 2 threads is the base (1.00); 4 threads: 200 / 150, per thread over 2× the threads.
        assert!(row(&text, 2).contains("1.00"), "{text}");
        let four = row(&text, 4);
        assert!(four.contains("1.33") && four.contains("0.67"), "{text}");
        // One count alone: 1.00, never a made-up scaling (it used to print 1000.00
        // for --threads 1000).
        let alone = render(&RunConfig::default(), &[point(1000, 62.68)], 2);
        assert!(row(&alone, 1000).contains("1.00"), "{alone}");
        assert!(!alone.contains("1000.00"), "{alone}");
    }
}
