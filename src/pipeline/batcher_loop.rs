//! The batcher's thread: the loop that feeds [`BatcherState`] from the request queue,
//! apart from the state machine itself so that the latter stays libtorch-free.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use super::batcher::BatcherState;
use super::stages::{Inputs, TensorBatch, TensorRequest};
use crate::error::Result;
use crate::request::{RunClock, Stamp};

/// How far ahead of a batch's deadline the batcher stops parking and polls: a
/// parked thread's timer fires late (timer slack, and on a VM the idle core's own
/// wake-up). Measured on the 2-core VM (`spin:5ms`, `poisson:150`, max batch 4,
/// 2 ms timeout): parked to the deadline, timed-out batches left 108 µs late on
/// average and up to 1.25 ms.
const DEADLINE_LEAD: Duration = Duration::from_micros(200);

/// The batcher thread: feeds [`BatcherState`] from the request queue and sends each
/// batch it releases; flushes what is left when the queue hangs up.
pub(super) fn batcher_loop(
    mut state: BatcherState<Inputs>,
    requests: &Receiver<TensorRequest>,
    batches: &Sender<TensorBatch>,
    clock: &RunClock,
) -> Result<()> {
    loop {
        let free_at = clock.now();
        let received = match state.deadline() {
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => recv_by(requests, clock.instant_at(deadline)),
        };
        let done = match received {
            Ok(request) => {
                push_taken(&mut state, request, free_at, clock.now());
                while let Ok(request) = requests.try_recv() {
                    push_taken(&mut state, request, free_at, clock.now());
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        while let Some(batch) = state.next_batch(clock.now(), done) {
            if batches.send(batch).is_err() {
                return Ok(());
            }
        }
        if done {
            return Ok(());
        }
    }
}

/// The next request by `deadline`: parked until the lead, then polled.
fn recv_by(
    requests: &Receiver<TensorRequest>,
    deadline: std::time::Instant,
) -> std::result::Result<TensorRequest, RecvTimeoutError> {
    match requests.recv_deadline(deadline - DEADLINE_LEAD) {
        Err(RecvTimeoutError::Timeout) => {}
        other => return other,
    }
    while std::time::Instant::now() < deadline {
        match requests.try_recv() {
            Ok(request) => return Ok(request),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    Err(RecvTimeoutError::Timeout)
}

/// Queues a request the batcher took at `now`, having been free to since `free_at`
/// (the hop's wake-up is the queue stage's).
#[inline]
fn push_taken(
    state: &mut BatcherState<Inputs>,
    mut request: TensorRequest,
    free_at: u64,
    now: u64,
) {
    request
        .meta
        .stamps
        .took(Stamp::Sent, Stamp::Dequeued, free_at, now);
    state.push(request, now);
}
