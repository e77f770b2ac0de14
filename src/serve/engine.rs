//! The bridge between the network front and the pipeline: the pipeline's request
//! queue behind a map of requests waiting for their answers, a dispatcher thread
//! that routes each response to its request, and the server's phase (loading,
//! ready, draining, failed) that health checks report.
//!
//! The pipeline answers in whatever order its workers finish; each request waits
//! on a oneshot channel of its own, registered under its id before the request is
//! queued, so an answer can never come back before it is awaited. The stage that
//! answers wakes the request itself ([`ResponseSink`]): no dispatcher thread, no
//! extra wake-up between the pipeline and the network.
//! When a stage fails the pipeline stops: every waiting request gets a 500 naming
//! the failure, and the server stops being live, so an orchestrator restarts it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use crossbeam_channel::Sender;
use tch::Tensor;
use tokio::sync::oneshot;

use super::metrics::{FailureReason, Metrics};
use super::postprocess::Postprocess;
use super::preprocess::PrepPool;
use super::signature::Signature;
use crate::error::{Error, Result};
use crate::oip::Refusal;
use crate::pipeline::stages::{ResponseResult, ResponseSink, TensorRequest};
use crate::pipeline::{Queues, Server};
use crate::request::{Request, RequestMeta, RunClock, Stamp};

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Loading, compiling and warming up the model: live, not ready.
    Loading = 0,
    /// Answering.
    Ready = 1,
    /// Stopping: in-flight requests finish, new ones get 503.
    Draining = 2,
    /// A pipeline stage failed: nothing more can be answered; not live.
    Failed = 3,
}

/// A request's answer from the pipeline: its stamps and its host output.
pub type Answer = (RequestMeta, Tensor);

/// What the front needs once the model is ready.
pub struct Ready {
    /// The model on the wire.
    pub signature: Signature,
    /// The pipeline's clock, for the front's own stamps.
    pub clock: RunClock,
    /// What happens to the output before it is encoded.
    pub postprocess: Postprocess,
    /// The decoding threads, with `--preprocess image`.
    pub prep: Option<PrepPool>,
    /// The model inputs' element types, in order.
    pub kinds: Vec<tch::Kind>,
}

/// The bridge; shared by every connection.
pub struct Engine {
    /// The name clients address the model by.
    pub model: String,
    /// The server's metrics.
    pub metrics: Metrics,
    phase: AtomicU8,
    failure: Mutex<Option<String>>,
    ready: OnceLock<Ready>,
    requests: RwLock<Option<Sender<TensorRequest>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<std::result::Result<Answer, Refusal>>>>,
    next_id: AtomicU64,
    /// How long a request polls for its answer before parking (`--spin-wait`).
    spin: OnceLock<Duration>,
}

impl Engine {
    /// A server for `model` that is still loading.
    pub fn new(model: &str) -> Arc<Self> {
        Arc::new(Self {
            model: model.into(),
            metrics: Metrics::new(model),
            phase: AtomicU8::new(Phase::Loading as u8),
            failure: Mutex::new(None),
            ready: OnceLock::new(),
            requests: RwLock::new(None),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            spin: OnceLock::new(),
        })
    }

    /// Makes each request poll for its answer for up to `spin` before parking
    /// (the pipeline's `--spin-wait`; [`super::polling`]).
    pub fn poll_answers_for(&self, spin: Duration) {
        let _ = self.spin.set(spin);
    }

    /// Where the server is now.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Loading,
            1 => Phase::Ready,
            2 => Phase::Draining,
            _ => Phase::Failed,
        }
    }

    /// Live: not failed (a failed pipeline cannot recover; restart the server).
    pub fn live(&self) -> bool {
        self.phase() != Phase::Failed
    }

    /// The model once it is ready to answer; `None` while loading, draining or failed.
    pub fn ready(&self) -> Option<&Ready> {
        (self.phase() == Phase::Ready)
            .then(|| self.ready.get())
            .flatten()
    }

    /// The model's description, once loaded (also while draining).
    pub fn loaded(&self) -> Option<&Ready> {
        self.ready.get()
    }

    /// Why the server cannot answer now, as the 503 (or 500) the front sends.
    pub fn not_ready(&self) -> Refusal {
        match self.phase() {
            Phase::Loading => {
                Refusal::unavailable(format!("model '{}' is still loading", self.model))
            }
            Phase::Draining => Refusal::unavailable("the server is shutting down"),
            Phase::Failed => Refusal::unavailable(format!(
                "the pipeline stopped: {}; restart the server",
                self.failure()
            )),
            Phase::Ready => Refusal::internal("ready but not loaded; this is a bug"),
        }
    }

    fn failure(&self) -> String {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "unknown failure".into())
    }

    /// Takes over the pipeline once the model is warm: its request queue, and its
    /// answers, which the stages now hand to this engine directly.
    pub fn open(self: &Arc<Self>, server: &Server, queues: Queues, ready: Ready) -> Result<()> {
        self.next_id.store(queues.first_id, Ordering::Release);
        *self.requests.write().unwrap_or_else(|e| e.into_inner()) = Some(queues.requests);
        if self.ready.set(ready).is_err() {
            return Err(Error::Pipeline(
                "the server was opened twice; this is a bug".into(),
            ));
        }
        if !server.answer_directly(Arc::clone(self) as Arc<dyn ResponseSink>) {
            return Err(Error::Pipeline(
                "the pipeline answers elsewhere already; this is a bug".into(),
            ));
        }
        self.phase.store(Phase::Ready as u8, Ordering::Release);
        Ok(())
    }

    /// Stops taking requests (in-flight ones are still answered).
    pub fn drain(&self) {
        let _ = self.phase.compare_exchange(
            Phase::Ready as u8,
            Phase::Draining as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        let _ = self.phase.compare_exchange(
            Phase::Loading as u8,
            Phase::Draining as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Hangs up the request queue, so that the pipeline can stop once drained.
    pub fn close(&self) {
        self.drain();
        self.requests
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Requests waiting for the pipeline now.
    pub fn waiting(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Sends one request's host inputs through the pipeline and awaits its answer.
    /// `handed_over` (a reading of the pipeline's clock) is its intended and sent time.
    pub async fn infer(
        &self,
        inputs: Vec<Tensor>,
        samples: u32,
        handed_over: u64,
    ) -> std::result::Result<Answer, Refusal> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, reply);
        let mut meta = RequestMeta::new(id, samples, handed_over);
        meta.stamps.set(Stamp::Sent, handed_over);
        let request = Request {
            meta,
            payload: inputs,
        };
        let sent = match &*self.requests.read().unwrap_or_else(|e| e.into_inner()) {
            Some(tx) => tx.send(request).is_ok(),
            None => false,
        };
        if !sent {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            return Err(self.not_ready());
        }
        let spin = self.spin.get().copied().unwrap_or_default();
        match super::polling::receive(answer, spin).await {
            Some(answered) => answered,
            None => Err(Refusal::internal(format!(
                "the pipeline stopped before answering: {}",
                self.failure()
            ))),
        }
    }

    /// A stage failed: the pipeline has stopped; every waiting request is answered
    /// with the failure.
    fn fail(&self, e: &Error) {
        let message = crate::error::without_cpp_frames(&e.to_string());
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(message.clone());
        self.phase.store(Phase::Failed as u8, Ordering::Release);
        let waiting: Vec<_> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, reply) in waiting {
            let _ = reply.send(Err(Refusal::internal(format!(
                "the pipeline failed: {message}"
            ))));
        }
    }

    /// Counts a request that was not answered.
    pub fn refused(&self, refusal: &Refusal) {
        use crate::oip::RefusalKind::*;
        let reason = match refusal.kind {
            BadRequest | NotFound | TooLarge => FailureReason::Rejected,
            Unavailable => FailureReason::Unavailable,
            Internal => FailureReason::Backend,
        };
        self.metrics.failed(&self.model, reason);
    }
}

impl ResponseSink for Engine {
    /// On the answering stage's thread: stamps the answer received and wakes the
    /// request waiting for it (a request whose client went away is dropped); a
    /// stage's error fails the server.
    fn answer(&self, response: ResponseResult) -> bool {
        match response {
            Ok(mut response) => {
                if let Some(ready) = self.ready.get() {
                    response.meta.stamps.set(Stamp::Received, ready.clock.now());
                }
                let waiting = self
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&response.meta.id);
                if let Some(reply) = waiting {
                    let _ = reply.send(Ok((response.meta, response.payload)));
                }
            }
            Err(e) => self.fail(&e),
        }
        true
    }
}

/// Tracks one inference request from arrival to answer: it is pending in the
/// metrics meanwhile, and a request dropped before its answer (the client went
/// away) counts as canceled.
pub struct Tracked<'a> {
    engine: &'a Engine,
    settled: bool,
}

impl<'a> Tracked<'a> {
    /// A request has arrived.
    pub fn start(engine: &'a Engine) -> Self {
        engine.metrics.started();
        Self {
            engine,
            settled: false,
        }
    }

    /// It was answered, with these stamps.
    pub fn answered(mut self, timeline: &super::timeline::Timeline) {
        self.engine.metrics.answered(&self.engine.model, timeline);
        self.settled = true;
    }

    /// It was refused, or failed.
    pub fn refused(mut self, refusal: &Refusal) {
        self.engine.refused(refusal);
        self.settled = true;
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.engine
                .metrics
                .failed(&self.engine.model, FailureReason::Canceled);
        }
        self.engine.metrics.finished();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_not_ready_answers_503_saying_why() {
        let engine = Engine::new("m");
        assert!(engine.live() && engine.ready().is_none());
        let loading = engine.not_ready();
        assert_eq!(loading.http_status(), 503);
        assert!(loading.message.contains("still loading"), "{loading}");
        engine.drain();
        assert_eq!(engine.phase(), Phase::Draining);
        assert!(engine.not_ready().message.contains("shutting down"));
        engine.fail(&Error::Pipeline("worker-0 panicked".into()));
        assert!(!engine.live());
        let failed = engine.not_ready();
        assert!(
            failed.message.contains("worker-0 panicked") && failed.message.contains("restart"),
            "{failed}"
        );
    }
}
