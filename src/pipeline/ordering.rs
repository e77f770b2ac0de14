//! Who waits for what, per batch: the order of device work and events for each
//! stream layout, as plain data that the backend's stage threads execute and that
//! the tests below check without a GPU.
//!
//! On a GPU, a copy, a forward and a record return as soon as they are *queued* on a
//! stream; correctness comes from events. The rules (seed 001, PR 116189):
//!
//! - `shared`: each worker's copy-in, forward and copy-out are queued on its own
//!   stream, whose order already makes each wait for the one before; the host waits
//!   once, for the copy-out, before the response goes to the collector.
//! - `dedicated`: the copy-in thread queues the copy on its stream and records an
//!   event; the worker's stream waits on that event (on the device, not the host),
//!   runs the forward and records an event; the copy-out thread's stream waits on it,
//!   copies, and the host waits once per batch before responding. The input buffer goes
//!   back to the copy-in thread with an event recorded after the forward, and the next
//!   copy into it waits on that event, so a copy never overwrites an input that a
//!   forward still reads.
//!
//! Each piece of work is bracketed by two recorded marks, so device times per stage
//! are the elapsed time between them (with timing events; on the CPU there are none).

use crate::config::StreamLayout;

/// Device work a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// Host request tensors into the device input buffer.
    CopyIn,
    /// The model's forward on the device buffer.
    Forward,
    /// The output into a host tensor.
    CopyOut,
}

impl Work {
    /// In pipeline order.
    pub const ALL: [Work; 3] = [Work::CopyIn, Work::Forward, Work::CopyOut];

    /// Position in [`Work::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// An event recorded on a stream just before or just after a piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// Recorded before the work is queued.
    Before(Work),
    /// Recorded after the work is queued: reached when the work has finished.
    After(Work),
}

impl Mark {
    /// Number of distinct marks.
    pub const COUNT: usize = 6;

    /// A dense index for per-batch event arrays.
    pub const fn index(self) -> usize {
        match self {
            Mark::Before(w) => 2 * w.index(),
            Mark::After(w) => 2 * w.index() + 1,
        }
    }
}

/// The thread (with its stream) that performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A compute worker (in `shared`, it also copies).
    Worker,
    /// The copy-in thread (`dedicated` only).
    CopyIn,
    /// The copy-out thread (`dedicated` only).
    CopyOut,
}

/// One step of a role's per-batch routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Later work on this role's stream waits, on the device, for the event the
    /// input buffer came back with (the last forward that read it).
    AwaitBufferFree,
    /// Later work on this role's stream waits, on the device, for a mark recorded by
    /// another role's stream.
    StreamWaits(Mark),
    /// Records a mark on this role's stream.
    Record(Mark),
    /// Queues the work on this role's stream.
    Issue(Work),
    /// Records a fresh event and hands the input buffer back with it.
    ReleaseBuffer,
    /// The host waits for a mark: the one host wait per batch.
    HostWaits(Mark),
    /// Sends the responses to the collector.
    Respond,
}

use Mark::{After, Before};
use Step::*;
use Work::{CopyIn as CopyInWork, CopyOut as CopyOutWork, Forward};

const SHARED_WORKER: &[Step] = &[
    Record(Before(CopyInWork)),
    Issue(CopyInWork),
    Record(After(CopyInWork)),
    Record(Before(Forward)),
    Issue(Forward),
    Record(After(Forward)),
    Record(Before(CopyOutWork)),
    Issue(CopyOutWork),
    Record(After(CopyOutWork)),
    HostWaits(After(CopyOutWork)),
    Respond,
];

const DEDICATED_COPY_IN: &[Step] = &[
    AwaitBufferFree,
    Record(Before(CopyInWork)),
    Issue(CopyInWork),
    Record(After(CopyInWork)),
];

const DEDICATED_WORKER: &[Step] = &[
    StreamWaits(After(CopyInWork)),
    Record(Before(Forward)),
    Issue(Forward),
    Record(After(Forward)),
    ReleaseBuffer,
];

const DEDICATED_COPY_OUT: &[Step] = &[
    StreamWaits(After(Forward)),
    Record(Before(CopyOutWork)),
    Issue(CopyOutWork),
    Record(After(CopyOutWork)),
    HostWaits(After(CopyOutWork)),
    Respond,
];

/// The roles a layout has, in the order a batch passes them.
pub fn roles(layout: StreamLayout) -> &'static [Role] {
    match layout {
        StreamLayout::Shared => &[Role::Worker],
        StreamLayout::Dedicated => &[Role::CopyIn, Role::Worker, Role::CopyOut],
    }
}

/// What `role` does with each batch under `layout` (empty for a role the layout lacks).
pub fn steps(layout: StreamLayout, role: Role) -> &'static [Step] {
    match (layout, role) {
        (StreamLayout::Shared, Role::Worker) => SHARED_WORKER,
        (StreamLayout::Shared, _) => &[],
        (StreamLayout::Dedicated, Role::CopyIn) => DEDICATED_COPY_IN,
        (StreamLayout::Dedicated, Role::Worker) => DEDICATED_WORKER,
        (StreamLayout::Dedicated, Role::CopyOut) => DEDICATED_COPY_OUT,
    }
}

/// Does one step; the backend's stages implement it with a device stream, the tests
/// with a model of streams and events.
pub trait StepExecutor {
    /// The executor's error.
    type Error;
    /// Performs `step`.
    fn step(&mut self, step: Step) -> Result<(), Self::Error>;
}

/// Performs `steps` in order, stopping at the first error.
pub fn execute<E: StepExecutor>(steps: &[Step], executor: &mut E) -> Result<(), E::Error> {
    steps.iter().try_for_each(|&s| executor.step(s))
}

#[cfg(test)]
#[path = "ordering_tests.rs"]
mod tests;
