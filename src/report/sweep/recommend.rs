//! Which configuration to serve with, under a constraint (perflab's three):
//!
//! - `latency`: the highest throughput whose chosen percentile is within the budget;
//! - `throughput`: the highest throughput, whatever the latency;
//! - `balanced`: the highest throughput per millisecond of the chosen percentile.
//!
//! Figures are means over repeats; when the runner-up is within the repeats' noise
//! of the winner the recommendation says so, since then the two are a tie that one
//! sweep cannot break.

use crate::error::{Error, Result};
use crate::sweep::record::{ConfigRecord, Percentile, Stat, Status};

/// What the user optimises for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// Best throughput within a latency budget.
    Latency,
    /// Best throughput.
    Throughput,
    /// Best throughput per ms of latency.
    Balanced,
}

impl Constraint {
    /// Parses `latency`, `throughput` or `balanced`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "latency" => Ok(Self::Latency),
            "throughput" => Ok(Self::Throughput),
            "balanced" => Ok(Self::Balanced),
            other => Err(Error::config(
                "constraint",
                format!("'{other}'; expected latency, throughput or balanced"),
            )),
        }
    }

    /// The name as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Latency => "latency",
            Self::Throughput => "throughput",
            Self::Balanced => "balanced",
        }
    }
}

/// The constraint with its percentile and budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// What to optimise.
    pub constraint: Constraint,
    /// The latency figure the budget and `balanced` refer to. Default p95 (perflab's).
    pub percentile: Percentile,
    /// The latency budget, ms; required by `latency`.
    pub budget_ms: Option<f64>,
}

impl Goal {
    /// Checks that the constraint has what it needs.
    pub fn validate(&self) -> Result<()> {
        match (self.constraint, self.budget_ms) {
            (Constraint::Latency, None) => Err(Error::config(
                "latency-budget-ms",
                "the latency constraint needs a budget, e.g. --latency-budget-ms 50",
            )),
            (_, Some(b)) => crate::sweep::curve::check_budget_ms(b).map(drop),
            _ => Ok(()),
        }
    }
}

/// The outcome: the chosen configuration (an index into the records given) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The chosen configuration; `None` when none qualifies (all over budget, or none ran).
    pub chosen: Option<usize>,
    /// The next best under the same rule.
    pub runner_up: Option<usize>,
    /// Whether the runner-up is within the noise of the repeats.
    pub tie: bool,
    /// The reasoning, one or two sentences of markdown.
    pub text: String,
}

/// A configuration's score under the goal, with its relative error from the repeats'
/// standard deviations.
fn score(c: &ConfigRecord, goal: &Goal) -> Option<(f64, f64)> {
    let f = c.figures.as_ref()?;
    let rel = |s: &Stat| if s.mean > 0.0 { s.std / s.mean } else { 0.0 };
    let tput = &f.throughput_samples_per_s;
    let lat = f.latency_ms.get(goal.percentile);
    match goal.constraint {
        Constraint::Latency | Constraint::Throughput => Some((tput.mean, rel(tput))),
        Constraint::Balanced => Some((
            tput.mean / lat.mean.max(f64::MIN_POSITIVE),
            rel(tput).hypot(rel(lat)),
        )),
    }
}

fn qualifies(c: &ConfigRecord, goal: &Goal) -> bool {
    let Some(f) = c.figures.as_ref() else {
        return false;
    };
    // A figure that did not settle is no figure to rank.
    if c.status != Status::Ok || c.settled == Some(false) {
        return false;
    }
    match (goal.constraint, goal.budget_ms) {
        (Constraint::Latency, Some(budget)) => f.latency_ms.get(goal.percentile).mean <= budget,
        _ => true,
    }
}

/// Picks the configuration for `goal` among the configurations that ran.
pub fn recommend(configs: &[ConfigRecord], goal: &Goal) -> Result<Recommendation> {
    goal.validate()?;
    let mut ranked: Vec<(usize, f64, f64)> = configs
        .iter()
        .enumerate()
        .filter(|(_, c)| qualifies(c, goal))
        .filter_map(|(k, c)| score(c, goal).map(|(s, e)| (k, s, e)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let Some(&(best, best_score, best_err)) = ranked.first() else {
        return Ok(nothing_qualifies(configs, goal));
    };
    let runner_up = ranked.get(1).copied();
    let tie = runner_up.is_some_and(|(_, s, e)| best_score - s <= best_score * best_err.hypot(e));
    let mut text = explain(configs, goal, best, runner_up.map(|r| r.0), tie);
    text.push_str(&unsettled_note(configs));
    Ok(Recommendation {
        chosen: Some(best),
        runner_up: runner_up.map(|r| r.0),
        tie,
        text,
    })
}

fn figures_line(c: &ConfigRecord, goal: &Goal) -> String {
    let f = c
        .figures
        .as_ref()
        .expect("only configurations with figures are ranked; this is a bug");
    let t = &f.throughput_samples_per_s;
    let l = f.latency_ms.get(goal.percentile);
    format!(
        "{:.1} ± {:.1} samples/s, {} {:.2} ± {:.2} ms",
        t.mean,
        t.std,
        goal.percentile.name(),
        l.mean,
        l.std
    )
}

fn explain(
    configs: &[ConfigRecord],
    goal: &Goal,
    best: usize,
    runner_up: Option<usize>,
    tie: bool,
) -> String {
    let c = &configs[best];
    let rule = match goal.constraint {
        Constraint::Latency => format!(
            "the highest throughput with {} ≤ {} ms",
            goal.percentile.name(),
            goal.budget_ms.unwrap_or_default()
        ),
        Constraint::Throughput => "the highest throughput".to_string(),
        Constraint::Balanced => format!(
            "the highest throughput per ms of {}",
            goal.percentile.name()
        ),
    };
    let mut text = format!("**`{}`**: {rule}: {}.", c.id, figures_line(c, goal));
    if let Some(r) = runner_up {
        let verdict = if tie {
            "within the repeats' noise, so the two are a tie this sweep cannot break"
        } else {
            "behind by more than the repeats' noise"
        };
        text.push_str(&format!(
            " Runner-up `{}` ({}) is {verdict}.",
            configs[r].id,
            figures_line(&configs[r], goal)
        ));
    }
    text
}

/// Names the configurations left out because their figures did not settle.
pub fn unsettled_note(configs: &[ConfigRecord]) -> String {
    let ids: Vec<String> = configs
        .iter()
        .filter(|c| c.settled == Some(false))
        .map(|c| format!("`{}`", c.id))
        .collect();
    match ids.len() {
        0 => String::new(),
        n => format!(
            " {n} configuration(s) did not settle and were not ranked: {}.",
            ids.join(", ")
        ),
    }
}

fn nothing_qualifies(configs: &[ConfigRecord], goal: &Goal) -> Recommendation {
    let fastest = configs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.status == Status::Ok && c.figures.is_some() && c.settled != Some(false))
        .min_by(|a, b| {
            let lat = |c: &ConfigRecord| {
                c.figures
                    .as_ref()
                    .map_or(f64::INFINITY, |f| f.latency_ms.get(goal.percentile).mean)
            };
            lat(a.1).total_cmp(&lat(b.1))
        });
    let text = match (fastest, goal.budget_ms) {
        (None, _) => "No configuration ran successfully, so there is nothing to recommend.".into(),
        (Some((_, c)), Some(budget)) => format!(
            "**No configuration meets {} ≤ {budget} ms.** The lowest is `{}` ({}); raise the budget or try smaller batches, more workers or a faster device.",
            goal.percentile.name(),
            c.id,
            figures_line(c, goal)
        ),
        (Some(_), None) => "No configuration qualifies.".into(),
    } + &unsettled_note(configs);
    Recommendation {
        chosen: None,
        runner_up: None,
        tie: false,
        text,
    }
}
