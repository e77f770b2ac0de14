use super::*;

pub(crate) fn ordered(len: usize) -> Axis {
    Axis { len, ordered: true }
}

pub(crate) fn modes(len: usize) -> Axis {
    Axis {
        len,
        ordered: false,
    }
}

/// A landscape with one peak at (3, 1, mode 2): ordered axes fall away from it,
/// and the mode axis scales it.
pub(crate) fn peak(p: &[usize], _bar: Option<f64>) -> Result<Option<f64>, ()> {
    let d = (p[0] as f64 - 3.0).powi(2) + (p[1] as f64 - 1.0).powi(2);
    let mode = [0.7, 0.9, 1.0][p[2]];
    Ok(Some(100.0 * mode / (1.0 + d)))
}

#[test]
fn grid_positions_round_trip_in_sweep_order() {
    let axes = [ordered(3), modes(2), ordered(2)];
    assert_eq!(flat_index(&axes, &[0, 0, 1]), 1);
    assert_eq!(flat_index(&axes, &[1, 0, 0]), 4);
    for i in 0..12 {
        assert_eq!(flat_index(&axes, &point_of(&axes, i)), i);
    }
}

#[test]
fn every_seed_climbs_to_a_single_peak_measuring_part_of_the_grid() {
    let axes = [ordered(6), ordered(3), modes(3)];
    for seed in 0..20 {
        let s = hill_climb(&axes, seed, 0.0, |_| false, peak).unwrap();
        assert_eq!(s.best.as_ref().unwrap().0, vec![3, 1, 2], "seed {seed}");
        assert_eq!(s.stop, Stop::LocalOptimum);
        assert!(s.visits.len() < 54, "seed {seed}: {}", s.visits.len());
        // The moves only ever go up.
        let moved: Vec<f64> = s
            .visits
            .iter()
            .filter(|v| v.moved)
            .map(|v| v.score.unwrap())
            .collect();
        assert!(moved.windows(2).all(|w| w[1] > w[0]), "{moved:?}");
    }
}

#[test]
fn a_seed_gives_the_same_search_and_seeds_differ() {
    let axes = [ordered(6), ordered(3), modes(3)];
    let a = hill_climb(&axes, 7, 0.0, |_| false, peak).unwrap();
    let b = hill_climb(&axes, 7, 0.0, |_| false, peak).unwrap();
    assert_eq!(a, b);
    let starts: std::collections::BTreeSet<Vec<usize>> = (0..5)
        .map(|seed| {
            hill_climb(&axes, seed, 0.0, |_| false, peak)
                .unwrap()
                .visits[0]
                .point
                .clone()
        })
        .collect();
    assert!(starts.len() > 1);
    assert_eq!(
        hill_climb(&axes, 0, 0.0, |_| false, peak).unwrap().visits[0].point,
        vec![0, 0, 0]
    );
}

#[test]
fn the_budget_stops_the_search_after_that_many_runs() {
    let axes = [ordered(6), ordered(3), modes(3)];
    let s = hill_climb(&axes, 0, 0.0, |n| n >= 3, peak).unwrap();
    assert_eq!(s.visits.len(), 3);
    assert_eq!(s.stop, Stop::Budget);
}

#[test]
fn a_small_space_is_exhausted_and_failed_points_never_win() {
    let axes = [ordered(2)];
    let s = hill_climb(
        &axes,
        0,
        0.0,
        |_| false,
        |p, _| Ok::<_, ()>(if p[0] == 0 { None } else { Some(1.0) }),
    )
    .unwrap();
    assert_eq!(s.stop, Stop::Exhausted);
    assert_eq!(s.best, Some((vec![1], 1.0)));
    let none = hill_climb(&axes, 0, 0.0, |_| false, |_, _| Ok::<_, ()>(None)).unwrap();
    assert_eq!(none.best, None);
}

#[test]
fn a_gain_within_min_gain_does_not_move_the_search() {
    // Flat within 1 %: with a 2 % threshold the start is the optimum.
    let axes = [ordered(5)];
    let s = hill_climb(
        &axes,
        0,
        0.02,
        |_| false,
        |p, _| Ok::<_, ()>(Some(100.0 + p[0] as f64 * 0.5)),
    )
    .unwrap();
    assert_eq!(s.visits.len(), 2);
    assert_eq!(s.stop, Stop::LocalOptimum);
    assert_eq!(s.visits.iter().filter(|v| v.moved).count(), 1);
}

#[test]
fn errors_from_a_measurement_end_the_search() {
    let axes = [ordered(3)];
    let r = hill_climb(
        &axes,
        0,
        0.0,
        |_| false,
        |p, _| {
            if p[0] == 1 {
                Err("boom")
            } else {
                Ok(Some(1.0))
            }
        },
    );
    assert_eq!(r.unwrap_err(), "boom");
}

#[test]
fn the_axes_of_a_sweep_index_its_expanded_grid() {
    let spec = crate::sweep::spec::SweepSpec {
        intra_op_threads: vec![1, 2],
        ..crate::sweep::spec::SweepSpec::quick()
    };
    let configs = spec.expand().unwrap();
    let axes = axes_of(&spec);
    assert_eq!(axes.iter().map(|a| a.len).product::<usize>(), configs.len());
    // batch 16 (index 2), torchscript (1), 2 workers (1), 2 threads (1).
    let p = [2, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0];
    let c = &configs[flat_index(&axes, &p)];
    assert_eq!(c.load.batch_size, 16);
    assert_eq!(c.model.compile, crate::config::CompileMode::Torchscript);
    assert_eq!(c.backend.workers, 2);
    assert_eq!(c.backend.intra_op_threads, Some(2));
}

#[test]
fn a_move_along_an_ordered_axis_tries_the_next_step_first() {
    // Throughput grows with the batch axis; workers do nothing. From the start the
    // search should walk the batch axis in a line: after its first batch move,
    // each next point measured is the next batch size.
    let axes = [ordered(6), ordered(2)];
    let s = hill_climb(
        &axes,
        0,
        0.0,
        |_| false,
        |p, _| Ok::<_, ()>(Some(1.0 + p[0] as f64)),
    )
    .unwrap();
    assert_eq!(s.best.as_ref().unwrap().0[0], 5);
    let first_batch_move = s
        .visits
        .iter()
        .position(|v| v.moved && v.point[0] == 1)
        .unwrap();
    let batches: Vec<usize> = s.visits[first_batch_move..]
        .iter()
        .take(5)
        .map(|v| v.point[0])
        .collect();
    assert_eq!(batches, vec![1, 2, 3, 4, 5]);
}

#[test]
fn each_point_is_told_the_score_it_must_beat_to_move_the_search() {
    // Scores 10, 20, 30 along one axis, 10 % needed to move: the start is told no bar,
    // each next point the current one's score + 10 %.
    let axes = [ordered(3)];
    let mut bars = Vec::new();
    let s = hill_climb(
        &axes,
        0,
        0.1,
        |_| false,
        |p, bar| {
            bars.push(bar);
            Ok::<_, ()>(Some(10.0 * (p[0] + 1) as f64))
        },
    )
    .unwrap();
    assert_eq!(s.best.unwrap().0, vec![2]);
    let expected = [None, Some(11.0), Some(22.0)];
    assert_eq!(bars.len(), 3);
    for (bar, want) in bars.iter().zip(expected) {
        assert_eq!(
            bar.map(|b| (b * 1e9).round()),
            want.map(|w| (w * 1e9_f64).round())
        );
    }
}

#[test]
fn the_screened_candidates_are_the_seeds_start_then_its_neighbours_in_the_searchs_order() {
    let axes = [ordered(6), ordered(3), modes(3)];
    for seed in 0..5 {
        let candidates = start_and_neighbours(&axes, seed);
        let s = hill_climb(&axes, seed, 0.0, |_| false, peak).unwrap();
        assert_eq!(candidates[0], s.visits[0].point, "seed {seed}");
        assert_eq!(candidates[0], seed_start(&axes, seed));
        // Every candidate but the start is one step away from it.
        for c in &candidates[1..] {
            let differ = (0..3).filter(|&k| c[k] != candidates[0][k]).count();
            assert_eq!(differ, 1, "seed {seed}: {c:?}");
        }
        // The search tries them in this order from the start (the landscape's
        // start is never its peak, so the first neighbour is measured next).
        assert_eq!(candidates[1], s.visits[1].point, "seed {seed}");
    }
    assert!(start_and_neighbours(&[ordered(0), modes(2)], 3).is_empty());
}

#[test]
fn a_search_from_a_given_start_begins_there_and_keeps_the_seeds_order() {
    let axes = [ordered(6), ordered(3), modes(3)];
    for seed in 0..5 {
        let own = hill_climb(&axes, seed, 0.0, |_| false, peak).unwrap();
        let same =
            hill_climb_from(&axes, (seed, seed_start(&axes, seed)), 0.0, |_| false, peak).unwrap();
        assert_eq!(own, same, "seed {seed}");
        let elsewhere =
            hill_climb_from(&axes, (seed, vec![5, 2, 0]), 0.0, |_| false, peak).unwrap();
        assert_eq!(elsewhere.visits[0].point, vec![5, 2, 0]);
        assert_eq!(elsewhere.best.unwrap().0, vec![3, 1, 2], "seed {seed}");
    }
}
