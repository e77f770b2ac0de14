use std::collections::HashMap;

use super::super::tune::tests::{modes, ordered};
use super::*;

/// One peak at (3, 1, mode 2): the sequential search's landscape.
fn peak(p: &[usize]) -> Option<f64> {
    super::super::tune::tests::peak(p, None).expect("the landscape always scores")
}

/// The points the search moved to, in order, with their scores.
fn moves(search: &Search) -> Vec<f64> {
    search
        .visits
        .iter()
        .filter(|v| v.moved)
        .map(|v| v.score.unwrap())
        .collect()
}

/// Runs the rounds to the end as the shards would: each pending round's points are
/// measured with `score` (told the round's bar) and added to what is known. Returns
/// the finished search, its rounds, and each round's points and bar as they came.
#[allow(clippy::type_complexity)]
fn run_rounds(
    axes: &[Axis],
    seed: u64,
    max_runs: Option<usize>,
    score: impl Fn(&[usize], Option<f64>) -> Option<f64>,
) -> (Search, usize, Vec<(Vec<Vec<usize>>, Option<f64>)>) {
    let mut known: HashMap<Vec<usize>, Option<f64>> = HashMap::new();
    let mut asked = Vec::new();
    loop {
        match next_round(axes, seed, 0.02, max_runs, |p| known.get(p).copied()) {
            Round::Pending {
                number,
                points,
                bar,
            } => {
                assert_eq!(number, asked.len(), "rounds come in order, none repeated");
                for p in &points {
                    known.insert(p.clone(), score(p, bar));
                }
                asked.push((points, bar));
            }
            Round::Done { search, rounds } => return (search, rounds, asked),
        }
    }
}

#[test]
fn every_seed_reaches_a_single_peak_in_rounds_of_unmeasured_neighbours() {
    let axes = [ordered(6), ordered(3), modes(3)];
    for seed in 0..20 {
        let (search, rounds, asked) = run_rounds(&axes, seed, None, |p, _| peak(p));
        assert_eq!(
            search.best.as_ref().unwrap().0,
            vec![3, 1, 2],
            "seed {seed}"
        );
        assert_eq!(search.stop, Stop::LocalOptimum, "seed {seed}");
        assert_eq!(rounds, asked.len(), "seed {seed}");
        assert_eq!(asked[0].0.len(), 1, "round 0 is the start alone");
        // No point is measured twice, and the visits are the rounds in order.
        let flat: Vec<Vec<usize>> = asked.iter().flat_map(|r| r.0.clone()).collect();
        let unique: std::collections::BTreeSet<_> = flat.iter().collect();
        assert_eq!(unique.len(), flat.len(), "seed {seed}");
        let visited: Vec<Vec<usize>> = search.visits.iter().map(|v| v.point.clone()).collect();
        assert_eq!(visited, flat, "seed {seed}");
        // Each round after the first holds neighbours of the point moved to last.
        // Moves only go up, one per round but the last.
        let moved = moves(&search);
        assert_eq!(moved.len(), rounds - 1, "seed {seed}");
        assert!(moved.windows(2).all(|w| w[1] > w[0]), "{moved:?}");
        assert!(flat.len() < 54, "seed {seed}: {}", flat.len());
    }
}

#[test]
fn a_round_is_told_the_current_points_score_with_the_gain_as_its_bar() {
    let axes = [ordered(6), ordered(3), modes(3)];
    let (search, _, asked) = run_rounds(&axes, 0, None, |p, _| peak(p));
    assert_eq!(asked[0].1, None);
    let moved = moves(&search);
    for (round, current) in asked[1..].iter().zip(&moved) {
        assert!((round.1.unwrap() - current * 1.02).abs() < 1e-9);
    }
}

#[test]
fn a_round_with_a_point_unmeasured_is_pending_again_whoever_asks() {
    let axes = [ordered(4), modes(2)];
    let mut known: HashMap<Vec<usize>, Option<f64>> = HashMap::new();
    known.insert(vec![0, 0], Some(10.0));
    let first = next_round(&axes, 0, 0.02, None, |p| known.get(p).copied());
    let Round::Pending {
        number,
        points,
        bar,
    } = first.clone()
    else {
        panic!("{first:?}")
    };
    assert_eq!((number, bar), (1, Some(10.2)));
    let mut sorted = points.clone();
    sorted.sort();
    assert_eq!(sorted, vec![vec![0, 1], vec![1, 0]]);
    // One of the two measured (a shard finished, the other died): still round 1.
    known.insert(points[0].clone(), Some(5.0));
    let again = next_round(&axes, 0, 0.02, None, |p| known.get(p).copied());
    assert_eq!(again, first);
}

#[test]
fn a_start_that_scores_nothing_moves_to_any_neighbour_that_scores() {
    let axes = [ordered(3), modes(2)];
    let score = |p: &[usize], _bar: Option<f64>| (p != [0, 0]).then(|| 1.0 + p[0] as f64);
    let (search, _, asked) = run_rounds(&axes, 0, None, score);
    assert_eq!(asked[1].1, None, "no score yet, so no bar");
    assert_eq!(search.best.unwrap().0, vec![2, 0]);
    assert!(search.visits[0].moved && search.visits[0].score.is_none());
}

#[test]
fn the_budget_cuts_the_last_round_and_says_so() {
    let axes = [ordered(6), ordered(3), modes(3)];
    let (search, _, asked) = run_rounds(&axes, 0, Some(3), |p, _| peak(p));
    assert_eq!(search.visits.len(), 3);
    assert_eq!(search.stop, Stop::Budget);
    assert_eq!(asked.iter().map(|r| r.0.len()).sum::<usize>(), 3);
}

#[test]
fn a_flat_grid_is_measured_whole_and_said_to_be_exhausted() {
    let axes = [ordered(2), modes(2)];
    let (search, _, _) = run_rounds(&axes, 0, None, |p, _| Some(1.0 + (p[0] + p[1]) as f64));
    assert_eq!(search.visits.len(), 4);
    assert_eq!(search.stop, Stop::Exhausted);
    assert_eq!(search.best.unwrap().0, vec![1, 1]);
}
