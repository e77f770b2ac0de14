//! The latency statistic a budget, a plot, a report or the criterion tail-latency
//! measurement refers to, with the one parser that flags (`--percentile`,
//! `--latency-pct`), TOML files and `INFERBENCH_PERCENTILE` all use, so that a name
//! one of them accepts is accepted by every other and means the same figure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::metrics::LatencySummary;

/// A latency percentile, or the mean.
///
/// Written as `mean`, `p50`, `p90`, `p95`, `p99` or `p99.9` (`p999` is read too,
/// since results files written before this parser existed spell it that way, and
/// records still serialise it as `p999` so that older readers keep working).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Percentile {
    /// The arithmetic mean.
    Mean,
    /// 50th percentile (the median).
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
}

impl Percentile {
    /// Every value, in the order help texts list them.
    pub const ALL: [Percentile; 6] = [
        Self::Mean,
        Self::P50,
        Self::P90,
        Self::P95,
        Self::P99,
        Self::P999,
    ];

    /// The accepted names, for error messages: `mean, p50, p90, p95, p99, p99.9`.
    pub fn valid_names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Parses a name (case and surrounding space ignored); the error lists the valid
    /// names and says which setting (`field`) was wrong.
    pub fn parse_for(field: &'static str, text: &str) -> Result<Self, Error> {
        let found = Self::ALL
            .into_iter()
            .find(|p| {
                let t = text.trim();
                t.eq_ignore_ascii_case(p.name()) || (*p == Self::P999 && t == "p999")
            })
            .ok_or_else(|| {
                Error::config(
                    field,
                    format!(
                        "'{text}' is not a percentile; expected one of {}",
                        Self::valid_names()
                    ),
                )
            })?;
        Ok(found)
    }

    /// The name as printed and as criterion's benchmark function name (`p99`, `p99.9`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::P999 => "p99.9",
        }
    }

    /// The quantile (0..1) of a percentile; `None` for the mean, which is no quantile.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Self::Mean => None,
            Self::P50 => Some(0.50),
            Self::P90 => Some(0.90),
            Self::P95 => Some(0.95),
            Self::P99 => Some(0.99),
            Self::P999 => Some(0.999),
        }
    }

    /// This statistic of one run's latency summary, ms.
    pub fn of_summary(self, s: &LatencySummary) -> f64 {
        match self {
            Self::Mean => s.mean,
            Self::P50 => s.p50,
            Self::P90 => s.p90,
            Self::P95 => s.p95,
            Self::P99 => s.p99,
            Self::P999 => s.p999,
        }
    }
}

impl FromStr for Percentile {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse_for("percentile", text)
    }
}

impl TryFrom<String> for Percentile {
    type Error = Error;

    fn try_from(text: String) -> Result<Self, Error> {
        text.parse()
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_itself() {
        for p in Percentile::ALL {
            assert_eq!(p.name().parse::<Percentile>().unwrap(), p);
            assert_eq!(p.to_string(), p.name());
        }
    }

    #[test]
    fn spellings_are_forgiving_only_where_unambiguous() {
        assert_eq!(" P99 ".parse::<Percentile>().unwrap(), Percentile::P99);
        assert_eq!("MEAN".parse::<Percentile>().unwrap(), Percentile::Mean);
        assert_eq!("p999".parse::<Percentile>().unwrap(), Percentile::P999);
        assert_eq!("p90".parse::<Percentile>().unwrap(), Percentile::P90);
    }

    #[test]
    fn unknown_names_are_refused_with_the_valid_list() {
        for bad in ["p98", "", "99", "p", "p99.99", "median", "p9 9"] {
            let err = Percentile::parse_for("INFERBENCH_PERCENTILE", bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("INFERBENCH_PERCENTILE")
                    && err.contains(&format!("'{bad}'"))
                    && err.contains("mean, p50, p90, p95, p99, p99.9"),
                "{err}"
            );
        }
    }

    #[test]
    fn quantiles_match_the_names() {
        assert_eq!(Percentile::Mean.quantile(), None);
        assert_eq!(Percentile::P90.quantile(), Some(0.90));
        assert_eq!(Percentile::P999.quantile(), Some(0.999));
    }

    #[test]
    fn serde_writes_the_old_spelling_and_reads_both() {
        #[derive(Serialize, Deserialize)]
        struct R {
            p: Percentile,
        }
        let json = serde_json::to_string(&R {
            p: Percentile::P999,
        })
        .unwrap();
        assert_eq!(json, r#"{"p":"p999"}"#);
        for text in [r#"{"p":"p999"}"#, r#"{"p":"p99.9"}"#] {
            assert_eq!(serde_json::from_str::<R>(text).unwrap().p, Percentile::P999);
        }
        let err = serde_json::from_str::<R>(r#"{"p":"p98"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("p98") && err.contains("p99.9"), "{err}");
    }
}
