//! The `tune` record: the path a search took, why it stopped, its best point, and
//! the paragraph that explains it (printed, and repeated by `report`).

use std::time::Duration;

use super::record::{SweepEnvironment, TuneRecord};
use super::spec::SweepSpec;
use super::tune::{axes_of, flat_index, Search, Stop};
use super::tune_options::TuneOptions;

/// How long a search took: its wall time, or, in rounds run as separate jobs, the
/// number of rounds (no one process saw the whole wall time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// One process ran the whole search.
    Wall(Duration),
    /// Rounds of shards.
    Rounds(usize),
}

pub(super) fn tune_record(
    spec: &SweepSpec,
    opts: &TuneOptions,
    (search, screened): (&Search, &[(String, Option<f64>)]),
    configs: &[crate::config::RunConfig],
    timing: Timing,
    env: SweepEnvironment,
) -> TuneRecord {
    let axes = axes_of(spec);
    let id = |p: &[usize]| configs[flat_index(&axes, p)].id();
    let path: Vec<(String, Option<f64>, bool)> = search
        .visits
        .iter()
        .map(|v| (id(&v.point), v.score, v.moved))
        .collect();
    let best = search.best.as_ref().map(|(p, s)| (id(p), *s));
    let mut text = explain(spec, opts, search, &path, &best, timing, configs.len());
    if !screened.is_empty() {
        text = format!("{} {text}", screen_words(screened));
    }
    TuneRecord {
        sweep: spec.name.clone(),
        goal: opts.goal.words(),
        strategy: match (opts.grid, timing) {
            (true, _) => "grid",
            (false, Timing::Wall(_)) => "hill",
            (false, Timing::Rounds(_)) => "rounds",
        }
        .into(),
        seed: opts.seed,
        grid_size: configs.len(),
        path,
        best,
        stop: search.stop,
        text,
        wall_s: match timing {
            Timing::Wall(w) => Some(w.as_secs_f64()),
            Timing::Rounds(_) => None,
        },
        rounds: match timing {
            Timing::Rounds(n) => Some(n),
            Timing::Wall(_) => None,
        },
        screen: screened.to_vec(),
        env,
    }
}

/// The start's screen in words (see [`super::tune_screen`]).
fn screen_words(screened: &[(String, Option<f64>)]) -> String {
    let each: Vec<String> = screened
        .iter()
        .map(|(id, c)| match c {
            Some(c) => format!("`{id}` {c:.1}"),
            None => format!("`{id}` failed"),
        })
        .collect();
    format!(
        "Screened by burst capacity (samples/s), the seed's start first: {}; the search starts at the highest where it is at least {} × the seed's start's.",
        each.join(", "),
        super::tune_screen::MOVE_MARGIN
    )
}

/// The search in words: where it started, each move, why it stopped, what it found.
fn explain(
    spec: &SweepSpec,
    opts: &TuneOptions,
    search: &Search,
    path: &[(String, Option<f64>, bool)],
    best: &Option<(String, f64)>,
    timing: Timing,
    grid: usize,
) -> String {
    let score = |s: Option<f64>| s.map_or("no score".into(), |s| format!("{s:.1} samples/s"));
    let mut text = format!("Tune '{}' for {}", spec.name, opts.goal.words());
    if opts.grid {
        text.push_str(": every configuration of the grid, in order.");
    } else {
        let moves: Vec<String> = path
            .iter()
            .filter(|p| p.2)
            .map(|(id, s, _)| format!("`{id}` ({})", score(*s)))
            .collect();
        let how = match timing {
            Timing::Wall(_) => "hill climbing",
            Timing::Rounds(_) => "hill climbing in rounds of every neighbour",
        };
        text.push_str(&format!(
            " ({how}, seed {}, a move needs +{} %): {}.",
            opts.seed,
            opts.min_gain * 100.0,
            match moves.split_first() {
                Some((start, rest)) if !rest.is_empty() =>
                    format!("started at {start}, moved to {}", rest.join(", then ")),
                Some((start, _)) => format!("started at {start} and never moved"),
                None => "measured nothing".into(),
            }
        ));
    }
    let why = match search.stop {
        Stop::LocalOptimum => "no neighbour of the best point beats it (a local optimum)",
        Stop::Budget => "the budget ran out",
        Stop::Exhausted => "every configuration was measured",
    };
    let took = match timing {
        Timing::Wall(w) => format!("{:.0} s", w.as_secs_f64()),
        Timing::Rounds(1) => "1 round".into(),
        Timing::Rounds(n) => format!("{n} rounds"),
    };
    text.push_str(&format!(
        " Stopped because {why}, after measuring {} of {grid} configurations in {took}.",
        path.len()
    ));
    match best {
        Some((id, s)) => text.push_str(&format!(" **Best: `{id}`, {s:.1} samples/s.**")),
        None => text.push_str(
            " **No configuration scored** (each failed, did not settle or met no budget).",
        ),
    }
    text
}
