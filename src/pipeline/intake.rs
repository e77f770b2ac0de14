//! Where the backend's first stage takes its work from, and the stamping that
//! happens there. Generic over the payload so the hot path can be measured
//! without libtorch.

use crossbeam_channel::{Receiver, TryRecvError};

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
        match self {
            Intake::Requests(rx) => {
                let (request, free_at) = take(rx, clock, wait)?;
                let now = clock.now();
                Some(single(request, free_at.unwrap_or(now), now))
            }
            Intake::Batches(rx) => {
                let (mut batch, free_at) = take(rx, clock, wait)?;
                let now = clock.now();
                batch.took_all(Stamp::Batched, Stamp::CopiedIn, free_at.unwrap_or(now), now);
                Some(batch)
            }
        }
    }
}

/// The next item and, when the thread had to wait for it, since when it was
/// free; `None` for an item already queued (taken at once: no wake-up), which
/// saves a clock read per item when the stage is behind.
#[inline]
fn take<T>(rx: &Receiver<T>, clock: &RunClock, wait: WaitPolicy) -> Option<(T, Option<u64>)> {
    match rx.try_recv() {
        Ok(item) => Some((item, None)),
        Err(TryRecvError::Disconnected) => None,
        Err(TryRecvError::Empty) => {
            let free_at = clock.now();
            wait.recv(rx).ok().map(|item| (item, Some(free_at)))
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
