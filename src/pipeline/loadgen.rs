//! The load generator: the client's side of the request and response queues, and
//! two of the three ways it sends a window of requests (a burst, or a closed loop
//! with a fixed number in flight) while collecting the responses on the calling
//! thread; Poisson arrivals at their intended times are [`super::scheduled`]'s.
//!
//! A burst is sent from its own thread so that no response waits for the sending
//! to end.
//!
//! Every wait for a response has a deadline ([`Watch`]) and notices Ctrl-C; a wait
//! that ends without its response cuts the window short ([`Cut`]) and the responses
//! collected so far are kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::collector::Collector;
use super::inputs::InputPool;
use super::stages::{Inputs, ResponseResult, TensorRequest};
use super::wait::WaitPolicy;
use super::watch::{Cut, Watch};
use crate::error::{Error, Result};
use crate::request::{Request, RequestMeta, RunClock, Stamp};

/// How often a wait looks at the Ctrl-C flag, and a schedule's sender at its stop flag.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// A window's responses, and why it ended early if it did.
pub(super) type Collected = (Collector, Option<Cut>);

/// The load generator's side of the queues.
pub(super) struct Client {
    pub(super) tx: Sender<TensorRequest>,
    pub(super) rx: Receiver<ResponseResult>,
    pub(super) clock: RunClock,
    pub(super) batch: u32,
    pub(super) wait: WaitPolicy,
}

impl Client {
    pub(super) fn send(&self, id: u64, payload: Inputs) -> Result<()> {
        send_request(&self.tx, &self.clock, id, self.batch, payload)
            .map_err(|stopped| self.stage_error_or(stopped))
    }

    /// Puts a stamped request on the queue; if the backend has stopped taking
    /// requests, the error of the stage that stopped it (see [`Client::stage_error_or`]).
    pub(super) fn send_request(&self, request: TensorRequest) -> Result<()> {
        self.tx
            .send(request)
            .map_err(|_| self.stage_error_or(stopped_taking_requests()))
    }

    /// The error a failed stage sent, or `stopped` when none comes.
    ///
    /// A stage that fails returns from its loop, which drops its end of the request
    /// queue, and only then sends its error to the response queue. A send can
    /// therefore find the queue hung up while the cause is still on its way: the
    /// first error of the stage, not the hang-up it caused, is what a user must see.
    /// Every stage thread sends its error, if any, just before it ends, so the
    /// response queue yields the error or hangs up once the last stage has ended;
    /// the wait is bounded for a stage that never ends (a hung forward).
    pub(super) fn stage_error_or(&self, stopped: Error) -> Error {
        let deadline = Instant::now() + STAGE_ERROR_WAIT;
        loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Err(stage_error)) => return stage_error,
                // A response to a request already sent: the window fails anyway.
                Ok(Ok(_)) => {}
                Err(_) => return stopped,
            }
        }
    }

    /// The next response, stamped on arrival; a [`Cut`] when its deadline passes
    /// or Ctrl-C was pressed; an error if a stage failed or the backend stopped.
    /// `not_before` is when the request the response needs is meant to be sent.
    pub(super) fn receive(
        &self,
        watch: &mut Watch<'_>,
        answered: u64,
        expected: u64,
        not_before: Option<Instant>,
    ) -> Result<std::result::Result<RequestMeta, Cut>> {
        let deadline = watch.deadline(not_before);
        loop {
            if crate::pipeline::interrupt::requested() {
                return Ok(Err(Watch::interrupted(answered, expected)));
            }
            let slice = deadline.min(Instant::now() + POLL);
            match self.wait.recv_deadline(&self.rx, slice) {
                Ok(Ok(mut response)) => {
                    response.meta.stamps.set(Stamp::Received, self.clock.now());
                    watch.progressed();
                    return Ok(Ok(response.meta));
                }
                Ok(Err(e)) => return Err(e),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    return Ok(Err(watch.timed_out(answered, expected)))
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(backend_stopped(answered, expected))
                }
            }
        }
    }
}

/// How long a failed send waits for the error of the stage that caused it.
const STAGE_ERROR_WAIT: Duration = Duration::from_secs(2);

/// Stamps a request as meant and sent now, and puts it on the queue.
#[inline]
fn send_request(
    tx: &Sender<TensorRequest>,
    clock: &RunClock,
    id: u64,
    samples: u32,
    payload: Inputs,
) -> Result<()> {
    tx.send(Request::sent_now(id, samples, payload, clock))
        .map_err(|_| stopped_taking_requests())
}

/// The error of a request queue that no stage reads any more, when no stage said why.
pub(super) fn stopped_taking_requests() -> Error {
    Error::Pipeline("the backend stopped taking requests".into())
}

/// Burst: a sender thread puts the requests on the queue back to back while this
/// thread collects, so no response waits for the sending to end.
pub(super) fn collect_burst(
    client: &Client,
    watch: &mut Watch<'_>,
    inputs: &InputPool,
    (first, n): (u64, u64),
    mut collector: Collector,
) -> Result<Collected> {
    let payloads: Vec<Inputs> = (first..first + n).map(|id| inputs.get(id)).collect();
    let (tx, clock, batch) = (client.tx.clone(), client.clock, client.batch);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sending = Arc::clone(&stop);
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            for (id, payload) in (first..).zip(payloads) {
                let request = Request::sent_now(id, batch, payload, &clock);
                if stop_sending.load(Ordering::Relaxed) || tx.send(request).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::Pipeline(format!("cannot start the sender thread: {e}")))?;
    let mut cut = None;
    let mut result = Ok(());
    for k in 0..n {
        match client.receive(watch, k, n, None) {
            Ok(Ok(meta)) => {
                if let Err(e) = record(&mut collector, meta) {
                    result = Err(e);
                    break;
                }
            }
            Ok(Err(c)) => {
                cut = Some(c);
                break;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    result.map(|()| (collector, cut))
}

/// Closed loop: at most `concurrency` requests in flight; each response sends the next.
pub(super) fn collect_closed_loop(
    client: &Client,
    watch: &mut Watch<'_>,
    inputs: &InputPool,
    (first, n): (u64, u64),
    concurrency: u64,
    mut collector: Collector,
) -> Result<Collected> {
    let mut next = first;
    let end = first + n;
    while next < end && next - first < concurrency {
        client.send(next, inputs.get(next))?;
        next += 1;
    }
    for k in 0..n {
        let meta = match client.receive(watch, k, n, None)? {
            Ok(meta) => meta,
            Err(cut) => return Ok((collector, Some(cut))),
        };
        if next < end {
            client.send(next, inputs.get(next))?;
            next += 1;
        }
        record(&mut collector, meta)?;
    }
    Ok((collector, None))
}

/// The error of a response queue that hung up before the window's last response.
pub(super) fn backend_stopped(answered: u64, expected: u64) -> Error {
    Error::Pipeline(format!(
        "the backend stopped after {answered} of {expected} responses"
    ))
}

pub(super) fn record(collector: &mut Collector, meta: RequestMeta) -> Result<()> {
    if collector.record(&meta) {
        Ok(())
    } else {
        Err(Error::Pipeline(format!(
            "request {} came back with incomplete timestamps: {:?}",
            meta.id, meta.stamps
        )))
    }
}
