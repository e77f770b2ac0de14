//! The thread-scaling table of `inferbench calibrate`.

use crate::config::RunConfig;
use crate::pipeline::calibrate::ThreadPoint;

/// One line per thread count: samples/s (median, and the turns' range), the
/// speed-up over the first count, and that speed-up per thread (1.0 is linear).
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
    out += "threads  samples/s  (turns: min-max)   speed-up  per thread\n";
    let Some(base) = points.first() else {
        return out;
    };
    for p in points {
        let (lo, hi) = p
            .turns
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), &r| {
                (lo.min(r), hi.max(r))
            });
        let speedup = p.speedup(base) * base.threads as f64;
        out += &format!(
            "{:>7}  {:>9.1}  ({:>7.1}-{:<7.1})  {:>8.2}  {:>10.2}\n",
            p.threads,
            p.samples_per_s,
            lo,
            hi,
            speedup,
            speedup / p.threads as f64
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

    #[test]
    fn speedup_is_against_the_first_count_scaled_to_one_thread() {
        let point = |threads, rate: f64| ThreadPoint {
            threads,
            samples_per_s: rate,
            turns: vec![rate - 1.0, rate, rate + 1.0],
        };
        let text = render(
            &RunConfig::default(),
            &[point(1, 100.0), point(2, 150.0), point(4, 200.0)],
            2,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("bs 1") && lines[0].contains("2 core(s)"),
            "{text}"
        );
        assert!(
            lines[2].contains("100.0") && lines[2].contains("1.00"),
            "{text}"
        );
        assert!(
            lines[3].contains("150.0") && lines[3].contains("1.50") && lines[3].contains("0.75"),
            "{text}"
        );
        assert!(
            lines[4].contains("2.00") && lines[4].contains("0.50"),
            "{text}"
        );
        assert!(
            text.contains("oversubscription"),
            "4 threads on 2 cores: {text}"
        );
        let first_two = render(
            &RunConfig::default(),
            &[point(2, 150.0), point(4, 200.0)],
            4,
        );
        // Starting at 2 threads, speed-up is still per single thread: 150 × 1 ÷ 150 × 2.
        assert!(
            first_two.lines().nth(2).unwrap().contains("2.00"),
            "{first_two}"
        );
    }
}
