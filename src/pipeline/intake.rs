//! Where the backend's first stage takes its work from, and the stamping that
//! happens there. Generic over the payload so the hot path can be measured
//! without libtorch.

use crossbeam_channel::Receiver;

use super::wait::WaitPolicy;
use crate::request::{Batch, Request, RunClock, Stamp};

/// The backend's input.
pub enum Intake<P> {
    /// Straight from the request queue: each request is its own batch.
    Requests(Receiver<Request<P>>),
    /// From the batcher thread.
    Batches(Receiver<Batch<P>>),
}

impl<P> Clone for Intake<P> {
    fn clone(&self) -> Self {
        match self {
            Intake::Requests(rx) => Intake::Requests(rx.clone()),
            Intake::Batches(rx) => Intake::Batches(rx.clone()),
        }
    }
}

impl<P> Intake<P> {
    /// The next batch, or `None` once the sender side has hung up.
    #[inline]
    pub fn next(&self, clock: &RunClock, wait: WaitPolicy) -> Option<Batch<P>> {
        match self {
            Intake::Requests(rx) => wait
                .recv(rx)
                .ok()
                .map(|request| single(request, clock.now())),
            Intake::Batches(rx) => wait.recv(rx).ok(),
        }
    }
}

/// A request as a batch of its own, dequeued and released at `now`.
#[inline]
pub fn single<P>(mut request: Request<P>, now: u64) -> Batch<P> {
    request.meta.stamps.set(Stamp::Dequeued, now);
    request.meta.stamps.set(Stamp::Batched, now);
    Batch {
        metas: vec![request.meta],
        payloads: vec![request.payload],
    }
}
