//! Tests of `request`: stamps, stages and wake-ups.

use super::*;

#[test]
fn stages_add_up_to_latency() {
    let mut s = Stamps::default();
    for (i, stamp) in Stamp::ALL.into_iter().enumerate() {
        s.set(stamp, 100 + (i as u64) * (i as u64) * 7);
    }
    let sum: u64 = Stage::ALL.iter().map(|&st| s.stage_ns(st).unwrap()).sum();
    assert_eq!(Some(sum), s.latency_ns());
}

#[test]
fn the_pipeline_scheme_is_the_pipelines_stages() {
    let scheme = StageScheme::Pipeline.stages();
    assert_eq!(scheme.len(), Stage::ALL.len());
    for (def, stage) in scheme.iter().zip(Stage::ALL) {
        assert_eq!(
            (def.0, def.1, def.2),
            (stage.name(), stage.bounds().0, stage.bounds().1)
        );
    }
    for scheme in [StageScheme::Pipeline, StageScheme::Remote] {
        let stages = scheme.stages();
        assert!(stages.len() <= MAX_STAGES);
        assert_eq!(stages.first().unwrap().1, Stamp::Intended);
        assert_eq!(stages.last().unwrap().2, Stamp::Received);
        assert!(
            stages.windows(2).all(|w| w[0].2 == w[1].1),
            "contiguous: {scheme:?}"
        );
        assert!(stages.iter().any(|s| s.0 == scheme.core_stage()));
    }
}

#[test]
fn a_wake_up_runs_from_the_later_of_ready_and_free_to_taken() {
    let mut s = Stamps::default();
    assert_eq!(s.wake_ns(Stamp::Dequeued), None, "not measured is not 0");
    s.set(Stamp::Sent, 100);
    // The thread was parked since 40: the request waited only for it to wake.
    s.took(Stamp::Sent, Stamp::Dequeued, 40, 130);
    assert_eq!(s.wake_ns(Stamp::Dequeued), Some(30));
    // The thread was busy until 170: 70 ns of queueing, then 5 of wake-up.
    s.took(Stamp::Sent, Stamp::Dequeued, 170, 175);
    assert_eq!(s.wake_ns(Stamp::Dequeued), Some(5));
    // A reading before both (a clock read out of order) is no wake-up, not a wrap.
    s.took(Stamp::Sent, Stamp::Dequeued, 170, 160);
    assert_eq!(s.wake_ns(Stamp::Dequeued), Some(0));
    assert_eq!(s.wake_ns(Stamp::Received), None);
}

#[test]
fn missing_or_reversed_stamps_give_none() {
    let mut s = Stamps::default();
    s.set(Stamp::Intended, 10);
    assert_eq!(s.latency_ns(), None);
    s.set(Stamp::Received, 5);
    assert_eq!(s.latency_ns(), None);
    s.set(Stamp::Received, 15);
    assert_eq!(s.latency_ns(), Some(5));
}

#[test]
fn clock_readings_are_positive_and_monotonic() {
    let c = RunClock::start();
    let a = c.now();
    let b = c.now();
    assert!(a >= 1 && b >= a);
}
