//! The backend's per-batch work, apart from threads and channels: each stage thread
//! performs its role's steps from [`super::ordering`] on a batch in flight: copy
//! into a device buffer, run the forward, copy the output back, wait once, and
//! split it into one response per request.
//!
//! Host stamps are taken when the host has done its part: on the CPU that is when the
//! work is done; on a GPU, copies and forwards are only queued, and the stage's
//! device time comes from the timing events around it ([`DeviceStageTimes`]).

use crossbeam_channel::Sender;
use tch::Tensor;

use super::ordering::{self, Mark, Step, StepExecutor, Work};
use crate::device::{DeviceEvent, DeviceStream};
use crate::error::{Error, Result};
use crate::metrics::DeviceStageTimes;
use crate::model::Forward;
use crate::request::{Batch, Request, Response, RunClock, Stamp};

/// One request's inputs: a host tensor `[samples, ...]` per model input.
pub type Inputs = Vec<Tensor>;

/// The backend's intake, carrying host tensors.
pub type Intake = super::intake::Intake<Inputs>;

/// A request carrying its host tensors.
pub type TensorRequest = Request<Inputs>;
/// A batch of requests carrying host tensors.
pub type TensorBatch = Batch<Inputs>;
/// What a stage sends to the collector: a response, or the error that stopped it.
pub type ResponseResult = Result<Response<Tensor>>;

/// Where a network front takes the backend's answers directly (see [`Responses`]).
pub trait ResponseSink: Send + Sync {
    /// Takes one answer (or a stage's error) on the stage's own thread; `false`
    /// when nobody listens any more (the stage then stops).
    fn answer(&self, response: ResponseResult) -> bool;
}

/// Where the backend's answers go: the response queue the load generator (or a
/// warm-up) reads, or, once a network front has taken the server over, that
/// front's own sink, which hands each answer to the request waiting for it from
/// the stage's thread: one thread hop (a wake-up) fewer than a queue and a
/// dispatcher thread.
#[derive(Clone)]
pub struct Responses {
    queue: Sender<ResponseResult>,
    direct: std::sync::Arc<std::sync::OnceLock<std::sync::Arc<dyn ResponseSink>>>,
}

impl From<Sender<ResponseResult>> for Responses {
    fn from(queue: Sender<ResponseResult>) -> Self {
        Self::new(queue)
    }
}

impl Responses {
    /// Answers go to `queue` until [`Responses::redirect`].
    pub fn new(queue: Sender<ResponseResult>) -> Self {
        Self {
            queue,
            direct: Default::default(),
        }
    }

    /// Sends one answer; `false` when nobody listens any more.
    #[inline]
    pub fn send(&self, response: ResponseResult) -> bool {
        match self.direct.get() {
            Some(sink) => sink.answer(response),
            None => self.queue.send(response).is_ok(),
        }
    }

    /// From now on every answer goes to `sink` (once; `false` if already redirected).
    pub fn redirect(&self, sink: std::sync::Arc<dyn ResponseSink>) -> bool {
        self.direct.set(sink).is_ok()
    }
}

/// A device input buffer per model input, and the event after which they may be
/// overwritten (the last forward that read them).
pub struct Loan {
    /// The buffers, each `[max batch samples, ...input shape]`.
    pub buffer: Inputs,
    /// Recorded after the forward that last read the buffer; `None` when fresh.
    pub free_after: Option<DeviceEvent>,
}

/// A batch on its way through the stages, with what each stage leaves for the next.
pub struct InFlight {
    /// The requests (payloads until copy-in, then only their metadata).
    pub batch: TensorBatch,
    /// Dedicated layout: the input buffer on loan from the copy-in stage's free list.
    pub loan: Option<Loan>,
    input: Option<Inputs>,
    output: Option<Tensor>,
    host: Option<Tensor>,
    events: [Option<DeviceEvent>; Mark::COUNT],
}

impl InFlight {
    /// A batch that has not reached a device yet.
    pub fn new(batch: TensorBatch) -> Self {
        Self {
            batch,
            loan: None,
            input: None,
            output: None,
            host: None,
            events: Default::default(),
        }
    }
}

/// What a stage thread brings to every batch it handles.
pub struct StageKit<'a> {
    /// The thread's stream.
    pub stream: &'a mut dyn DeviceStream,
    /// The run's clock.
    pub clock: &'a RunClock,
    /// The worker's model (roles that run the forward).
    pub model: Option<&'a dyn Forward>,
    /// Shared layout: the worker's own input buffers.
    pub buffer: Option<&'a [Tensor]>,
    /// Dedicated layout: where a worker returns input buffers.
    pub free_list: Option<&'a Sender<Loan>>,
    /// Where responses go (the role that responds).
    pub responses: Option<&'a Responses>,
    /// Where device stage times go (the role that waits on the host).
    pub device_times: Option<&'a DeviceStageTimes>,
}

impl<'a> StageKit<'a> {
    /// A kit with only a stream and a clock (a copy stage adds what its role needs).
    pub fn bare(stream: &'a mut dyn DeviceStream, clock: &'a RunClock) -> Self {
        Self {
            stream,
            clock,
            model: None,
            buffer: None,
            free_list: None,
            responses: None,
            device_times: None,
        }
    }
}

/// Performs `steps` on `item`. Returns `false` if the collector has gone (stop serving).
pub fn run_steps(steps: &[Step], kit: &mut StageKit<'_>, item: &mut InFlight) -> Result<bool> {
    let mut exec = Executor {
        kit,
        item,
        listening: true,
    };
    ordering::execute(steps, &mut exec)?;
    Ok(exec.listening)
}

struct Executor<'k, 'a, 'i> {
    kit: &'k mut StageKit<'a>,
    item: &'i mut InFlight,
    listening: bool,
}

fn missing(what: &str) -> Error {
    Error::Pipeline(format!(
        "{what} is missing at this step; the stage ordering is wrong (a bug)"
    ))
}

impl StepExecutor for Executor<'_, '_, '_> {
    type Error = Error;

    fn step(&mut self, step: Step) -> Result<()> {
        match step {
            Step::AwaitBufferFree => {
                let loan = self.item.loan.as_ref().ok_or_else(|| missing("buffer"))?;
                if let Some(event) = &loan.free_after {
                    self.kit.stream.wait_for(event)?;
                }
                Ok(())
            }
            Step::StreamWaits(mark) => {
                let event = self.item.events[mark.index()]
                    .as_ref()
                    .ok_or_else(|| missing("event"))?;
                self.kit.stream.wait_for(event)
            }
            Step::Record(mark) => {
                self.item.events[mark.index()] = Some(self.kit.stream.record()?);
                Ok(())
            }
            Step::Issue(Work::CopyIn) => self.copy_in(),
            Step::Issue(Work::Forward) => self.forward(),
            Step::Issue(Work::CopyOut) => {
                let output = self.item.output.as_ref().ok_or_else(|| missing("output"))?;
                self.item.host = Some(self.kit.stream.copy_out(output)?);
                Ok(())
            }
            Step::ReleaseBuffer => {
                let mut loan = self.item.loan.take().ok_or_else(|| missing("buffer"))?;
                loan.free_after = Some(self.kit.stream.record()?);
                let free = self.kit.free_list.ok_or_else(|| missing("free list"))?;
                // The copy-in stage has stopped when the list hangs up: nothing to return.
                let _ = free.send(loan);
                Ok(())
            }
            Step::HostWaits(mark) => self.host_waits(mark),
            Step::Respond => self.respond(),
        }
    }
}

impl Executor<'_, '_, '_> {
    /// Copies the batch's inputs, back to back, into the front of the buffers (one per
    /// model input). Offsets come from the metas (already in hand), not from a
    /// libtorch call per payload; a payload of another shape makes the copy fail, so
    /// a mismatch cannot pass silently. Stamps [`Stamp::CopiedIn`].
    fn copy_in(&mut self) -> Result<()> {
        let buffers: &[Tensor] = match (&self.item.loan, self.kit.buffer) {
            (Some(loan), _) => &loan.buffer,
            (None, Some(own)) => own,
            (None, None) => return Err(missing("buffer")),
        };
        let batch = &mut self.item.batch;
        let mut row = 0;
        for (meta, payload) in batch.metas.iter().zip(&batch.payloads) {
            if payload.len() != buffers.len() {
                return Err(Error::Pipeline(format!(
                    "a request carried {} inputs for a model of {}",
                    payload.len(),
                    buffers.len()
                )));
            }
            for (input, buffer) in payload.iter().zip(buffers) {
                self.kit.stream.copy_in(input, buffer, row)?;
            }
            row += meta.samples as i64;
        }
        let samples = batch.samples() as i64;
        self.item.input = Some(
            buffers
                .iter()
                .map(|b| b.f_narrow(0, 0, samples))
                .collect::<std::result::Result<_, _>>()?,
        );
        batch.stamp_all(Stamp::CopiedIn, self.kit.clock.now());
        // On a GPU the copies may still read the payloads; the input pool keeps them alive.
        batch.payloads.clear();
        Ok(())
    }

    /// Runs the forward and checks it has one row per sample. Stamps [`Stamp::Computed`].
    fn forward(&mut self) -> Result<()> {
        let model = self.kit.model.ok_or_else(|| missing("model"))?;
        let input = self.item.input.take().ok_or_else(|| missing("input"))?;
        let output = model.forward(&input)?;
        let batch = &mut self.item.batch;
        batch.stamp_all(Stamp::Computed, self.kit.clock.now());
        let samples = batch.samples();
        batch
            .metas
            .iter_mut()
            .for_each(|m| m.batch_samples = samples);
        let rows = output.size().first().copied().unwrap_or(0);
        if rows != samples as i64 {
            return Err(Error::Pipeline(format!(
                "the model returned {rows} rows for a batch of {samples} samples"
            )));
        }
        self.item.output = Some(output);
        Ok(())
    }

    /// The host waits for `mark`; every event of the batch is then reached, so its
    /// device stage times can be read.
    fn host_waits(&mut self, mark: Mark) -> Result<()> {
        let events = &self.item.events;
        events[mark.index()]
            .as_ref()
            .ok_or_else(|| missing("event"))?
            .synchronize()?;
        let Some(times) = self.kit.device_times else {
            return Ok(());
        };
        let mut ms = [0.0; 3];
        for (slot, work) in ms.iter_mut().zip(Work::ALL) {
            let (Some(before), Some(after)) = (
                &events[Mark::Before(work).index()],
                &events[Mark::After(work).index()],
            ) else {
                return Ok(());
            };
            match before.elapsed_ms(after)? {
                Some(v) => *slot = v,
                None => return Ok(()), // no timing events on this device
            }
        }
        times.add(ms);
        Ok(())
    }

    /// Splits the host output per request and sends the responses. Stamps
    /// [`Stamp::CopiedOut`].
    fn respond(&mut self) -> Result<()> {
        let host = self
            .item
            .host
            .take()
            .ok_or_else(|| missing("host output"))?;
        // The device output may be freed only now: the copy that read it is done.
        self.item.output = None;
        let responses = self
            .kit
            .responses
            .ok_or_else(|| missing("response queue"))?;
        let now = self.kit.clock.now();
        let metas = std::mem::take(&mut self.item.batch.metas);
        let single = metas.len() == 1;
        let mut offset = 0;
        for mut meta in metas {
            meta.stamps.set(Stamp::CopiedOut, now);
            let payload = if single {
                host.shallow_clone()
            } else {
                host.f_narrow(0, offset, meta.samples as i64)?
            };
            offset += meta.samples as i64;
            if !responses.send(Ok(Response { meta, payload })) {
                self.listening = false;
                return Ok(());
            }
        }
        Ok(())
    }
}
