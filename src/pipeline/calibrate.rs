//! How the model's forward scales with libtorch's intra-op threads on this machine,
//! before any pipeline is built around it: the bare forward at 1, 2, … N threads.
//!
//! The loop runs on the calling thread, as a Python script's `model(x)` loop runs on
//! its interpreter's thread, so that its figure can be set beside PyTorch eager's
//! (`scripts/gpu/pytorch_reference.py --device cpu --threads 1,2`) with nothing of
//! inferbench's own around it. The thread counts are measured in turns (1, 2, … N,
//! then again), so that a machine drifting faster or slower moves every count alike;
//! each count's figure is the median of its turns.

use std::time::Instant;

use super::inputs::InputPool;
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
/// per measurement after one untimed forward.
pub fn thread_scaling(
    cfg: &RunConfig,
    threads: &[u32],
    iters: u32,
    turns: u32,
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
                point.threads,
                iters,
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
fn forward_loop(
    (model, instance): (&PreparedModel, &dyn Forward),
    inputs: &InputPool,
    device: &dyn ComputeDevice,
    threads: u32,
    iters: u32,
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
    let started = Instant::now();
    let mut samples = 0u64;
    for k in 0..iters as usize {
        let input = &on_device[k % on_device.len()];
        let _output = instance.forward(input)?;
        samples += input[0].size()[0] as u64;
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
        let points =
            thread_scaling(&cfg, &[1, 2], 5, 3, &mut |p| phases.push(p.to_string())).unwrap();
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
            let e = thread_scaling(&cfg, &threads, iters, turns, &mut |_| {}).unwrap_err();
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
        let e = thread_scaling(&faulty, &[1], 5, 1, &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("calibrate spin:1ms itself"), "{e}");
    }
}
