//! How the model's forward scales with libtorch's intra-op threads on this machine,
//! before any pipeline is built around it: the bare forward at 1, 2, … N threads.
//!
//! The loop runs on one thread, as a Python script's `model(x)` loop runs on its
//! interpreter's thread, so that its figure can be set beside PyTorch eager's
//! (`scripts/gpu/pytorch_reference.py --device cpu --threads 1,2`) with nothing of
//! inferbench's own around it: a thread of its own, which the calling thread only
//! watches, parked, for `run`'s time limits (a forward that stops returning ends
//! the calibration with an error instead of hanging it). The thread counts are
//! measured in turns (1, 2, … N, then again), so that a machine drifting faster or
//! slower moves every count alike; each count's figure is the median of its turns.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError};

use super::inputs::InputPool;
use crate::config::limits::{human, RunLimits};
use crate::config::RunConfig;
use crate::device::{self, ComputeDevice};
use crate::error::{Error, Result};
use crate::metrics::median;
use crate::model::{prepare, Batches, Forward, PreparedModel};

/// One thread count's measurements.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ThreadPoint {
    /// Intra-op threads.
    pub threads: u32,
    /// Median samples/s over the turns.
    pub samples_per_s: f64,
    /// Each turn's samples/s, in order.
    pub turns: Vec<f64>,
}

impl ThreadPoint {
    /// Throughput over `base`'s (the 1-thread point's, or the fewest threads measured).
    pub fn speedup(&self, base: &ThreadPoint) -> f64 {
        self.samples_per_s / base.samples_per_s
    }
}

/// Measures `cfg`'s model (its device, precision, batch size and image size) with
/// each of `threads` intra-op thread counts, `turns` times each, `iters` forwards
/// per measurement after one untimed forward, within `limits`: a calibration whose
/// spin forwards alone outlast the wall-clock limit is refused before it starts.
pub fn thread_scaling(
    cfg: &RunConfig,
    threads: &[u32],
    (iters, turns): (u32, u32),
    limits: RunLimits,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ThreadPoint>> {
    check(threads, iters, turns)?;
    if let Some(fault) = crate::model::fault::FaultSpec::parse(&cfg.model.name)? {
        // Its table would name the fault and measure the model without it.
        return Err(Error::config(
            "model",
            format!(
                "{}: calibrate times the bare forward, which runs a fail: model without its fault; calibrate {} itself",
                cfg.model.name, fault.inner
            ),
        ));
    }
    let forwards = u64::from(iters) + 1;
    limits.check_forwards(
        &cfg.model.name,
        forwards * u64::from(turns) * threads.len() as u64,
    )?;
    let deadline = Instant::now() + limits.max_duration;
    let beat = Arc::new(Beat::default());
    let (tx, rx) = unbounded();
    let job = (cfg.clone(), threads.to_vec(), Arc::clone(&beat));
    std::thread::Builder::new()
        .name("calibrate".into())
        .spawn(move || {
            let (cfg, threads, beat) = job;
            let tell = tx.clone();
            let mut progress = |p: &str| drop(tell.send(Message::Progress(p.to_string())));
            let points = measure(&cfg, &threads, (iters, turns), &beat, &tx, &mut progress);
            let _ = tx.send(Message::Done(points));
        })
        .map_err(|e| Error::Pipeline(format!("cannot start the calibration thread: {e}")))?;
    let watched = watch(&rx, &beat, (deadline, limits), cfg, progress);
    // A limit ran out: the thread stops after its current forward (if it returns).
    beat.stop.store(true, Ordering::Relaxed);
    watched
}

/// How often the caller looks for the first forward when it derives the stall
/// timeout from that forward's time.
const FIRST_FORWARD_POLL: Duration = Duration::from_millis(50);

/// What the measuring thread tells the caller.
enum Message {
    Progress(String),
    /// The model and inputs are ready; forwards start.
    Loaded,
    Done(Result<Vec<ThreadPoint>>),
}

/// Forwards done so far, and the caller's word to stop.
#[derive(Default)]
struct Beat {
    forwards: AtomicU64,
    stop: AtomicBool,
}

/// Waits for the measuring thread's result, passing its progress on, until the
/// wall-clock limit or a stall: no forward returning for the stall timeout (the one
/// given, else derived from the first forward's time, as a run derives it from its
/// warm-up; before that first forward only a given one applies).
fn watch(
    rx: &Receiver<Message>,
    beat: &Beat,
    (deadline, limits): (Instant, RunLimits),
    cfg: &RunConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ThreadPoint>> {
    // Forwards seen, and when that count was first seen; from the model's load on.
    let mut last: Option<(u64, Instant)> = None;
    let mut stall = limits.stall_timeout;
    loop {
        let wake = match (last, stall) {
            (None, _) => deadline,
            (Some((_, at)), Some(s)) => (at + s).min(deadline),
            // Looking out for the first forward, whose time sets the stall timeout.
            (Some(_), None) => (Instant::now() + FIRST_FORWARD_POLL).min(deadline),
        };
        match rx.recv_deadline(wake) {
            Ok(Message::Progress(p)) => progress(&p),
            Ok(Message::Loaded) => last = Some((0, Instant::now())),
            Ok(Message::Done(points)) => return points,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Pipeline(
                    "the calibration thread ended without a result".into(),
                ))
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        let done = beat.forwards.load(Ordering::Relaxed);
        if let Some((seen, at)) = last.filter(|(seen, _)| done != *seen) {
            if seen == 0 && stall.is_none() {
                stall = Some(limits.stall_timeout_after(now - at, cfg));
            }
            last = Some((done, now));
        }
        if now >= deadline {
            return Err(Error::Pipeline(format!(
                "calibrate reached its time limit of {} after {done} forwards (raise --max-duration)",
                human(limits.max_duration)
            )));
        }
        if let (Some((_, at)), Some(s)) = (last, stall) {
            if now >= at + s {
                return Err(Error::Pipeline(format!(
                    "calibrate stalled: no forward returned for {} after {done} forwards (raise --stall-timeout)",
                    human(s)
                )));
            }
        }
    }
}

/// The measurement itself, on the calibration thread.
fn measure(
    cfg: &RunConfig,
    threads: &[u32],
    (iters, turns): (u32, u32),
    beat: &Beat,
    tx: &crossbeam_channel::Sender<Message>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ThreadPoint>> {
    let device = device::open(cfg.backend.device)?;
    let batch = cfg.load.batch_size;
    progress("loading model");
    let model = prepare(
        &cfg.model,
        Batches::fixed(batch),
        cfg.load.seed,
        device.torch_device(),
        progress,
    )?;
    let inputs = InputPool::generate(
        iters,
        batch,
        &cfg.model.input_specs(),
        cfg.load.seed,
        device.as_ref(),
    )?;
    let instance = model.bare_instance()?;
    let _ = tx.send(Message::Loaded);
    let mut points: Vec<ThreadPoint> = threads
        .iter()
        .map(|&t| ThreadPoint {
            threads: t,
            samples_per_s: 0.0,
            turns: Vec::new(),
        })
        .collect();
    for turn in 1..=turns {
        for point in &mut points {
            progress(&format!("turn {turn}/{turns}: {} thread(s)", point.threads));
            let rate = forward_loop(
                (&model, instance.as_ref()),
                &inputs,
                device.as_ref(),
                (point.threads, iters),
                beat,
            )?;
            point.turns.push(rate);
        }
    }
    for point in &mut points {
        // Every point has `turns` ≥ 1 measurements (checked above).
        point.samples_per_s = median(&point.turns).unwrap_or(0.0);
    }
    Ok(points)
}

/// Refuses what cannot be measured, naming the setting.
fn check(threads: &[u32], iters: u32, turns: u32) -> Result<()> {
    if threads.is_empty() || threads.contains(&0) {
        return Err(Error::config(
            "threads",
            format!("{threads:?}: expected one or more thread counts, each at least 1"),
        ));
    }
    if iters == 0 || turns == 0 {
        return Err(Error::config(
            "iters/turns",
            format!("{iters} forwards × {turns} turns: expected at least 1 of each"),
        ));
    }
    Ok(())
}

/// Samples/s of `iters` forwards on this thread with `threads` intra-op threads, on
/// device-resident inputs (moved before timing), the device waited for at the end.
/// Each forward is counted in `beat`; the loop ends early when told to stop.
fn forward_loop(
    (model, instance): (&PreparedModel, &dyn Forward),
    inputs: &InputPool,
    device: &dyn ComputeDevice,
    (threads, iters): (u32, u32),
    beat: &Beat,
) -> Result<f64> {
    tch::set_num_threads(threads as i32);
    let _guard = tch::no_grad_guard();
    let mut stream = device.new_stream()?;
    stream.make_current()?;
    let on_device: Vec<Vec<tch::Tensor>> = (0..inputs.len().min(iters as usize))
        .map(|k| super::bare::to_device(inputs.get(k as u64), device, model))
        .collect::<Result<_>>()?;
    let _warm = instance.forward(&on_device[0])?;
    stream.synchronize()?;
    beat.forwards.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let mut samples = 0u64;
    for k in 0..iters as usize {
        let input = &on_device[k % on_device.len()];
        let _output = instance.forward(input)?;
        samples += input[0].size()[0] as u64;
        beat.forwards.fetch_add(1, Ordering::Relaxed);
        if beat.stop.load(Ordering::Relaxed) {
            return Err(Error::Pipeline("calibrate was stopped".into()));
        }
    }
    stream.synchronize()?;
    Ok(samples as f64 / started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE))
}

/// `1, 2, … cores`: the default thread counts.
pub fn up_to(cores: u32) -> Vec<u32> {
    (1..=cores.max(1)).collect()
}

/// The counts asked for, or, with none, [`up_to`] `cores`.
pub fn counts_or_up_to(requested: &[u32], cores: u32) -> Vec<u32> {
    match requested.is_empty() {
        true => up_to(cores),
        false => requested.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_count_is_measured_each_turn_and_summarised_by_its_median() {
        let mut cfg = RunConfig::default();
        cfg.model.name = "tiny-cnn".into();
        cfg.model.image_size = 8;
        let mut phases = Vec::new();
        let points = thread_scaling(&cfg, &[1, 2], (5, 3), RunLimits::default(), &mut |p| {
            phases.push(p.to_string())
        })
        .unwrap();
        assert_eq!(points.iter().map(|p| p.threads).collect::<Vec<_>>(), [1, 2]);
        for p in &points {
            assert_eq!(p.turns.len(), 3);
            assert!(p.turns.iter().all(|r| r.is_finite() && *r > 0.0), "{p:?}");
            assert_eq!(Some(p.samples_per_s), median(&p.turns));
        }
        // Turns go round the counts (1, 2, 1, 2, …), not one count after another.
        let order: Vec<&str> = phases
            .iter()
            .filter(|p| p.starts_with("turn"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            order[..3],
            [
                "turn 1/3: 1 thread(s)",
                "turn 1/3: 2 thread(s)",
                "turn 2/3: 1 thread(s)"
            ]
        );
        assert_eq!(
            points[1].speedup(&points[0]),
            points[1].samples_per_s / points[0].samples_per_s
        );
    }

    #[test]
    fn counts_and_sizes_that_cannot_be_measured_are_refused_by_name() {
        let cfg = RunConfig::default();
        for (threads, iters, turns) in [
            (vec![], 5, 1),
            (vec![0, 1], 5, 1),
            (vec![1], 0, 1),
            (vec![1], 5, 0),
        ] {
            let limits = RunLimits::default();
            let e =
                thread_scaling(&cfg, &threads, (iters, turns), limits, &mut |_| {}).unwrap_err();
            assert!(
                e.to_string().contains("threads") || e.to_string().contains("iters"),
                "{e}"
            );
        }
        assert_eq!(up_to(3), [1, 2, 3]);
        assert_eq!(up_to(0), [1]);
        assert_eq!(counts_or_up_to(&[], 2), [1, 2]);
        assert_eq!(counts_or_up_to(&[4], 2), [4]);
        let mut faulty = RunConfig::default();
        faulty.model.name = "fail:spin:1ms@3".into();
        let e =
            thread_scaling(&faulty, &[1], (5, 1), RunLimits::default(), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("calibrate spin:1ms itself"), "{e}");
    }
}
