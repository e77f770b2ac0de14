//! The client's network side, in the place the pipeline's backend has in a local
//! run: the load generator puts each request on a queue that wakes the network
//! runtime directly, a task per request waits for a free connection, sends the
//! pre-encoded request, reads and checks the answer, and puts a response with the
//! request's stamps on the response queue the load generator collects from.
//!
//! Stamps of a remote request ([`StageScheme::Remote`]): taken by the network side
//! (`Dequeued`), on the wire (`Batched`), answer read (`Computed`), answer checked
//! (`CopiedOut`). A failed request is an [`Error::Target`] on the response queue,
//! which ends the window with what was measured.
//!
//! [`StageScheme::Remote`]: crate::request::StageScheme::Remote

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use tokio::sync::{mpsc, Semaphore};

use super::answer::check_answer;
use super::client::NetClient;
use super::inputs::EncodedPool;
use crate::error::{Error, Result};
use crate::pipeline::loadgen::RequestSink;
use crate::request::{Request, Response, RunClock, Stamp};

/// A request to the target: its payload is the index of its encoding in the pool.
pub type NetRequest = Request<usize>;

/// A response from the target (no payload: the answer was checked and dropped).
pub type NetResponse = Result<Response<()>>;

/// The load generator's side of the network queue.
#[derive(Clone)]
pub struct NetSink(pub mpsc::UnboundedSender<NetRequest>);

impl RequestSink<usize> for NetSink {
    #[inline]
    fn put(&self, request: NetRequest) -> bool {
        self.0.send(request).is_ok()
    }
}

/// Requests on their way, for the stall message.
#[derive(Default)]
pub struct InFlight {
    sent: AtomicU64,
    answered: AtomicU64,
}

impl InFlight {
    /// Requests sent and not answered now.
    pub fn now(&self) -> u64 {
        self.sent
            .load(Ordering::Relaxed)
            .saturating_sub(self.answered.load(Ordering::Relaxed))
    }
}

struct Context {
    client: NetClient,
    pool: EncodedPool,
    batch: u32,
    clock: RunClock,
    /// Requests allowed on the wire at once: one per HTTP/1.1 connection; no limit
    /// where the connections multiplex (HTTP/2, gRPC).
    on_the_wire: Arc<Semaphore>,
    responses: Sender<NetResponse>,
    in_flight: Arc<InFlight>,
}

/// Starts the network side on `runtime`: requests from `requests`, answers to `responses`.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    client: NetClient,
    pool: EncodedPool,
    (batch, on_the_wire): (u32, Option<u32>),
    clock: RunClock,
    mut requests: mpsc::UnboundedReceiver<NetRequest>,
    responses: Sender<NetResponse>,
) -> Arc<InFlight> {
    let in_flight = Arc::new(InFlight::default());
    let context = Arc::new(Context {
        client,
        pool,
        batch,
        clock,
        on_the_wire: Arc::new(Semaphore::new(
            on_the_wire.map_or(Semaphore::MAX_PERMITS, |n| n.max(1) as usize),
        )),
        responses,
        in_flight: Arc::clone(&in_flight),
    });
    let handle = runtime.clone();
    runtime.spawn(async move {
        while let Some(mut request) = requests.recv().await {
            request
                .meta
                .stamps
                .set(Stamp::Dequeued, context.clock.now());
            context.in_flight.sent.fetch_add(1, Ordering::Relaxed);
            handle.spawn(one(Arc::clone(&context), request));
        }
    });
    in_flight
}

async fn one(cx: Arc<Context>, request: NetRequest) {
    let Request { mut meta, payload } = request;
    let encoded = &cx.pool.requests[payload];
    let answered = async {
        let _connection = cx
            .on_the_wire
            .acquire()
            .await
            .map_err(|_| Error::Target("the client is stopping".into()))?;
        meta.stamps.set(Stamp::Batched, cx.clock.now());
        let answer = cx.client.send(encoded, meta.id).await?;
        meta.stamps.set(Stamp::Computed, cx.clock.now());
        Ok::<_, Error>(answer)
    }
    .await;
    let checked = answered.and_then(|answer| {
        answer
            .outputs()
            .and_then(|outputs| check_answer(&outputs, cx.batch))
            .map_err(|why| {
                Error::Target(format!("{}: request {}: {why}", cx.client.url(), meta.id))
            })
    });
    meta.stamps.set(Stamp::CopiedOut, cx.clock.now());
    meta.batch_samples = meta.samples;
    cx.in_flight.answered.fetch_add(1, Ordering::Relaxed);
    let _ = cx
        .responses
        .send(checked.map(|()| Response { meta, payload: () }));
}
