//! What `cargo bench --bench pipeline` measures: a suite, which is a sweep file
//! (the same TOML as `inferbench sweep --config`, read by the same parser, with its
//! `[criterion]` table) expanded by [`SweepSpec::expand`]. The built-in profiles are
//! such files too (`benches/suites/*.toml`, compiled in), so a preset and a user's
//! own file cannot drift apart.
//!
//! The environment chooses the suite: `INFERBENCH_SUITE=path.toml` or
//! `INFERBENCH_PROFILE=name` (not both; neither is the `default` profile), and
//! `INFERBENCH_PERCENTILE` overrides the file's tail-latency statistic;
//! `INFERBENCH_MAX_DURATION` and `INFERBENCH_STALL_TIMEOUT` are `run`'s time limits
//! for every wait of a window ([`limits_from_env`]). An unknown
//! value stops the bench with the valid ones listed, before anything is measured:
//! a silently substituted default would put wrong figures under a right-looking name.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::limits::{parse_limit, RunLimits};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::percentile::Percentile;
use crate::sweep::spec::SweepSpec;

/// Environment variable naming a suite file.
pub const SUITE_VAR: &str = "INFERBENCH_SUITE";
/// Environment variable naming a built-in profile.
pub const PROFILE_VAR: &str = "INFERBENCH_PROFILE";
/// Environment variable overriding the suite's tail-latency statistic.
pub const PERCENTILE_VAR: &str = "INFERBENCH_PERCENTILE";
/// Environment variable: each wait's wall-clock limit, as `--max-duration`.
pub const MAX_DURATION_VAR: &str = "INFERBENCH_MAX_DURATION";
/// Environment variable: the stall timeout, as `--stall-timeout`.
pub const STALL_TIMEOUT_VAR: &str = "INFERBENCH_STALL_TIMEOUT";

/// The built-in profiles: name and TOML text (the files in `benches/suites/`).
pub const PROFILES: [(&str, &str); 5] = [
    ("default", include_str!("../../benches/suites/default.toml")),
    ("full", include_str!("../../benches/suites/full.toml")),
    ("ci", include_str!("../../benches/suites/ci.toml")),
    ("gpu", include_str!("../../benches/suites/gpu.toml")),
    (
        "gpu-full",
        include_str!("../../benches/suites/gpu-full.toml"),
    ),
];

/// A suite ready to run: every configuration validated before the first is measured.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The sweep specification it was read from (name, grid, `[criterion]` settings).
    pub spec: SweepSpec,
    /// The configurations, in the sweep's order; each one's request count is the
    /// suite's `requests_per_sample`.
    pub configs: Vec<RunConfig>,
    /// The statistic the tail-latency benchmark reports (after `INFERBENCH_PERCENTILE`).
    pub percentile: Percentile,
    /// The time limits of every window. Default: [`RunLimits::default`].
    pub limits: RunLimits,
}

impl Suite {
    /// A built-in profile by name; the error lists the valid names.
    pub fn profile(name: &str) -> Result<Self> {
        let (name, text) = PROFILES
            .iter()
            .find(|(n, _)| *n == name.trim())
            .ok_or_else(|| {
                Error::config(
                    PROFILE_VAR,
                    format!(
                        "'{name}' is not a profile; expected one of {} (or {SUITE_VAR}=path/to/suite.toml)",
                        profile_names()
                    ),
                )
            })?;
        let spec = SweepSpec::from_toml(text, &format!("built-in profile '{name}'"), Some(name))?;
        Self::from_spec(spec)
    }

    /// A suite file: sweep TOML with an optional `[criterion]` table.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_spec(SweepSpec::from_toml_file(path)?)
    }

    /// Expands and checks a specification. The sweep's `iters`, `repeats` and `bare`
    /// do not apply: criterion decides how many windows to measure, and a window is
    /// `requests_per_sample` requests with no bare-forward comparison. Its
    /// `[until_stable]` table does: windows of that size are measured until stable
    /// before criterion's samples.
    pub fn from_spec(spec: SweepSpec) -> Result<Self> {
        spec.criterion.validate()?;
        // An `[until_stable]` table is the settling phase before each group's samples
        // (`groups::settle_first`): refuse one that cannot work before measuring.
        if let Some(until) = &spec.until_stable {
            until.criteria()?;
        }
        let mut configs = spec.expand()?;
        // A model the zoo does not know, or a file that does not load, would make
        // every group fail to start: refuse it here with the rest.
        crate::model::check_grid(&configs)?;
        for cfg in &mut configs {
            cfg.load.num_iters = spec.criterion.requests_per_sample;
            cfg.measure_bare_forward = false;
        }
        let percentile = spec.criterion.percentile;
        Ok(Self {
            spec,
            configs,
            percentile,
            limits: RunLimits::default(),
        })
    }

    /// The suite with its windows held to `limits`; a window that could not end
    /// within them is refused now, as `run` refuses one.
    pub fn within(mut self, limits: RunLimits) -> Result<Self> {
        self.configs.iter().try_for_each(|c| limits.check(c))?;
        self.limits = limits;
        Ok(self)
    }

    /// The suite the environment chooses (see the module docs).
    pub fn from_env() -> Result<Self> {
        SuiteChoice::from_env()?.load()
    }
}

/// `default, full, ci`.
pub fn profile_names() -> String {
    PROFILES.map(|(name, _)| name).join(", ")
}

/// What the environment asked for, apart from reading it, so that every
/// combination can be tested without touching the process environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuiteChoice {
    /// `INFERBENCH_PROFILE`.
    pub profile: Option<String>,
    /// `INFERBENCH_SUITE`.
    pub file: Option<PathBuf>,
    /// `INFERBENCH_PERCENTILE`.
    pub percentile: Option<String>,
}

impl SuiteChoice {
    /// Reads the three variables; an empty one counts as unset, a non-UTF-8 one
    /// (other than the path) is an error.
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            profile: text_var(PROFILE_VAR)?,
            file: std::env::var_os(SUITE_VAR)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            percentile: text_var(PERCENTILE_VAR)?,
        })
    }

    /// Loads the chosen suite and applies the percentile override.
    pub fn load(&self) -> Result<Suite> {
        let mut suite = match (&self.file, &self.profile) {
            (Some(file), Some(profile)) => {
                return Err(Error::config(
                    SUITE_VAR,
                    format!(
                        "{} and {PROFILE_VAR}={profile} are both set; set one of them",
                        file.display()
                    ),
                ))
            }
            (Some(file), None) => Suite::from_file(file)?,
            (None, Some(profile)) => Suite::profile(profile)?,
            (None, None) => Suite::profile("default")?,
        };
        if let Some(text) = &self.percentile {
            suite.percentile = Percentile::parse_for(PERCENTILE_VAR, text)?;
        }
        Ok(suite)
    }

    /// Names the source in messages: `INFERBENCH_SUITE=my.toml` or `profile default`.
    pub fn describe(&self) -> String {
        match (&self.file, &self.profile) {
            (Some(file), _) => format!("{SUITE_VAR}={}", file.display()),
            (None, Some(profile)) => format!("{PROFILE_VAR}={profile}"),
            (None, None) => "profile default".into(),
        }
    }
}

/// The limits `INFERBENCH_MAX_DURATION` and `INFERBENCH_STALL_TIMEOUT` give
/// (`30s`, `10m`, `2h`); an unset one keeps its default.
pub fn limits_from_env() -> Result<RunLimits> {
    let var = |name: &'static str| {
        text_var(name)?
            .map(|text| {
                parse_limit(&text).ok_or_else(|| {
                    Error::config(
                        name,
                        format!("'{text}': expected a duration such as 30s, 10m or 2h"),
                    )
                })
            })
            .transpose()
    };
    let defaults = RunLimits::default();
    Ok(RunLimits {
        max_duration: var(MAX_DURATION_VAR)?.unwrap_or(defaults.max_duration),
        stall_timeout: var(STALL_TIMEOUT_VAR)?.or(defaults.stall_timeout),
    })
}

fn text_var(name: &'static str) -> Result<Option<String>> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|v: OsString| Error::config(name, format!("{v:?} is not valid UTF-8"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(model: &str, extra: &str) -> Result<Suite> {
        let text = format!("model = \"{model}\"\nbatch_sizes = [2]\nworkers = [1]\n{extra}");
        Suite::from_spec(SweepSpec::from_toml(&text, "test", None)?)
    }

    #[test]
    fn a_model_file_with_its_inputs_is_a_suite_and_a_missing_one_is_refused() {
        let file = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/models/ids_mask_tuple.pt"
        );
        let inputs = "inputs = [\"16:i64:0..100\", \"16:i64:0..2\"]\nintra_op_threads = [1, 2]\n";
        let ok = suite(&format!("torchscript:{file}"), inputs).unwrap();
        assert_eq!(ok.configs.len(), 2, "the threads axis: two groups");
        assert!(ok.configs[1]
            .id()
            .starts_with("torchscript:ids_mask_tuple.pt-16:i64:0..100"));
        let err = suite("torchscript:/nowhere/model.pt", inputs)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nowhere/model.pt: no such file"), "{err}");
        let err = suite("resnet1000", "").unwrap_err().to_string();
        assert!(err.contains("unknown model"), "{err}");
    }
}
