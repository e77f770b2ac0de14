//! `inferbench tune`'s search, as plain logic over an `eval` that measures one
//! point of the grid: coordinate hill climbing in the manner of Triton Model
//! Analyzer's quick search. From a start point it tries the neighbours (one step
//! along an ordered axis — batch size, workers, threads, batching limit — or any
//! other value of an unordered one — compile mode, streams, …), moves to the first
//! that beats the current point by more than `min_gain`, and stops at a point no
//! neighbour beats (a local optimum), when every point is measured, or when the
//! budget says so. The seed picks the start (seed 0: every axis's first value) and
//! the order the neighbours are tried in, so a search is repeatable for its seed.
//! Tests run it on made-up landscapes; `tune_run` measures the points.

use serde::{Deserialize, Serialize};

/// One axis of the space: how many values, and whether their order means
/// something (a neighbour is then one step away).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    /// Values on the axis.
    pub len: usize,
    /// Neighbours are ±1 step (numbers) rather than every other value (modes).
    pub ordered: bool,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// No neighbour of the best point beats it.
    LocalOptimum,
    /// The budget (runs or time) ran out.
    Budget,
    /// Every point of the space was measured.
    Exhausted,
}

/// One measured point, in the order measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// The point: an index into each axis.
    pub point: Vec<usize>,
    /// Its score (higher is better); `None`: it failed, did not settle or met no budget.
    pub score: Option<f64>,
    /// Whether the search moved here.
    pub moved: bool,
}

/// What the search did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// Every measured point, in order.
    pub visits: Vec<Visit>,
    /// The best point and its score; `None` when no point scored.
    pub best: Option<(Vec<usize>, f64)>,
    /// Why it stopped.
    pub stop: Stop,
}

impl Search {
    /// Nothing measured yet (a search that ends so stopped at a local optimum
    /// unless it says otherwise).
    pub(super) fn new() -> Self {
        Self {
            visits: Vec::new(),
            best: None,
            stop: Stop::LocalOptimum,
        }
    }
}

/// The grid's position of `point` (the first axis outermost, as a sweep expands it).
pub fn flat_index(axes: &[Axis], point: &[usize]) -> usize {
    axes.iter().zip(point).fold(0, |i, (a, &p)| i * a.len + p)
}

/// The point at grid position `index`.
pub fn point_of(axes: &[Axis], mut index: usize) -> Vec<usize> {
    let mut point = vec![0; axes.len()];
    for (k, a) in axes.iter().enumerate().rev() {
        point[k] = index % a.len;
        index /= a.len;
    }
    point
}

/// A small deterministic generator (splitmix64): the same seed, the same search.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The neighbours of `point`, in the seed's order.
pub(super) fn neighbours(axes: &[Axis], point: &[usize], rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for (k, a) in axes.iter().enumerate() {
        let values: Vec<usize> = if a.ordered {
            [point[k].checked_sub(1), Some(point[k] + 1)]
                .into_iter()
                .flatten()
                .filter(|&v| v < a.len)
                .collect()
        } else {
            (0..a.len).filter(|&v| v != point[k]).collect()
        };
        out.extend(values.into_iter().map(|v| {
            let mut n = point.to_vec();
            n[k] = v;
            n
        }));
    }
    rng.shuffle(&mut out);
    out
}

/// The seed's start: every axis's first value for seed 0, else a value of each
/// axis drawn from `rng` (the first value of an empty axis: such a grid has no
/// points, and the search ends at once).
pub(super) fn start_point(axes: &[Axis], seed: u64, rng: &mut Rng) -> Vec<usize> {
    match seed {
        0 => vec![0; axes.len()],
        _ => axes.iter().map(|a| rng.below(a.len.max(1))).collect(),
    }
}

/// The seed's start (see [`hill_climb`]).
pub fn seed_start(axes: &[Axis], seed: u64) -> Vec<usize> {
    start_point(axes, seed, &mut Rng(seed))
}

/// The seed's start and then its neighbours, in the order the search would try
/// them: the candidates a caller may screen (e.g. by a cheap upper bound of their
/// scores) to pick the start it hands to [`hill_climb_from`].
pub fn start_and_neighbours(axes: &[Axis], seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng(seed);
    let start = start_point(axes, seed, &mut rng);
    if axes.iter().any(|a| a.len == 0) {
        return Vec::new();
    }
    let mut out = vec![start.clone()];
    out.extend(neighbours(axes, &start, &mut rng));
    out
}

/// One more step from `to` in the direction `from → to` took, where that was a
/// single step along an ordered axis and the grid goes on.
fn onward(axes: &[Axis], from: &[usize], to: &[usize]) -> Option<Vec<usize>> {
    let mut changed = (0..axes.len()).filter(|&k| from[k] != to[k]);
    let k = changed.next()?;
    if changed.next().is_some() || !axes[k].ordered {
        return None;
    }
    let next = (2 * to[k]).checked_sub(from[k])?;
    (next < axes[k].len).then(|| {
        let mut p = to.to_vec();
        p[k] = next;
        p
    })
}

/// Hill climbing over `axes` from the seed's start. `eval(point, bar)` measures a
/// point; `out_of_budget(measured)` is asked before each measurement; a neighbour
/// must beat the current point by more than `min_gain` (a fraction, e.g. 0.02) to
/// move. `bar` is that score (`None` while no point has scored): a point that
/// cannot exceed it cannot change the search, so `eval` may stop measuring it once
/// that is known and answer `None`.
pub fn hill_climb<E>(
    axes: &[Axis],
    seed: u64,
    min_gain: f64,
    out_of_budget: impl FnMut(usize) -> bool,
    eval: impl FnMut(&[usize], Option<f64>) -> Result<Option<f64>, E>,
) -> Result<Search, E> {
    hill_climb_from(
        axes,
        (seed, seed_start(axes, seed)),
        min_gain,
        out_of_budget,
        eval,
    )
}

/// [`hill_climb`] from `start` instead of the seed's start; the seed still orders
/// the neighbours, exactly as it would from its own start, so a search is
/// repeatable for its seed and its start.
pub fn hill_climb_from<E>(
    axes: &[Axis],
    (seed, start): (u64, Vec<usize>),
    min_gain: f64,
    mut out_of_budget: impl FnMut(usize) -> bool,
    mut eval: impl FnMut(&[usize], Option<f64>) -> Result<Option<f64>, E>,
) -> Result<Search, E> {
    let mut rng = Rng(seed);
    let total: usize = axes.iter().map(|a| a.len).product();
    // Draw the seed's start all the same, so the neighbours come in the order
    // they come in from it.
    start_point(axes, seed, &mut rng);
    let mut search = Search::new();
    if total == 0 {
        search.stop = Stop::Exhausted;
        return Ok(search);
    }
    let measured = |s: &Search, p: &[usize]| s.visits.iter().any(|v| v.point == p);
    let mut current: Option<(Vec<usize>, Option<f64>)> = None;
    let mut queue = vec![start];
    loop {
        let Some(point) = queue.pop() else {
            search.stop = Stop::LocalOptimum;
            break;
        };
        if measured(&search, &point) {
            continue;
        }
        if search.visits.len() == total {
            search.stop = Stop::Exhausted;
            break;
        }
        if out_of_budget(search.visits.len()) {
            search.stop = Stop::Budget;
            break;
        }
        let bar = current
            .as_ref()
            .and_then(|(_, c)| c.map(|c| c * (1.0 + min_gain)));
        let score = eval(&point, bar)?;
        let beats = match (&current, score) {
            (None, _) => true,
            (Some((_, None)), Some(_)) => true,
            (Some((_, Some(c))), Some(s)) => s > c * (1.0 + min_gain),
            (Some(_), None) => false,
        };
        search.visits.push(Visit {
            point: point.clone(),
            score,
            moved: beats,
        });
        if let Some(s) = score {
            if search.best.as_ref().is_none_or(|(_, b)| s > *b) {
                search.best = Some((point.clone(), s));
            }
        }
        if beats {
            // First improvement: try the new point's neighbours next (the stack's
            // top is tried first, so they go in reversed), and first of all one
            // more step the way the last move went along an ordered axis (batch
            // sizes climb in a line, as Model Analyzer's quick search climbs them).
            queue = neighbours(axes, &point, &mut rng);
            queue.reverse();
            if let Some(ahead) = current
                .as_ref()
                .and_then(|(from, _)| onward(axes, from, &point))
            {
                queue.retain(|p| *p != ahead);
                queue.push(ahead);
            }
            current = Some((point, score));
        }
    }
    if search.visits.len() == total && search.stop != Stop::Budget {
        search.stop = Stop::Exhausted;
    }
    Ok(search)
}

#[cfg(test)]
#[path = "tune_tests.rs"]
pub(super) mod tests;

/// The axes of `spec`'s grid in the order [`SweepSpec::expand`] crosses them, so
/// that [`flat_index`] of a point is its position in the expanded grid. Numbers
/// (batch size, workers, batching limit, threads) are ordered; modes are not.
pub fn axes_of(spec: &super::spec::SweepSpec) -> Vec<Axis> {
    let n = |len: usize, ordered: bool| Axis { len, ordered };
    vec![
        n(spec.batch_sizes.len(), true),
        n(spec.compile.len(), false),
        n(spec.workers.len(), true),
        n(spec.streams.len(), false),
        n(spec.arrivals.len(), false),
        n(spec.max_batch_size.len(), true),
        n(spec.intra_op_threads.len().max(1), true),
        n(spec.devices.len(), false),
        n(spec.precisions.len(), false),
        n(spec.channels_last.len(), false),
        n(spec.quantize.len(), false),
    ]
}
