//! What travels through the pipeline: a request's identity, its timestamps, and a
//! payload. Generic over the payload so that the hot path (stamping, channel hops,
//! batching, metrics) can be measured without libtorch.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// A monotonic clock whose readings are nanoseconds since the run began.
///
/// Stamps are plain `u64`s so that requests stay small and copyable; 0 means
/// "not stamped yet", which is why readings start at 1.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    epoch: Instant,
}

impl RunClock {
    /// Starts a clock now.
    pub fn start() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the clock started, at least 1.
    #[inline]
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// The instant a reading stands for (for sleeping until an intended send time).
    pub fn instant_at(&self, reading: u64) -> Instant {
        self.epoch + std::time::Duration::from_nanos(reading.saturating_sub(1))
    }
}

/// The moments a request passes, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Stamp {
    /// When the request was meant to be sent (closed loop: when it was sent).
    Intended,
    /// When the sender actually put it on the request queue.
    Sent,
    /// When the backend's first stage took it off the request queue.
    Dequeued,
    /// When the batcher released it in a batch.
    Batched,
    /// When its input was in the worker's device buffer.
    CopiedIn,
    /// When the forward that computed it returned.
    Computed,
    /// When its output was in a host tensor.
    CopiedOut,
    /// When the collector took the response off the response queue.
    Received,
}

/// Number of [`Stamp`]s.
pub const STAMP_COUNT: usize = 8;

impl Stamp {
    /// All stamps in pipeline order.
    pub const ALL: [Stamp; STAMP_COUNT] = [
        Stamp::Intended,
        Stamp::Sent,
        Stamp::Dequeued,
        Stamp::Batched,
        Stamp::CopiedIn,
        Stamp::Computed,
        Stamp::CopiedOut,
        Stamp::Received,
    ];
}

/// One stage of the per-request latency breakdown: the time from one stamp to the next.
///
/// Each stage includes any wait to enter it, so the stages add up to the end-to-end
/// latency (intended send to received) exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Intended send → dequeued by the backend (includes any sender lag).
    Queue,
    /// Dequeued → released by the batcher.
    Batch,
    /// Released → input copied into the worker's buffer (includes waiting for a buffer).
    CopyIn,
    /// Copied in → forward returned (includes waiting for a free worker).
    Compute,
    /// Forward returned → output in a host tensor (includes waiting for the copy-out stage).
    CopyOut,
    /// Host tensor ready → response taken by the collector.
    Response,
}

impl Stage {
    /// All stages in pipeline order.
    pub const ALL: [Stage; 6] = [
        Stage::Queue,
        Stage::Batch,
        Stage::CopyIn,
        Stage::Compute,
        Stage::CopyOut,
        Stage::Response,
    ];

    /// The stamps a stage runs between.
    pub const fn bounds(self) -> (Stamp, Stamp) {
        match self {
            Stage::Queue => (Stamp::Intended, Stamp::Dequeued),
            Stage::Batch => (Stamp::Dequeued, Stamp::Batched),
            Stage::CopyIn => (Stamp::Batched, Stamp::CopiedIn),
            Stage::Compute => (Stamp::CopiedIn, Stamp::Computed),
            Stage::CopyOut => (Stamp::Computed, Stamp::CopiedOut),
            Stage::Response => (Stamp::CopiedOut, Stamp::Received),
        }
    }

    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Queue => "queue",
            Stage::Batch => "batch",
            Stage::CopyIn => "copy_in",
            Stage::Compute => "compute",
            Stage::CopyOut => "copy_out",
            Stage::Response => "response",
        }
    }
}

/// How a request's stamps are read as stages: by the in-process pipeline's
/// stages, or by the client's stages of a request sent to a server over the network
/// (`--target`), whose own stages the client cannot see.
///
/// A request to a remote server uses the stamps as follows: [`Stamp::Dequeued`]
/// when the network client takes it, [`Stamp::Batched`] when it goes on the wire
/// (a connection was free), [`Stamp::Computed`] when the whole response has been
/// read, [`Stamp::CopiedOut`] when the response was decoded and checked;
/// [`Stamp::CopiedIn`] is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageScheme {
    /// The in-process pipeline's [`Stage`]s.
    #[default]
    Pipeline,
    /// A request to a server over the network.
    Remote,
}

/// One stage of a [`StageScheme`]: its report name and the stamps it runs between.
pub type StageDef = (&'static str, Stamp, Stamp);

const PIPELINE_STAGES: [StageDef; 6] = [
    ("queue", Stamp::Intended, Stamp::Dequeued),
    ("batch", Stamp::Dequeued, Stamp::Batched),
    ("copy_in", Stamp::Batched, Stamp::CopiedIn),
    ("compute", Stamp::CopiedIn, Stamp::Computed),
    ("copy_out", Stamp::Computed, Stamp::CopiedOut),
    ("response", Stamp::CopiedOut, Stamp::Received),
];

const REMOTE_STAGES: [StageDef; 5] = [
    ("queue", Stamp::Intended, Stamp::Dequeued),
    ("connection", Stamp::Dequeued, Stamp::Batched),
    ("round_trip", Stamp::Batched, Stamp::Computed),
    ("check", Stamp::Computed, Stamp::CopiedOut),
    ("response", Stamp::CopiedOut, Stamp::Received),
];

impl StageScheme {
    /// The stages, in the order a request passes them; they add up to its latency.
    #[inline]
    pub const fn stages(self) -> &'static [StageDef] {
        match self {
            StageScheme::Pipeline => &PIPELINE_STAGES,
            StageScheme::Remote => &REMOTE_STAGES,
        }
    }

    /// The stage where the work the run measures happens (the forward; the round
    /// trip to the server): the rest of the latency is overhead.
    pub const fn core_stage(self) -> &'static str {
        match self {
            StageScheme::Pipeline => "compute",
            StageScheme::Remote => "round_trip",
        }
    }
}

/// The most stages a scheme has.
pub const MAX_STAGES: usize = 6;

/// A request's timestamps, indexed by [`Stamp`], and the wake-up of each hop
/// between threads that was measured (see [`Stamps::took`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    at: [u64; STAMP_COUNT],
    /// Indexed by the stamp that ends the hop's stage: the wake-up in ns plus 1,
    /// 0 where the hop is not measured (so that a sum needs no branch).
    wake: [u32; STAMP_COUNT],
}

impl Stamps {
    /// Records `stamp` at clock reading `at`.
    #[inline]
    pub fn set(&mut self, stamp: Stamp, at: u64) {
        self.at[stamp as usize] = at;
    }

    /// The reading for `stamp` (0 if never stamped).
    #[inline]
    pub fn get(&self, stamp: Stamp) -> u64 {
        self.at[stamp as usize]
    }

    /// Records a hand-off between threads: the request was ready for the next
    /// thread at its stamp `ready`, that thread was free to take work from
    /// `free_at` and took it at `taken`. The hop's **wake-up** is the time from
    /// the later of the two (the first moment the thread could have started on
    /// it) to `taken`: a futex wake-up and a scheduler's delay when the thread
    /// was parked, a channel pop when it was already waiting on the queue.
    /// Whatever came before that moment is queueing: waiting behind other work.
    /// The wake-up is counted in the stage that `ends` ends (the one the hop's
    /// wait is in, as the stages add up to the latency).
    #[inline]
    pub fn took(&mut self, ready: Stamp, ends: Stamp, free_at: u64, taken: u64) {
        let from = self.get(ready).max(free_at);
        self.wake[ends as usize] =
            taken.saturating_sub(from).min(u64::from(u32::MAX - 1)) as u32 + 1;
    }

    /// Each stamp's wake-up slot: the wake-up in ns plus 1, 0 where none was
    /// measured (for summing without a branch per stage).
    #[inline]
    pub fn wakes_raw(&self) -> &[u32; STAMP_COUNT] {
        &self.wake
    }

    /// The wake-up of the hop counted in the stage ending at `ends`, ns; `None`
    /// where no hand-off was measured.
    #[inline]
    pub fn wake_ns(&self, ends: Stamp) -> Option<u64> {
        let w = self.wake[ends as usize];
        (w != 0).then(|| u64::from(w) - 1)
    }

    /// Duration of `stage` in nanoseconds, or `None` if either end is missing or out of order.
    #[inline]
    pub fn stage_ns(&self, stage: Stage) -> Option<u64> {
        let (from, to) = stage.bounds();
        let (a, b) = (self.get(from), self.get(to));
        (a != 0 && b >= a).then(|| b - a)
    }

    /// Duration of a scheme's stage in nanoseconds, as [`Stamps::stage_ns`].
    #[inline]
    pub fn span_ns(&self, (_, from, to): StageDef) -> Option<u64> {
        let (a, b) = (self.get(from), self.get(to));
        (a != 0 && b >= a).then(|| b - a)
    }

    /// End-to-end latency: received minus intended send.
    #[inline]
    pub fn latency_ns(&self) -> Option<u64> {
        let (a, b) = (self.get(Stamp::Intended), self.get(Stamp::Received));
        (a != 0 && b >= a).then(|| b - a)
    }

    /// How late the sender was against the intended send time.
    #[inline]
    pub fn sender_lag_ns(&self) -> u64 {
        self.get(Stamp::Sent)
            .saturating_sub(self.get(Stamp::Intended))
    }
}

/// A request's identity and timing, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestMeta {
    /// Position in the run; the warm-up requests come first.
    pub id: u64,
    /// Samples in this request (the batch size it was sent with).
    pub samples: u32,
    /// Samples in the forward that computed it (this request's and any it was
    /// batched with); 0 until computed.
    pub batch_samples: u32,
    /// Its timestamps so far.
    pub stamps: Stamps,
}

impl RequestMeta {
    /// A request of `samples` samples, meant to be sent at `intended`.
    #[inline]
    pub fn new(id: u64, samples: u32, intended: u64) -> Self {
        let mut stamps = Stamps::default();
        stamps.set(Stamp::Intended, intended);
        Self {
            id,
            samples,
            batch_samples: 0,
            stamps,
        }
    }
}

/// A request and its input.
#[derive(Debug)]
pub struct Request<P> {
    /// Identity and timing.
    pub meta: RequestMeta,
    /// The input (a host tensor in the real pipeline).
    pub payload: P,
}

impl<P> Request<P> {
    /// A request meant to be sent, and sent, now (burst and closed-loop arrivals).
    #[inline]
    pub fn sent_now(id: u64, samples: u32, payload: P, clock: &RunClock) -> Self {
        let now = clock.now();
        let mut meta = RequestMeta::new(id, samples, now);
        meta.stamps.set(Stamp::Sent, now);
        Self { meta, payload }
    }
}

impl<P> Request<P> {
    /// A request meant to be sent at `intended` (open-loop arrivals), sent now.
    #[inline]
    pub fn scheduled(id: u64, samples: u32, payload: P, intended: u64, clock: &RunClock) -> Self {
        let mut meta = RequestMeta::new(id, samples, intended);
        meta.stamps.set(Stamp::Sent, clock.now());
        Self { meta, payload }
    }
}

/// Requests the batcher released together, run as one forward.
#[derive(Debug)]
pub struct Batch<P> {
    /// The requests, in the order their samples appear in `payloads`.
    pub metas: Vec<RequestMeta>,
    /// Each request's input, in the same order (concatenated at copy-in).
    pub payloads: Vec<P>,
}

impl<P> Batch<P> {
    /// Total samples in the batch.
    pub fn samples(&self) -> u32 {
        self.metas.iter().map(|m| m.samples).sum()
    }

    /// Stamps every request in the batch.
    #[inline]
    pub fn stamp_all(&mut self, stamp: Stamp, at: u64) {
        for meta in &mut self.metas {
            meta.stamps.set(stamp, at);
        }
    }

    /// Records the same hand-off for every request in the batch ([`Stamps::took`]).
    #[inline]
    pub fn took_all(&mut self, ready: Stamp, ends: Stamp, free_at: u64, taken: u64) {
        for meta in &mut self.metas {
            meta.stamps.took(ready, ends, free_at, taken);
        }
    }
}

/// A request's answer, on its way back to the collector.
#[derive(Debug)]
pub struct Response<P> {
    /// Identity and timing.
    pub meta: RequestMeta,
    /// The output (a host tensor in the real pipeline).
    pub payload: P,
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
