//! The bare-forward baseline: the same model, inputs and threads as the pipeline,
//! with nothing between the forwards. Pipeline throughput over this is the pipeline
//! efficiency (1.0 is the physical limit; the gap is what the pipeline costs).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use tch::Tensor;

use super::inputs::InputPool;
use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::model::PreparedModel;

/// Samples per second of `workers` threads each calling the model in a loop on the
/// pool's inputs, `iters` forwards in all (as evenly split as possible).
///
/// The inputs are moved to `device` before timing (device-resident, as the limit the
/// pipeline is compared with should be), each thread runs on its own stream, and
/// waits for that stream before its end time is taken (a GPU forward returns once queued).
pub fn bare_forward_throughput(
    model: &PreparedModel,
    inputs: &InputPool,
    device: &dyn ComputeDevice,
    workers: u32,
    intra_op_threads: u32,
    iters: u32,
) -> Result<f64> {
    let barrier = Arc::new(Barrier::new(workers as usize + 1));
    let mut handles = Vec::new();
    let mut samples = 0u64;
    for w in 0..workers {
        let instance = model.bare_instance()?;
        let mut stream = device.new_stream()?;
        let mine: Vec<Vec<Tensor>> = (w..iters)
            .step_by(workers as usize)
            .map(|id| to_device(inputs.get(id as u64), device, model))
            .collect::<Result<_>>()?;
        samples += mine.iter().map(|t| t[0].size()[0] as u64).sum::<u64>();
        let barrier = Arc::clone(&barrier);
        handles.push(std::thread::spawn(move || -> Result<(Instant, Instant)> {
            tch::set_num_threads(intra_op_threads as i32);
            let _guard = tch::no_grad_guard();
            let current = stream.make_current();
            // This thread's first call stays out of the timing. Every thread reaches the
            // barrier, even one whose forward failed or panicked, so none waits forever.
            let warm = catch_unwind(AssertUnwindSafe(|| {
                current?;
                mine.first().map(|t| instance.forward(t)).transpose()?;
                stream.synchronize()
            }));
            barrier.wait();
            // Each thread reads its own start: the spawning thread may be descheduled
            // after the barrier until a fast model's loop is over.
            let started = Instant::now();
            match warm {
                Ok(result) => result?,
                Err(_) => {
                    return Err(Error::Pipeline(
                        "the model panicked in the bare-forward loop".into(),
                    ))
                }
            };
            for input in &mine {
                let _output = instance.forward(input)?;
            }
            stream.synchronize()?;
            Ok((started, Instant::now()))
        }));
    }
    // The instances were copied on this thread, which now only waits.
    crate::device::openmp::release_thread_team();
    barrier.wait();
    let (mut first_start, mut last_end) = (None::<Instant>, None::<Instant>);
    for handle in handles {
        let (start, end) = handle
            .join()
            .map_err(|_| Error::Pipeline("a bare-forward thread panicked".into()))??;
        first_start = Some(first_start.map_or(start, |s| s.min(start)));
        last_end = Some(last_end.map_or(end, |e| e.max(end)));
    }
    let (Some(started), Some(finished)) = (first_start, last_end) else {
        return Err(Error::Pipeline(
            "the bare-forward loop had no thread".into(),
        ));
    };
    let elapsed = finished.duration_since(started).as_secs_f64();
    Ok(samples as f64 / elapsed.max(f64::MIN_POSITIVE))
}

/// A request's inputs moved to `device`'s memory, in the layout `model` takes.
pub(super) fn to_device(
    inputs: Vec<Tensor>,
    device: &dyn ComputeDevice,
    model: &PreparedModel,
) -> Result<Vec<Tensor>> {
    inputs
        .iter()
        .map(|t| model.lay_out(t.f_to_device(device.torch_device())?))
        .collect()
}
