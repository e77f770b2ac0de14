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
use super::stages::{Inputs, TensorRequest};
use super::wait::WaitPolicy;
use super::watch::{Cut, Watch};
use crate::error::{Error, Result};
use crate::request::{Request, RequestMeta, Response, RunClock, Stamp};

/// How often a wait looks at the Ctrl-C flag, and a schedule's sender at its stop flag.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// A window's responses, and why it ended early if it did.
pub(crate) type Collected = (Collector, Option<Cut>);

/// Where the load generator puts requests: the pipeline's request queue, or a
/// network client's.
pub(crate) trait RequestSink<P>: Clone + Send + 'static {
    /// Queues `request`; `false` once the other side has stopped taking requests.
    fn put(&self, request: Request<P>) -> bool;
}

impl<P: Send + 'static> RequestSink<P> for Sender<Request<P>> {
    #[inline]
    fn put(&self, request: Request<P>) -> bool {
        self.send(request).is_ok()
    }
}

/// The pre-built payloads the load generator sends, by request id.
pub(crate) trait Payloads<P> {
    /// The payload of request `id`.
    fn payload(&self, id: u64) -> P;
}

impl Payloads<Inputs> for InputPool {
    #[inline]
    fn payload(&self, id: u64) -> Inputs {
        self.get(id)
    }
}

/// The load generator's side of the queues: requests of payload `P` go into `S`,
/// responses of payload `R` (or the error that stopped the other side) come back.
pub(crate) struct Client<S = Sender<TensorRequest>, R = tch::Tensor> {
    pub(crate) tx: S,
    pub(crate) rx: Receiver<Result<Response<R>>>,
    pub(crate) clock: RunClock,
    pub(crate) batch: u32,
    pub(crate) wait: WaitPolicy,
}

impl<S, R> Client<S, R> {
    pub(crate) fn send<P>(&self, id: u64, payload: P) -> Result<()>
    where
        S: RequestSink<P>,
    {
        send_request(&self.tx, &self.clock, id, self.batch, payload)
            .map_err(|stopped| self.stage_error_or(stopped))
    }

    /// Puts a stamped request on the queue; if the backend has stopped taking
    /// requests, the error of the stage that stopped it (see [`Client::stage_error_or`]).
    pub(crate) fn send_request<P>(&self, request: Request<P>) -> Result<()>
    where
        S: RequestSink<P>,
    {
        if self.tx.put(request) {
            Ok(())
        } else {
            Err(self.stage_error_or(stopped_taking_requests()))
        }
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
    pub(crate) fn stage_error_or(&self, stopped: Error) -> Error {
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
    pub(crate) fn receive(
        &self,
        watch: &mut Watch<'_>,
        answered: u64,
        expected: u64,
        not_before: Option<Instant>,
    ) -> Result<std::result::Result<RequestMeta, Cut>> {
        let deadline = watch.deadline(not_before);
        let free_at = self.clock.now();
        loop {
            if crate::pipeline::interrupt::requested() {
                return Ok(Err(Watch::interrupted(answered, expected)));
            }
            let slice = deadline.min(Instant::now() + POLL);
            match self.wait.recv_deadline(&self.rx, slice) {
                Ok(Ok(mut response)) => {
                    let now = self.clock.now();
                    let stamps = &mut response.meta.stamps;
                    stamps.set(Stamp::Received, now);
                    stamps.took(Stamp::CopiedOut, Stamp::Received, free_at, now);
                    watch.progressed();
                    return Ok(Ok(response.meta));
                }
                Ok(Err(e)) => return failure(e, answered, expected),
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

/// What an error on the response queue means for the window: a server over the
/// network that failed a request cuts it short (what was measured is kept); any
/// other error (a pipeline stage's) is the run's error.
pub(crate) fn failure<T>(
    e: Error,
    answered: u64,
    expected: u64,
) -> Result<std::result::Result<T, Cut>> {
    match e {
        Error::Target(why) => Ok(Err(Cut::Failed(format!(
            "{why} (after {answered} of {expected} responses)"
        )))),
        other => Err(other),
    }
}

/// How long a failed send waits for the error of the stage that caused it.
const STAGE_ERROR_WAIT: Duration = Duration::from_secs(2);

/// Stamps a request as meant and sent now, and puts it on the queue.
#[inline]
fn send_request<P, S: RequestSink<P>>(
    tx: &S,
    clock: &RunClock,
    id: u64,
    samples: u32,
    payload: P,
) -> Result<()> {
    if tx.put(Request::sent_now(id, samples, payload, clock)) {
        Ok(())
    } else {
        Err(stopped_taking_requests())
    }
}

/// The error of a request queue that no stage reads any more, when no stage said why.
pub(super) fn stopped_taking_requests() -> Error {
    Error::Pipeline("the backend stopped taking requests".into())
}

/// Burst: a sender thread puts the requests on the queue back to back while this
/// thread collects, so no response waits for the sending to end.
pub(crate) fn collect_burst<P: Send + 'static, S: RequestSink<P>, R>(
    client: &Client<S, R>,
    watch: &mut Watch<'_>,
    inputs: &impl Payloads<P>,
    (first, n): (u64, u64),
    mut collector: Collector,
) -> Result<Collected> {
    let payloads: Vec<P> = (first..first + n).map(|id| inputs.payload(id)).collect();
    let (tx, clock, batch) = (client.tx.clone(), client.clock, client.batch);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sending = Arc::clone(&stop);
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            for (id, payload) in (first..).zip(payloads) {
                let request = Request::sent_now(id, batch, payload, &clock);
                if stop_sending.load(Ordering::Relaxed) || !tx.put(request) {
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
pub(crate) fn collect_closed_loop<P, S: RequestSink<P>, R>(
    client: &Client<S, R>,
    watch: &mut Watch<'_>,
    inputs: &impl Payloads<P>,
    (first, n): (u64, u64),
    concurrency: u64,
    mut collector: Collector,
) -> Result<Collected> {
    let mut next = first;
    let end = first + n;
    while next < end && next - first < concurrency {
        client.send(next, inputs.payload(next))?;
        next += 1;
    }
    for k in 0..n {
        let meta = match client.receive(watch, k, n, None)? {
            Ok(meta) => meta,
            Err(cut) => return Ok((collector, Some(cut))),
        };
        if next < end {
            client.send(next, inputs.payload(next))?;
            next += 1;
        }
        record(&mut collector, meta)?;
    }
    Ok((collector, None))
}

/// The warm-up: request `first` (the cold start) alone, then the rest of `warmups`
/// together, each awaited. `stall_after` turns the slowest response so far into the
/// stall timeout of the waits that follow. Returns the cold start's latency and the
/// slowest of the others (0 without others), in ns.
pub(crate) fn warm_up<P, S: RequestSink<P>, R>(
    client: &Client<S, R>,
    inputs: &impl Payloads<P>,
    (first, warmups): (u64, u64),
    watch: &mut Watch<'_>,
    stall_after: &dyn Fn(Duration) -> Duration,
) -> Result<(u64, u64)> {
    let latency = |m: &RequestMeta| {
        m.stamps
            .latency_ns()
            .expect("received responses are fully stamped; this is a bug")
    };
    client.send(first, inputs.payload(first))?;
    let cold = latency(&warm_response(client.receive(watch, 0, warmups, None)?)?);
    // The other warm-up requests go together; their deadline follows from the
    // cold start, a generous bound on any later response.
    watch.stall = Some(stall_after(Duration::from_nanos(cold)));
    for id in first + 1..first + warmups {
        client.send(id, inputs.payload(id))?;
    }
    let mut warm = 0;
    for k in 1..warmups {
        warm = warm.max(latency(&warm_response(
            client.receive(watch, k, warmups, None)?,
        )?));
    }
    Ok((cold, warm))
}

/// A warm-up response, or the error a cut warm-up is: nothing was measured yet.
fn warm_response(received: std::result::Result<RequestMeta, Cut>) -> Result<RequestMeta> {
    received.map_err(|cut| match cut {
        Cut::Interrupted(_) => Error::Interrupted,
        Cut::Failed(why) => Error::Target(why),
        other => Error::Pipeline(format!("during the warm-up, {other}")),
    })
}

/// The error of a response queue that hung up before the window's last response.
pub(crate) fn backend_stopped(answered: u64, expected: u64) -> Error {
    Error::Pipeline(format!(
        "the backend stopped after {answered} of {expected} responses"
    ))
}

pub(crate) fn record(collector: &mut Collector, meta: RequestMeta) -> Result<()> {
    if collector.record(&meta) {
        Ok(())
    } else {
        Err(Error::Pipeline(format!(
            "request {} came back with incomplete timestamps: {:?}",
            meta.id, meta.stamps
        )))
    }
}
