//! The load generator: the client's side of the request and response queues, and
//! the three ways it sends a window of requests (a burst, Poisson arrivals at their
//! intended times, or a closed loop with a fixed number in flight) while collecting
//! the responses on the calling thread.
//!
//! Open-loop sending runs on its own thread so that no response waits for the
//! sending to end; latency counts from each request's intended send time, so a
//! sender that falls behind cannot hide queueing.

use crossbeam_channel::{Receiver, Sender};
use tch::Tensor;

use super::collector::Collector;
use super::inputs::InputPool;
use super::stages::{ResponseResult, TensorRequest};
use super::wait::WaitPolicy;
use crate::error::{Error, Result};
use crate::request::{Request, RequestMeta, RunClock, Stamp};

/// The load generator's side of the queues.
pub(super) struct Client {
    pub(super) tx: Sender<TensorRequest>,
    pub(super) rx: Receiver<ResponseResult>,
    pub(super) clock: RunClock,
    pub(super) batch: u32,
    pub(super) wait: WaitPolicy,
}

impl Client {
    pub(super) fn send(&self, id: u64, payload: Tensor) -> Result<()> {
        send_request(&self.tx, &self.clock, id, self.batch, payload)
    }

    /// The next response, stamped on arrival; an error if the backend stopped.
    pub(super) fn receive(&self, answered: u64, expected: u64) -> Result<RequestMeta> {
        match self.wait.recv(&self.rx) {
            Ok(Ok(mut response)) => {
                response.meta.stamps.set(Stamp::Received, self.clock.now());
                Ok(response.meta)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Pipeline(format!(
                "the backend stopped after {answered} of {expected} responses"
            ))),
        }
    }
}

/// Stamps a request as meant and sent now, and puts it on the queue.
#[inline]
fn send_request(
    tx: &Sender<TensorRequest>,
    clock: &RunClock,
    id: u64,
    samples: u32,
    payload: Tensor,
) -> Result<()> {
    tx.send(Request::sent_now(id, samples, payload, clock))
        .map_err(|_| Error::Pipeline("the backend stopped taking requests".into()))
}

/// How far ahead of the first intended send a schedule starts, so that the sender
/// thread is up before its first deadline.
const SCHEDULE_LEAD_NS: u64 = 2_000_000;

/// Open loop: a sender thread puts the requests on the queue, back to back (burst,
/// `schedule` None) or each at its intended time, while this thread collects, so no
/// response waits for the sending to end.
pub(super) fn collect_open_loop(
    client: &Client,
    inputs: &InputPool,
    first: u64,
    n: u64,
    schedule: Option<Vec<u64>>,
    mut collector: Collector,
) -> Result<Collector> {
    let payloads: Vec<Tensor> = (first..first + n).map(|id| inputs.get(id)).collect();
    let (tx, clock, batch) = (client.tx.clone(), client.clock, client.batch);
    let start = clock.now() + SCHEDULE_LEAD_NS;
    let sender = std::thread::Builder::new()
        .name("sender".into())
        .spawn(move || {
            let mut offsets = schedule.into_iter().flatten();
            for (id, payload) in (first..).zip(payloads) {
                let request = match offsets.next() {
                    None => Request::sent_now(id, batch, payload, &clock),
                    Some(offset) => {
                        let intended = start + offset;
                        sleep_until(&clock, intended);
                        Request::scheduled(id, batch, payload, intended, &clock)
                    }
                };
                if tx.send(request).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::Pipeline(format!("cannot start the sender thread: {e}")))?;
    let result = (0..n).try_for_each(|k| record(&mut collector, client.receive(k, n)?));
    let _ = sender.join();
    result.map(|()| collector)
}

/// Closed loop: at most `concurrency` requests in flight; each response sends the next.
pub(super) fn collect_closed_loop(
    client: &Client,
    inputs: &InputPool,
    first: u64,
    n: u64,
    concurrency: u64,
    mut collector: Collector,
) -> Result<Collector> {
    let mut next = first;
    let end = first + n;
    while next < end && next - first < concurrency {
        client.send(next, inputs.get(next))?;
        next += 1;
    }
    for k in 0..n {
        let meta = client.receive(k, n)?;
        if next < end {
            client.send(next, inputs.get(next))?;
            next += 1;
        }
        record(&mut collector, meta)?;
    }
    Ok(collector)
}

/// Sleeps until clock reading `at`: the OS sleep for all but the last 200 µs (its
/// usual overshoot), then polling, so that sender lag stays in the µs on an idle core.
fn sleep_until(clock: &RunClock, at: u64) {
    const POLL_NS: u64 = 200_000;
    loop {
        let now = clock.now();
        if now >= at {
            return;
        }
        let left = at - now;
        if left > POLL_NS {
            std::thread::sleep(std::time::Duration::from_nanos(left - POLL_NS));
        } else {
            std::hint::spin_loop();
        }
    }
}

fn record(collector: &mut Collector, meta: RequestMeta) -> Result<()> {
    if collector.record(&meta) {
        Ok(())
    } else {
        Err(Error::Pipeline(format!(
            "request {} came back with incomplete timestamps: {:?}",
            meta.id, meta.stamps
        )))
    }
}
