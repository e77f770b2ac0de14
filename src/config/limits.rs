//! How long a run may take: a wall-clock limit for every run ([`RunLimits::max_duration`]),
//! a stall timeout for every wait of the load generator, and the refusal, before
//! anything starts, of a configuration whose run could not end within the limit
//! (`poisson:1e-9`, `spin:1000s`, `--batch-timeout 1000000s`): such a value is far
//! likelier a typo than a plan, and accepted it would look like a hang.

use std::time::Duration;

use crate::config::{parse_duration, Arrival, BatchPolicy, RunConfig};
use crate::error::{Error, Result};

/// The wall-clock limit of a run unless `--max-duration` says otherwise.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// The shortest stall timeout: below it a busy 2-core machine's scheduling noise
/// (other processes compiling) could pass for a stalled pipeline.
pub const MIN_STALL_TIMEOUT: Duration = Duration::from_secs(2);

/// How many of the slowest warm-up response a later response may take before the
/// pipeline counts as stalled.
const STALL_FACTOR: u32 = 20;

/// Bounds on one run's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// The run (model load to last response) ends by then, measured or not: a
    /// window cut short by it is reported incomplete. Default 10 min.
    pub max_duration: Duration,
    /// How long the load generator waits for its next response before it declares
    /// the pipeline stalled. Default `None`: derived from the warm-up
    /// ([`RunLimits::stall_timeout_after`]).
    pub stall_timeout: Option<Duration>,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_duration: DEFAULT_MAX_DURATION,
            stall_timeout: None,
        }
    }
}

impl RunLimits {
    /// The limits `--max-duration` and `--stall-timeout` give (`30s`, `10m`, `2h`);
    /// a flag not given keeps its default.
    pub fn from_flags(max_duration: Option<&str>, stall_timeout: Option<&str>) -> Result<Self> {
        let parse = |field: &'static str, text: &str| {
            parse_limit(text).ok_or_else(|| {
                Error::config(
                    field,
                    format!("'{text}': expected a duration such as 30s, 10m or 2h"),
                )
            })
        };
        Ok(Self {
            max_duration: max_duration
                .map(|t| parse("max-duration", t))
                .transpose()?
                .unwrap_or(DEFAULT_MAX_DURATION),
            stall_timeout: stall_timeout
                .map(|t| parse("stall-timeout", t))
                .transpose()?,
        })
    }

    /// Refuses a configuration whose run needs longer than [`Self::max_duration`]
    /// by the lower bound of [`min_duration`]; the error names the cause and the flag.
    pub fn check(&self, cfg: &RunConfig) -> Result<()> {
        if self.max_duration.is_zero() {
            return Err(Error::config(
                "max-duration",
                "0; expected a duration such as 10m or 30s",
            ));
        }
        if self.stall_timeout.is_some_and(|s| s.is_zero()) {
            return Err(Error::config(
                "stall-timeout",
                "0; expected a duration such as 5s",
            ));
        }
        let (needed, why) = min_duration(cfg);
        if needed > self.max_duration {
            return Err(Error::config(
                "max-duration",
                format!(
                    "this run needs at least {} ({why}), more than the limit of {}; \
                     check the value for a typo, or allow it with --max-duration",
                    human(needed),
                    human(self.max_duration)
                ),
            ));
        }
        Ok(())
    }

    /// As [`Self::check`], for `forwards` bare forwards of `model` one after another
    /// on one thread (`calibrate`).
    pub fn check_forwards(&self, model: &str, forwards: u64) -> Result<()> {
        let mut cfg = RunConfig::default();
        cfg.model.name = model.into();
        // min_duration counts the cold-start forward besides `num_iters`.
        cfg.load.num_iters = forwards.saturating_sub(1).min(u32::MAX as u64) as u32;
        cfg.load.batch_size = 1;
        cfg.load.arrival = Arrival::Burst;
        cfg.backend.workers = 1;
        cfg.backend.batching = BatchPolicy::None;
        cfg.measure_bare_forward = false;
        self.check(&cfg)
    }

    /// The stall timeout once the warm-up is done: the one given, else
    /// [`STALL_FACTOR`] times the slowest warm-up response plus twice the batching
    /// timeout, at least [`MIN_STALL_TIMEOUT`].
    pub fn stall_timeout_after(&self, slowest_warmup: Duration, cfg: &RunConfig) -> Duration {
        self.stall_timeout.unwrap_or_else(|| {
            let batching = match cfg.backend.batching {
                BatchPolicy::None => Duration::ZERO,
                BatchPolicy::Dynamic { timeout_us, .. } => Duration::from_micros(timeout_us),
            };
            (slowest_warmup * STALL_FACTOR + batching * 2).max(MIN_STALL_TIMEOUT)
        })
    }
}

/// A lower bound of the time a run of `cfg` takes, with what it comes from. Counts
/// only what is known before the run: the spin model's forward time, the Poisson
/// schedule's length and the batching timeout the cold-start request waits.
pub fn min_duration(cfg: &RunConfig) -> (Duration, String) {
    let mut parts: Vec<(Duration, String)> = Vec::new();
    let iters = cfg.load.num_iters as u64;
    if let Some(spin) = spin_time(&cfg.model.name) {
        // Each forward takes `spin` whatever its size; the workers run in parallel.
        let per_forward = cfg.backend.batching.max_samples(cfg.load.batch_size) as u64
            / cfg.load.batch_size.max(1) as u64;
        let forwards = (iters + 1).div_ceil(per_forward.max(1));
        let mut rounds = forwards.div_ceil(cfg.backend.workers.max(1) as u64);
        if cfg.measure_bare_forward {
            rounds += iters.div_ceil(cfg.backend.workers.max(1) as u64);
        }
        parts.push((
            saturating_mul(spin, rounds),
            format!("{rounds} forwards of {}", human(spin)),
        ));
    }
    if let Arrival::Poisson(rate) = cfg.load.arrival {
        if rate.is_finite() && rate > 0.0 {
            let secs = iters as f64 / rate;
            let d = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
            parts.push((d, format!("{iters} requests at {rate} requests/s")));
        }
    }
    if let BatchPolicy::Dynamic { timeout_us, .. } = cfg.backend.batching {
        let d = Duration::from_micros(timeout_us);
        parts.push((d, format!("a batch timeout of {}", human(d))));
    }
    let total = parts
        .iter()
        .fold(Duration::ZERO, |sum, (d, _)| sum.saturating_add(*d));
    let why = parts
        .into_iter()
        .max_by_key(|(d, _)| *d)
        .map_or_else(|| "nothing known".to_string(), |(_, why)| why);
    (total, why)
}

/// The busy-wait of a spin model per batch, also inside a fault-injecting one
/// (`fail:spin:2ms@10`); a per-sample cost or a drift only lengthens it.
fn spin_time(model: &str) -> Option<Duration> {
    let spin = &model[model.find("spin:")? + "spin:".len()..];
    let spin = spin.split('@').next().unwrap_or(spin);
    parse_duration("model", spin.split('+').next().unwrap_or(spin)).ok()
}

fn saturating_mul(d: Duration, n: u64) -> Duration {
    let secs = d.as_secs_f64() * n as f64;
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// `1.5 s`, `2 min`, `3.2 h`, `11574 days`: a duration as a person reads it.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.0} days", s / 86_400.0)
    }
}

/// Parses a limit flag: `30s`, `10m`, `2h`, `500ms` (the crate's one duration syntax).
pub fn parse_limit(text: &str) -> Option<Duration> {
    parse_duration("max-duration", text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(model: &str, arrival: Arrival, batching: BatchPolicy) -> RunConfig {
        let mut c = RunConfig::default();
        c.model.name = model.into();
        c.load.arrival = arrival;
        c.backend.batching = batching;
        c.measure_bare_forward = false;
        c
    }

    #[test]
    fn absurd_values_are_refused_naming_the_cause_and_the_flag() {
        let limits = RunLimits::default();
        let cases = [
            cfg("spin:1ms", Arrival::Poisson(1e-9), BatchPolicy::None),
            cfg("spin:1000s", Arrival::Burst, BatchPolicy::None),
            cfg(
                "spin:1ms",
                Arrival::Burst,
                BatchPolicy::Dynamic {
                    max_batch_samples: 8,
                    timeout_us: 1_000_000 * 1_000_000,
                },
            ),
            cfg("fail:spin:1000s@3:hang", Arrival::Burst, BatchPolicy::None),
        ];
        for (c, cause) in cases
            .iter()
            .zip(["requests/s", "forwards", "batch timeout", "forwards"])
        {
            let err = limits.check(c).unwrap_err().to_string();
            assert!(err.contains("max-duration") && err.contains(cause), "{err}");
        }
    }

    #[test]
    fn a_larger_limit_allows_a_long_run_and_a_normal_run_passes() {
        let long = cfg("spin:10s", Arrival::Burst, BatchPolicy::None);
        assert!(RunLimits::default().check(&long).is_err());
        let allowed = RunLimits {
            max_duration: Duration::from_secs(3600),
            stall_timeout: None,
        };
        allowed.check(&long).unwrap();
        let normal = cfg("spin:2ms", Arrival::Poisson(200.0), BatchPolicy::None);
        RunLimits::default().check(&normal).unwrap();
    }

    #[test]
    fn a_loop_of_bare_forwards_is_bounded_like_a_run() {
        let limits = RunLimits {
            max_duration: Duration::from_secs(1),
            stall_timeout: None,
        };
        limits.check_forwards("spin:10ms", 50).unwrap();
        let err = limits
            .check_forwards("spin:10ms", 200)
            .unwrap_err()
            .to_string();
        assert!(err.contains("200 forwards of 10 ms"), "{err}");
        limits.check_forwards("tiny-cnn", 1_000_000).unwrap();
    }

    #[test]
    fn the_spin_bound_counts_parallel_workers_and_the_bare_loop() {
        let mut c = cfg("spin:10ms", Arrival::Burst, BatchPolicy::None);
        c.load.num_iters = 99;
        assert_eq!(min_duration(&c).0, Duration::from_millis(1000));
        c.backend.workers = 2;
        assert_eq!(min_duration(&c).0, Duration::from_millis(500));
        c.measure_bare_forward = true;
        assert_eq!(min_duration(&c).0, Duration::from_millis(1000));
    }

    #[test]
    fn the_stall_timeout_grows_with_the_warm_up_and_the_batching_timeout() {
        let limits = RunLimits::default();
        let plain = cfg("spin:1ms", Arrival::Burst, BatchPolicy::None);
        assert_eq!(
            limits.stall_timeout_after(Duration::from_millis(1), &plain),
            MIN_STALL_TIMEOUT
        );
        assert_eq!(
            limits.stall_timeout_after(Duration::from_millis(500), &plain),
            Duration::from_secs(10)
        );
        let batched = cfg(
            "spin:1ms",
            Arrival::Burst,
            BatchPolicy::Dynamic {
                max_batch_samples: 8,
                timeout_us: 2_000_000,
            },
        );
        assert_eq!(
            limits.stall_timeout_after(Duration::from_millis(1), &batched),
            Duration::from_millis(4020)
        );
        let given = RunLimits {
            stall_timeout: Some(Duration::from_millis(300)),
            ..limits
        };
        assert_eq!(
            given.stall_timeout_after(Duration::from_secs(9), &batched),
            Duration::from_millis(300)
        );
    }

    #[test]
    fn flags_give_limits_and_a_bad_one_is_named() {
        let limits = RunLimits::from_flags(Some("2h"), Some("5s")).unwrap();
        assert_eq!(limits.max_duration, Duration::from_secs(7200));
        assert_eq!(limits.stall_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            RunLimits::from_flags(None, None).unwrap(),
            RunLimits::default()
        );
        let err = RunLimits::from_flags(Some("10m"), Some("soon"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stall-timeout") && err.contains("soon"),
            "{err}"
        );
    }

    #[test]
    fn limits_parse_minutes_and_hours_too() {
        assert_eq!(parse_limit("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_limit("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_limit("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_limit("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_limit("soon"), None);
    }
}
