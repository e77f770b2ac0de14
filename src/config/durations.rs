//! Durations as flags, TOML files and environment variables write them, read by one
//! parser (humantime's syntax) so that `--batch-timeout`, a sweep's `batch_timeout`,
//! `--spin-wait` and `spin:<duration>` accept exactly the same text.

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses a duration as flags, TOML files and environment variables all write it:
/// a number and a unit (`100ns`, `500us` or `500µs`, `2ms`, `1.5s`, `2min`), or
/// several (`1m 30s`), in humantime's syntax. A unit is required except for `0`
/// (`2` alone is ambiguous), and a value too large to represent is an error, never a
/// panic.
/// `field` names the setting in the error.
pub fn parse_duration(field: &'static str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        Error::config(
            field,
            format!("'{text}' is not a duration ({e}); expected e.g. 500us, 5ms or 1.5s"),
        )
    })
}

/// [`parse_duration`] in whole microseconds, the unit the configuration stores;
/// a duration whose microseconds overflow `u64` (about 584 000 years) is an error.
pub fn parse_duration_us(field: &'static str, text: &str) -> Result<u64> {
    let duration = parse_duration(field, text)?;
    u64::try_from(duration.as_micros()).map_err(|_| {
        Error::config(
            field,
            format!("'{text}' is too long; expected at most {} us", u64::MAX),
        )
    })
}
