//! The batcher's thread: the loop that feeds [`BatcherState`] from the request queue,
//! apart from the state machine itself so that the latter stays libtorch-free.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::batcher::BatcherState;
use super::stages::{Inputs, TensorBatch, TensorRequest};
use crate::error::Result;
use crate::request::{RunClock, Stamp};

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
            Some(deadline) => requests.recv_deadline(clock.instant_at(deadline)),
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
