//! The batcher's decision logic, apart from its thread and channels so that unit
//! tests and instruction-count benches can drive it directly.
//!
//! Semantics follow LitServe (seed 004): requests queue up until the batch would
//! exceed `max_batch_samples`, or until the oldest queued request has waited
//! `timeout`; then the queued requests leave as one batch. A request larger than the
//! limit on its own still runs, alone: refusing it would drop a user's request.

use std::collections::VecDeque;
use std::time::Duration;

use crate::request::{Batch, Request, Stamp};

/// Requests waiting to be batched, and the rule that releases them.
#[derive(Debug)]
pub struct BatcherState<P> {
    queue: VecDeque<Request<P>>,
    queued_samples: u32,
    max_samples: u32,
    timeout_ns: u64,
}

impl<P> BatcherState<P> {
    /// A batcher that releases at `max_samples` samples or after `timeout`.
    pub fn new(max_samples: u32, timeout: Duration) -> Self {
        Self {
            queue: VecDeque::new(),
            queued_samples: 0,
            max_samples: max_samples.max(1),
            timeout_ns: timeout.as_nanos() as u64,
        }
    }

    /// Queues a request that the batcher took off the request queue at `now`.
    #[inline]
    pub fn push(&mut self, mut request: Request<P>, now: u64) {
        request.meta.stamps.set(Stamp::Dequeued, now);
        self.queued_samples += request.meta.samples;
        self.queue.push_back(request);
    }

    /// Requests waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the oldest waiting request times out (clock reading), if any is waiting.
    #[inline]
    pub fn deadline(&self) -> Option<u64> {
        self.queue
            .front()
            .map(|r| r.meta.stamps.get(Stamp::Dequeued) + self.timeout_ns)
    }

    /// The next batch to run at `now`, if the rule releases one: when a full batch is
    /// waiting, or the oldest request has timed out, or `flush` is set (no more requests
    /// will come). Released requests are stamped [`Stamp::Batched`].
    #[inline]
    pub fn next_batch(&mut self, now: u64, flush: bool) -> Option<Batch<P>> {
        let timed_out = self.deadline().is_some_and(|d| now >= d);
        if self.queue.is_empty() || !(flush || timed_out || self.queued_samples >= self.max_samples)
        {
            return None;
        }
        Some(self.take_batch(now))
    }

    /// Takes requests from the front while they fit in `max_samples` (at least one).
    fn take_batch(&mut self, now: u64) -> Batch<P> {
        let mut metas = Vec::with_capacity(self.queue.len().min(self.max_samples as usize));
        let mut payloads = Vec::with_capacity(metas.capacity());
        let mut samples = 0;
        while let Some(front) = self.queue.front() {
            let n = front.meta.samples;
            if !metas.is_empty() && samples + n > self.max_samples {
                break;
            }
            let mut request = self.queue.pop_front().expect("front exists; this is a bug");
            request.meta.stamps.set(Stamp::Batched, now);
            samples += n;
            metas.push(request.meta);
            payloads.push(request.payload);
        }
        self.queued_samples -= samples;
        Batch { metas, payloads }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestMeta;

    fn req(id: u64, samples: u32) -> Request<()> {
        Request {
            meta: RequestMeta::new(id, samples, 1),
            payload: (),
        }
    }

    fn ids(b: &Batch<()>) -> Vec<u64> {
        b.metas.iter().map(|m| m.id).collect()
    }

    #[test]
    fn full_batch_leaves_at_once() {
        let mut b = BatcherState::new(4, Duration::from_millis(10));
        for i in 0..4 {
            b.push(req(i, 1), 100);
        }
        let batch = b.next_batch(100, false).expect("full batch");
        assert_eq!(ids(&batch), vec![0, 1, 2, 3]);
        assert!(batch
            .metas
            .iter()
            .all(|m| m.stamps.get(Stamp::Batched) == 100));
        assert!(b.is_empty());
    }

    #[test]
    fn partial_batch_waits_for_timeout() {
        let mut b = BatcherState::new(4, Duration::from_nanos(1_000));
        b.push(req(0, 1), 100);
        b.push(req(1, 1), 500);
        assert!(
            b.next_batch(1_099, false).is_none(),
            "oldest has waited 999 ns < 1000"
        );
        assert_eq!(b.deadline(), Some(1_100));
        let batch = b.next_batch(1_100, false).expect("timed out");
        assert_eq!(ids(&batch), vec![0, 1]);
    }

    #[test]
    fn single_request_leaves_on_timeout_alone() {
        let mut b = BatcherState::new(8, Duration::from_nanos(50));
        b.push(req(7, 1), 10);
        let batch = b.next_batch(60, false).unwrap();
        assert_eq!(ids(&batch), vec![7]);
        assert_eq!(batch.samples(), 1);
        assert!(b.next_batch(1_000, false).is_none());
    }

    #[test]
    fn max_smaller_than_waiting_splits_in_order() {
        let mut b = BatcherState::new(3, Duration::from_secs(1));
        for i in 0..7 {
            b.push(req(i, 1), 0);
        }
        assert_eq!(ids(&b.next_batch(0, false).unwrap()), vec![0, 1, 2]);
        assert_eq!(ids(&b.next_batch(0, false).unwrap()), vec![3, 4, 5]);
        assert!(
            b.next_batch(0, false).is_none(),
            "one left, not full, not timed out"
        );
        assert_eq!(ids(&b.next_batch(0, true).unwrap()), vec![6]);
    }

    #[test]
    fn oversized_request_runs_alone() {
        let mut b = BatcherState::new(4, Duration::from_secs(1));
        b.push(req(0, 1), 0);
        b.push(req(1, 6), 0);
        assert_eq!(ids(&b.next_batch(0, false).unwrap()), vec![0]);
        let big = b.next_batch(0, false).unwrap();
        assert_eq!((ids(&big), big.samples()), (vec![1], 6));
    }
}
