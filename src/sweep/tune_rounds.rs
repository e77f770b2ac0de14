//! `inferbench tune` in rounds, for machines that measure in parallel (the shards of
//! a Kubernetes Indexed Job): steepest-ascent hill climbing. Round 0 is the seed's
//! start; each later round is every neighbour of the current point not yet measured,
//! all measured at once (cut into shards); the search then moves to the round's best
//! if it beats the current point by more than `min_gain`, and stops where no round
//! does (a local optimum), when no neighbour is left to measure, or at `max_runs`.
//!
//! Nothing here remembers a round: [`next_round`] replays the search from the scores
//! measured so far (`known`) and answers either the first round with a point still
//! unmeasured or the finished search. Every machine that reads the same results
//! computes the same round, so shards need no coordinator, and a round cut short
//! (a pod that died) is simply still pending.
//!
//! The sequential search ([`super::tune::hill_climb`]) moves at its first
//! improvement and measures fewer points; this one measures a whole round to move
//! once, and trades points for wall time when the round's shards run side by side.

use super::tune::{neighbours, start_point, Axis, Rng, Search, Stop, Visit};

/// What the search needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Round {
    /// Round `number` (from 0) is not fully measured: these are all its points, in
    /// the seed's order (the shards cut this list), and the score a point must beat
    /// to move the search (`None` while no point has scored).
    Pending {
        /// The round, from 0.
        number: usize,
        /// Every point of the round, measured or not.
        points: Vec<Vec<usize>>,
        /// The score to beat.
        bar: Option<f64>,
    },
    /// The search is over.
    Done {
        /// What it measured and found.
        search: Search,
        /// Rounds it took.
        rounds: usize,
    },
}

/// Replays the search over `axes` from the seed's start with the scores measured so
/// far: `known(point)` is `None` for a point not measured yet, `Some(score)` for one
/// that was (`Some(None)`: it failed, did not settle, met no budget or could not
/// beat its bar). `max_runs` caps the points measured in all.
pub fn next_round(
    axes: &[Axis],
    seed: u64,
    min_gain: f64,
    max_runs: Option<usize>,
    known: impl Fn(&[usize]) -> Option<Option<f64>>,
) -> Round {
    let total: usize = axes.iter().map(|a| a.len).product();
    let mut search = Search::new();
    if total == 0 {
        search.stop = Stop::Exhausted;
        return Round::Done { search, rounds: 0 };
    }
    let mut rng = Rng(seed);
    let mut round = vec![start_point(axes, seed, &mut rng)];
    let mut current: Option<(Vec<usize>, Option<f64>)> = None;
    let mut number = 0;
    loop {
        let left = max_runs.map(|m| m.saturating_sub(search.visits.len()));
        let cut = left.is_some_and(|l| l < round.len());
        round.truncate(left.unwrap_or(usize::MAX));
        if round.is_empty() {
            search.stop = if search.visits.len() == total {
                Stop::Exhausted
            } else if left == Some(0) {
                Stop::Budget
            } else {
                Stop::LocalOptimum
            };
            return Round::Done {
                search,
                rounds: number,
            };
        }
        let bar = current
            .as_ref()
            .and_then(|(_, c)| c.map(|c| c * (1.0 + min_gain)));
        if round.iter().any(|p| known(p).is_none()) {
            return Round::Pending {
                number,
                points: round,
                bar,
            };
        }
        let best_in_round = record_round(&mut search, &round, &known);
        // Round 0 is the start: the search stands there whatever it scored. Later,
        // the round's best moves it if it beats the current point (any score beats
        // none).
        let to = match (&current, best_in_round) {
            (None, _) => Some(0),
            (Some((_, None)), Some((i, _))) => Some(i),
            (Some((_, Some(c))), Some((i, s))) if s > c * (1.0 + min_gain) => Some(i),
            _ => None,
        };
        let Some(i) = to else {
            search.stop = if cut {
                Stop::Budget
            } else if search.visits.len() == total {
                Stop::Exhausted
            } else {
                Stop::LocalOptimum
            };
            return Round::Done {
                search,
                rounds: number + 1,
            };
        };
        let first = search.visits.len() - round.len();
        search.visits[first + i].moved = true;
        let point = round[i].clone();
        current = Some((point.clone(), search.visits[first + i].score));
        round = neighbours(axes, &point, &mut rng)
            .into_iter()
            .filter(|p| !search.visits.iter().any(|v| v.point == *p))
            .collect();
        number += 1;
    }
}

/// Appends `round`'s measured points to `search` (updating its best) and returns
/// the position in `round` and the score of the round's best point, if any scored
/// (the first of equals, in the round's order).
fn record_round(
    search: &mut Search,
    round: &[Vec<usize>],
    known: &impl Fn(&[usize]) -> Option<Option<f64>>,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, point) in round.iter().enumerate() {
        let score = known(point).expect("every point of the round is measured");
        if let Some(s) = score {
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
            if search.best.as_ref().is_none_or(|(_, b)| s > *b) {
                search.best = Some((point.clone(), s));
            }
        }
        search.visits.push(Visit {
            point: point.clone(),
            score,
            moved: false,
        });
    }
    best
}

#[cfg(test)]
#[path = "tune_rounds_tests.rs"]
mod tests;
