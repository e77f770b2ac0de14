//! The batcher's thread: the loop that feeds [`BatcherState`] from the request queue,
//! apart from the state machine itself so that the latter stays libtorch-free.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::batcher::BatcherState;
use super::stages::{Inputs, TensorBatch, TensorRequest};
use crate::error::Result;
use crate::request::RunClock;

/// The batcher thread: feeds [`BatcherState`] from the request queue and sends each
/// batch it releases; flushes what is left when the queue hangs up.
pub(super) fn batcher_loop(
    mut state: BatcherState<Inputs>,
    requests: &Receiver<TensorRequest>,
    batches: &Sender<TensorBatch>,
    clock: &RunClock,
) -> Result<()> {
    loop {
        let received = match state.deadline() {
            None => requests.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => requests.recv_deadline(clock.instant_at(deadline)),
        };
        let done = match received {
            Ok(request) => {
                state.push(request, clock.now());
                while let Ok(request) = requests.try_recv() {
                    state.push(request, clock.now());
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
