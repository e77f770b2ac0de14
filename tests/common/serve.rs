//! A backend driven directly (no load generator): requests of known inputs in, each
//! response compared with what the model computes for that request alone. A
//! batching or copy-offset bug shows as a difference.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::unbounded;
use inferbench::config::{BatchPolicy, InputSpec, StreamLayout};
use inferbench::device::{ComputeDevice, CpuDevice};
use inferbench::metrics::DeviceStageTimes;
use inferbench::model::PreparedModel;
use inferbench::pipeline::backend::{Backend, BackendPlan};
use inferbench::pipeline::input_buffers;
use inferbench::pipeline::inputs::InputPool;
use inferbench::pipeline::stages::{ResponseResult, TensorRequest};
use inferbench::pipeline::wait::WaitPolicy;
use inferbench::request::{Request, RunClock};
use tch::Tensor;

/// Samples per request, and requests, of [`largest_difference`].
pub const BATCH: u32 = 2;
const REQUESTS: u32 = 12;

/// Serves 12 requests of [`BATCH`] samples of `inputs` through two workers of `model`
/// in `streams` and `batching`, and returns the largest difference between a
/// response and `reference` applied to that request's inputs alone.
pub fn largest_difference(
    model: &PreparedModel,
    inputs: &[InputSpec],
    streams: StreamLayout,
    batching: BatchPolicy,
    reference: &dyn Fn(&[Tensor]) -> Tensor,
) -> f64 {
    let device: Arc<dyn ComputeDevice> = Arc::new(CpuDevice);
    let pool = InputPool::generate(REQUESTS, BATCH, inputs, 3, device.as_ref()).unwrap();
    let clock = RunClock::start();
    let plan = BackendPlan {
        model,
        device: Arc::clone(&device),
        workers: 2,
        streams,
        intra_op_threads: 1,
        batching,
        buffers: input_buffers(&batching, BATCH, inputs),
        device_times: Arc::new(DeviceStageTimes::default()),
        clock,
        wait: WaitPolicy::spin_then_park(Duration::ZERO),
        placement: None,
    };
    let (request_tx, request_rx) = unbounded::<TensorRequest>();
    let (response_tx, response_rx) = unbounded::<ResponseResult>();
    let backend = Backend::spawn(plan, request_rx, response_tx).unwrap();
    for id in 0..REQUESTS as u64 {
        request_tx
            .send(Request::sent_now(id, BATCH, pool.get(id), &clock))
            .unwrap();
    }
    let _guard = tch::no_grad_guard();
    let mut worst = 0.0f64;
    for _ in 0..REQUESTS {
        let response = response_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a response within a minute")
            .unwrap();
        let expected = reference(&pool.get(response.meta.id));
        assert_eq!(response.payload.size(), expected.size());
        let diff = (&response.payload - &expected)
            .abs()
            .max()
            .double_value(&[]);
        worst = worst.max(diff);
    }
    drop(request_tx);
    backend.join(Duration::from_secs(30)).unwrap();
    worst
}
