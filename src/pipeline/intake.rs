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
    /// The next batch, or `None` once the sender side has hung up. Records the
    /// hop's wake-up: a request's in the queue stage, a batch's (from the batcher)
    /// in the copy-in stage, whose wait it is.
    #[inline]
    pub fn next(&self, clock: &RunClock, wait: WaitPolicy) -> Option<Batch<P>> {
        let free_at = clock.now();
        match self {
            Intake::Requests(rx) => wait
                .recv(rx)
                .ok()
                .map(|request| single(request, free_at, clock.now())),
            Intake::Batches(rx) => wait.recv(rx).ok().map(|mut batch| {
                batch.took_all(Stamp::Batched, Stamp::CopiedIn, free_at, clock.now());
                batch
            }),
        }
    }
}

/// A request as a batch of its own, dequeued and released at `now` by a thread
/// free to take it from `free_at`.
#[inline]
pub fn single<P>(mut request: Request<P>, free_at: u64, now: u64) -> Batch<P> {
    request.meta.stamps.set(Stamp::Dequeued, now);
    request
        .meta
        .stamps
        .took(Stamp::Sent, Stamp::Dequeued, free_at, now);
    request.meta.stamps.set(Stamp::Batched, now);
    Batch {
        metas: vec![request.meta],
        payloads: vec![request.payload],
    }
}
