//! Instruction counts of the harness's per-request hot path (iai-callgrind), one
//! bench per stage. Libtorch-free: built with `--no-default-features`.
//!
//! Per-request benches handle [`N`] requests per call so that one-off costs (a
//! channel block, a Vec growing) are amortised as in a real run; the gate divides
//! by `N`. The channel hop runs on one thread: its instructions are those of the
//! cross-thread hop minus the futex wake-up, which happens in the kernel anyway.

use std::hint::black_box;

use crossbeam_channel::{unbounded, Sender};
use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use inferbench::config::RunConfig;
use inferbench::metrics::{LatencyRecorder, StageBreakdown, UtilizationSummary};
use inferbench::pipeline::batcher::BatcherState;
use inferbench::pipeline::collector::Collector;
use inferbench::pipeline::intake::Intake;
use inferbench::pipeline::wait::WaitPolicy;
use inferbench::report::summary;
use inferbench::request::{Batch, Request, RequestMeta, RunClock, Stamp, Stamps};
use inferbench::results::jsonl::JsonlSink;
use inferbench::results::{Environment, ModelInfo, RunReport, ServerFacts};

/// Requests per measured call of a per-request bench.
const N: u64 = 64;

/// Stamps as a real response carries them: 10 µs apart, starting at `t`.
fn stamped(id: u64, t: u64) -> RequestMeta {
    let mut stamps = Stamps::default();
    let order = Stamp::ALL;
    for (k, stamp) in order.into_iter().enumerate() {
        stamps.set(stamp, t + 10_000 * k as u64 + (id * 7919) % 5_000);
    }
    RequestMeta {
        id,
        samples: 1,
        batch_samples: 1,
        stamps,
    }
}

fn channel() -> (Sender<Request<()>>, Intake<()>, RunClock) {
    let (tx, rx) = unbounded();
    (tx, Intake::Requests(rx), RunClock::start())
}

// Stamp a request as sent, put it on the request queue, take it off as the backend's
// intake does (stamping dequeued and batched, wrapping it as a batch of one).
#[library_benchmark]
#[bench::x64(setup = channel)]
fn request_hop((tx, intake, clock): (Sender<Request<()>>, Intake<()>, RunClock)) -> u64 {
    let mut last = 0;
    for id in 0..N {
        tx.send(Request::sent_now(id, 1, (), &clock))
            .expect("receiver alive");
        let batch = intake
            .next(&clock, WaitPolicy::park())
            .expect("request queued");
        last = black_box(batch).metas[0].stamps.get(Stamp::Batched);
    }
    last
}

fn batcher(queued: u64, max: u32, dequeued_at: u64) -> BatcherState<()> {
    let mut state = BatcherState::new(max, std::time::Duration::from_micros(100));
    for id in 0..queued {
        state.push(
            Request {
                meta: RequestMeta::new(id, 1, 1),
                payload: (),
            },
            dequeued_at,
        );
    }
    state
}

// The batcher's release decision for several queue states, at clock reading 500 µs
// (timeout 100 µs: requests dequeued at 450 µs are waiting, at 0 timed out).
#[library_benchmark]
#[bench::empty(batcher(0, 8, 0))]
#[bench::partial_waiting(batcher(3, 8, 450_000))]
#[bench::partial_timed_out(batcher(3, 8, 0))]
#[bench::full(batcher(8, 8, 450_000))]
#[bench::more_than_max(batcher(20, 8, 450_000))]
fn batcher_next_batch(mut state: BatcherState<()>) -> Option<Batch<()>> {
    black_box(state.next_batch(black_box(500_000), false))
}

// Queuing requests in the batcher (its per-request cost before the decision).
#[library_benchmark]
#[bench::x64(batcher(0, 64, 0))]
fn batcher_push(mut state: BatcherState<()>) -> usize {
    for id in 0..N {
        state.push(
            Request {
                meta: RequestMeta::new(id, 1, 1),
                payload: (),
            },
            black_box(id),
        );
    }
    state.len()
}

fn recorder(values: u64) -> LatencyRecorder {
    let mut r = LatencyRecorder::new();
    for k in 0..values {
        r.record(1_000_000 + (k * 7919) % 3_000_000);
    }
    r
}

// Recording latencies in the HDR histogram and the exact moments.
#[library_benchmark]
#[bench::x64(recorder(1_000))]
fn histogram_record(mut r: LatencyRecorder) -> u64 {
    for k in 0..N {
        r.record(black_box(2_000_000 + k * 1_013));
    }
    r.count()
}

// Extracting the summary (five percentiles, mean, std) once per run, from 10k latencies.
#[library_benchmark]
#[bench::from_10k(recorder(10_000))]
fn percentile_extraction(r: LatencyRecorder) -> f64 {
    black_box(r.summary()).map_or(0.0, |s| s.p99)
}

fn responses() -> Vec<RequestMeta> {
    (0..N)
        .map(|id| stamped(id, 1_000_000 + id * 100_000))
        .collect()
}

// Adding each response's six stage durations to the breakdown.
#[library_benchmark]
#[bench::x64(responses())]
fn stage_breakdown(metas: Vec<RequestMeta>) -> u64 {
    let mut b = StageBreakdown::default();
    for m in &metas {
        b.record(black_box(&m.stamps));
    }
    b.count()
}

fn collector_and_responses() -> (Collector, Vec<RequestMeta>) {
    (Collector::new(false), responses())
}

// The collector's whole per-response work: latency, stages, window, samples.
// (Creating the collector, a per-run cost, happens in the setup.)
#[library_benchmark]
#[bench::x64(collector_and_responses())]
fn collector_record((mut c, metas): (Collector, Vec<RequestMeta>)) -> u64 {
    for m in &metas {
        c.record(black_box(m));
    }
    c.samples()
}

fn report() -> (RunReport, JsonlSink) {
    let mut r = recorder(1_000);
    let mut stages = StageBreakdown::default();
    for m in responses() {
        stages.record(&m.stamps);
        r.record(m.stamps.latency_ns().unwrap_or(0));
    }
    let report = RunReport {
        config: RunConfig::default(),
        server: ServerFacts {
            model: ModelInfo {
                arch: "resnet18".into(),
                weights: "generated".into(),
                parameters: Some(11_689_512),
                image_size: 64,
                num_classes: 1000,
                inputs: Vec::new(),
                output: None,
                compile_cache: None,
                cuda_graph: None,
            },
            device: "cpu".into(),
            intra_op_threads: Some(2),
            compute_threads: 2,
            oversubscribed: false,
            load_time_s: Some(0.1),
            compile_time_s: None,
            warmup_latency_ms: 12.0,
        },
        latency_ms: r.summary().expect("recorded"),
        stages_ms: stages.summary().expect("recorded"),
        throughput_samples_per_s: 180.0,
        requests: 1_000,
        samples: 1_000,
        window_s: 5.5,
        utilization: UtilizationSummary {
            cpu_pct: Some(97.0),
            gpu_pct: None,
            gpu_absent_reason: Some("no GPU".into()),
            samples: 55,
            ..UtilizationSummary::default()
        },
        bare_forward_samples_per_s: Some(181.0),
        pipeline_efficiency: Some(0.995),
        device_stages_ms: None,
        limits: None,
        load_generator: None,
        env: Environment {
            inferbench_version: "0.1.0".into(),
            cpu_model: Some("cpu".into()),
            cores: 2,
            cuda_available: false,
            openmp_wait: Vec::new(),
        },
        incomplete: None,
        target: None,
        stability: None,
    };
    let mut sink =
        JsonlSink::open(std::path::Path::new("/dev/null")).expect("/dev/null is writable");
    // The sink opens its file on the first append: that is set-up, not the measured write.
    sink.append(&report).expect("/dev/null takes anything");
    (report, sink)
}

// Writing the run's JSON line (once per run).
#[library_benchmark]
#[bench::jsonl(report())]
fn report_write((report, mut sink): (RunReport, JsonlSink)) {
    sink.append(black_box(&report))
        .expect("/dev/null takes anything");
}

// Rendering the run's text summary (once per run).
#[library_benchmark]
#[bench::text(report())]
fn report_summary((report, _sink): (RunReport, JsonlSink)) -> usize {
    black_box(summary::render(&report)).len()
}

library_benchmark_group!(
    name = hot_path;
    benchmarks = request_hop, batcher_push, batcher_next_batch, histogram_record, stage_breakdown,
        collector_record, percentile_extraction, report_write, report_summary
);

main!(library_benchmark_groups = hot_path);
