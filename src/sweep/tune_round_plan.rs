//! The plan that pins a tune in rounds to its folder: `DIR/tune-plan.json`, written
//! on first use, holds what makes a search that search (grid, goal, seed, gain,
//! budget, until-stable), so that results of another search are never replayed into
//! this one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::shard::spec_hash;
use super::spec::SweepSpec;
use super::tune_options::TuneOptions;
use crate::config::RunConfig;
use crate::error::{Error, Result};

/// The search a round folder belongs to, written on first use.
const PLAN_FILE: &str = "tune-plan.json";
/// What pins a search: rounds replayed under anything else would be another search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Plan {
    sweep: String,
    spec_hash: String,
    goal: String,
    seed: u64,
    min_gain: f64,
    max_runs: Option<usize>,
    until_stable: Option<super::stable::UntilStable>,
}

/// Writes the plan on first use; refuses a folder that holds another search's.
pub(super) fn pin_plan(
    spec: &SweepSpec,
    opts: &TuneOptions,
    configs: &[RunConfig],
    dir: &Path,
) -> Result<()> {
    let plan = Plan {
        sweep: spec.name.clone(),
        spec_hash: spec_hash(&spec.name, spec.repeats, configs),
        goal: opts.goal.words(),
        seed: opts.seed,
        min_gain: opts.min_gain,
        max_runs: opts.max_runs,
        until_stable: spec.until_stable.clone(),
    };
    let path = dir.join(PLAN_FILE);
    if !path.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the round folder", dir, e))?;
        let text = serde_json::to_vec_pretty(&plan).expect("the plan serialises; this is a bug");
        return crate::results::file::write_atomically(&path, &text);
    }
    let text =
        std::fs::read(&path).map_err(|e| Error::io("cannot read the tune plan", &path, e))?;
    let pinned: Plan = serde_json::from_slice(&text).map_err(|e| {
        Error::config(
            "round-dir",
            format!("{}: not a tune plan ({e})", path.display()),
        )
    })?;
    if pinned != plan {
        return Err(Error::config(
            "round-dir",
            format!(
                "{} holds the rounds of another search ({}); this one is ({}): give the same \
                 grid, --goal, --seed, --min-gain-pct, --max-runs, --repeats, --iters and --until-stable, or a new folder",
                dir.display(),
                describe(&pinned),
                describe(&plan)
            ),
        ));
    }
    Ok(())
}

fn describe(p: &Plan) -> String {
    format!(
        "grid '{}' {}, {}, seed {}, gain {} %, max runs {}, {}",
        p.sweep,
        p.spec_hash,
        p.goal,
        p.seed,
        p.min_gain * 100.0,
        p.max_runs.map_or("none".into(), |m| m.to_string()),
        if p.until_stable.is_some() {
            "until stable"
        } else {
            "fixed counts"
        }
    )
}
