//! The backend's per-batch steps, apart from threads and channels: take a batch
//! off the intake, copy it into a device buffer, run the forward, copy the output
//! back and split it into one response per request.

use crossbeam_channel::Sender;
use tch::Tensor;

use crate::device::DeviceStream;
use crate::error::{Error, Result};
use crate::model::Forward;
use crate::request::{Batch, Request, Response, RunClock, Stamp};

/// The backend's intake, carrying host tensors.
pub type Intake = super::intake::Intake<Tensor>;

/// A request carrying a host tensor.
pub type TensorRequest = Request<Tensor>;
/// A batch of host tensors.
pub type TensorBatch = Batch<Tensor>;
/// What a stage sends to the collector: a response, or the error that stopped it.
pub type ResponseResult = Result<Response<Tensor>>;

/// Copies a batch's inputs, back to back, into the front of `buffer` and returns the
/// view the forward should read. Stamps [`Stamp::CopiedIn`].
pub fn copy_in(
    batch: &mut TensorBatch,
    buffer: &Tensor,
    stream: &mut dyn DeviceStream,
    clock: &RunClock,
) -> Result<Tensor> {
    let samples = batch.samples() as i64;
    let mut row = 0;
    // Offsets come from the metas (already in hand), not from a libtorch call per
    // payload; a payload of another shape makes `copy_in` fail, so a mismatch cannot
    // pass silently.
    for (meta, payload) in batch.metas.iter().zip(&batch.payloads) {
        stream.copy_in(payload, buffer, row)?;
        row += meta.samples as i64;
    }
    stream.synchronize()?;
    batch.stamp_all(Stamp::CopiedIn, clock.now());
    batch.payloads.clear();
    Ok(buffer.f_narrow(0, 0, samples)?)
}

/// Runs the forward on `input` and checks its output has one row per sample.
/// Stamps [`Stamp::Computed`].
pub fn compute(
    batch: &mut TensorBatch,
    model: &dyn Forward,
    input: &Tensor,
    stream: &mut dyn DeviceStream,
    clock: &RunClock,
) -> Result<Tensor> {
    let output = model.forward(input)?;
    stream.synchronize()?;
    batch.stamp_all(Stamp::Computed, clock.now());
    let rows = output.size().first().copied().unwrap_or(0);
    if rows != batch.samples() as i64 {
        return Err(Error::Pipeline(format!(
            "the model returned {rows} rows for a batch of {} samples",
            batch.samples()
        )));
    }
    Ok(output)
}

/// Copies the output to the host, splits it per request and sends the responses.
/// Stamps [`Stamp::CopiedOut`]. Returns `false` if the collector has gone.
pub fn copy_out_and_respond(
    batch: TensorBatch,
    output: &Tensor,
    stream: &mut dyn DeviceStream,
    clock: &RunClock,
    responses: &Sender<ResponseResult>,
) -> Result<bool> {
    let host = stream.copy_out(output)?;
    stream.synchronize()?;
    let now = clock.now();
    let single = batch.metas.len() == 1;
    let mut offset = 0;
    for mut meta in batch.metas {
        meta.stamps.set(Stamp::CopiedOut, now);
        let payload = if single {
            host.shallow_clone()
        } else {
            host.f_narrow(0, offset, meta.samples as i64)?
        };
        offset += meta.samples as i64;
        if responses.send(Ok(Response { meta, payload })).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}
