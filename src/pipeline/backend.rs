//! The server: wires the stages of [`super::stages`] into threads and channels for
//! each stream layout.
//!
//! ```text
//! shared:     intake ─▶ worker×N (copy-in, forward, copy-out on its stream) ─▶ responses
//! dedicated:  intake ─▶ copy-in ─▶ worker×N (forward) ─▶ copy-out ─▶ responses
//!                       └─ device buffers return to copy-in through a free list ─┘
//! ```
//! What each thread does with a batch, and which events order the streams, is
//! [`super::ordering`]'s step list for its role; this module only wires threads.
//! With a dynamic batching policy a batcher thread sits in front of the intake.
//! Every thread ends when its input channel hangs up, so dropping the request
//! sender shuts the whole backend down in order. A stage that fails sends its error
//! to the collector and stops; its channels then hang up and nothing waits forever.
//! A stage that never returns (a hung forward) is named by the [`StageMonitor`] and
//! left behind by [`Backend::join`]; the stages parked on a queue it holds open wait
//! beside the monitor's halt signal too, so a cancel ends them (they used to stay).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{Builder, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver};
use tch::Kind;

use super::batcher::BatcherState;
use super::batcher_loop::batcher_loop;
use super::monitor::{StageBeat, StageMonitor};
use super::ordering::{self, Role};
use super::pinning::Placement;
use super::stages::{
    run_steps, InFlight, Intake, Loan, Responses, StageKit, TensorBatch, TensorRequest,
};
use super::wait::WaitPolicy;
use crate::config::BatchPolicy;
use crate::config::StreamLayout;
use crate::device::ComputeDevice;
use crate::error::{Error, Result};
use crate::metrics::DeviceStageTimes;
use crate::model::PreparedModel;
use crate::request::{RunClock, Stamp};

/// How to lay out the backend.
pub struct BackendPlan<'a> {
    /// The model to instantiate per worker.
    pub model: &'a PreparedModel,
    /// Where buffers live and copies run.
    pub device: Arc<dyn ComputeDevice>,
    /// Compute threads.
    pub workers: u32,
    /// Copy stage layout.
    pub streams: StreamLayout,
    /// libtorch intra-op threads per worker.
    pub intra_op_threads: u32,
    /// Batching policy.
    pub batching: BatchPolicy,
    /// Shape and element type of one worker's input buffers, one per model input:
    /// `[max batch samples, ...input shape]` ([`input_buffers`]).
    pub buffers: Vec<(Vec<i64>, Kind)>,
    /// Where the stage that waits on the host adds each batch's device stage times.
    pub device_times: Arc<DeviceStageTimes>,
    /// The run's clock.
    pub clock: RunClock,
    /// How every stage waits for its next item.
    pub wait: WaitPolicy,
    /// Where the batcher's thread goes ([`Placement::for_batcher`]); `None`: anywhere.
    pub placement: Option<&'a Placement>,
}

/// The backend's threads; [`Backend::join`] waits for them after the request sender is dropped.
pub struct Backend {
    threads: Vec<JoinHandle<()>>,
    monitor: Arc<StageMonitor>,
}

impl Backend {
    /// Starts the backend reading `requests` and answering on `responses`.
    pub fn spawn(
        plan: BackendPlan<'_>,
        requests: Receiver<TensorRequest>,
        responses: impl Into<Responses>,
    ) -> Result<Self> {
        let responses = responses.into();
        let mut threads = Vec::new();
        let monitor = Arc::new(StageMonitor::default());
        let intake = match plan.batching {
            BatchPolicy::None => Intake::Requests(requests),
            BatchPolicy::Dynamic {
                max_batch_samples,
                timeout_us,
            } => {
                let (tx, rx) = unbounded();
                let state = BatcherState::new(max_batch_samples, Duration::from_micros(timeout_us));
                let clock = plan.clock;
                let beat = monitor.register("batcher");
                let _held = plan.placement.map(Placement::for_batcher).transpose()?;
                threads.push(spawn_stage(beat, responses.clone(), move |_| {
                    batcher_loop(state, &requests, &tx, &clock)
                })?);
                Intake::Batches(rx)
            }
        };
        match plan.streams {
            StreamLayout::Shared => {
                spawn_shared(&plan, &intake, &responses, &monitor, &mut threads)?
            }
            StreamLayout::Dedicated => {
                spawn_dedicated(&plan, intake, responses, &monitor, &mut threads)?
            }
        }
        Ok(Self { threads, monitor })
    }

    /// The stages holding a batch now, longest first (see [`StageMonitor::describe`]).
    pub fn busy_stages(&self, now: u64) -> Option<String> {
        self.monitor.describe(now)
    }

    /// Tells every stage to drop the work it has not started (the run ended early).
    pub fn cancel(&self) {
        self.monitor.cancel();
    }

    /// Waits up to `grace` for every stage to finish (after the request sender was
    /// dropped), then cancels, waking the stages parked behind one that never
    /// returns. Returns an error naming a stage that panicked or that is still
    /// running then; such a stage is left behind, never awaited.
    pub fn join(self, grace: Duration) -> Result<()> {
        let finished = |threads: &[JoinHandle<()>], until: Instant| {
            while Instant::now() < until && !threads.iter().all(|t| t.is_finished()) {
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        finished(&self.threads, Instant::now() + grace);
        if !self.threads.iter().all(|t| t.is_finished()) {
            self.monitor.cancel();
            finished(&self.threads, Instant::now() + HALT_GRACE);
        }
        let (mut panicked, mut running) = (Vec::new(), Vec::new());
        for handle in self.threads {
            let name = handle.thread().name().unwrap_or("stage").to_string();
            if !handle.is_finished() {
                running.push(name);
            } else if handle.join().is_err() {
                panicked.push(name);
            }
        }
        let mut problems = Vec::new();
        if !panicked.is_empty() {
            problems.push(format!("stage(s) panicked: {}", panicked.join(", ")));
        }
        if !running.is_empty() {
            problems.push(format!(
                "stage(s) still running {} after the run ended, left behind: {}",
                crate::config::limits::human(grace),
                running.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Pipeline(problems.join("; ")))
        }
    }
}

/// How long [`Backend::join`] waits for the stages a cancel woke: they only have to
/// see their queue hang up.
const HALT_GRACE: Duration = Duration::from_millis(100);

/// Spawns a named stage thread that reports its error, if any, to the collector.
/// A panic is a stage error like any other.
fn spawn_stage(
    beat: StageBeat,
    responses: Responses,
    body: impl FnOnce(&StageBeat) -> Result<()> + Send + 'static,
) -> Result<JoinHandle<()>> {
    let name = beat.name().to_string();
    Builder::new()
        .name(name.clone())
        .spawn(move || {
            let failure = match catch_unwind(AssertUnwindSafe(|| body(&beat))) {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(panic) => Error::Pipeline(format!(
                    "{} panicked: {}",
                    beat.name(),
                    crate::error::panic_message(panic.as_ref())
                )),
            };
            let _ = responses.send(Err(failure));
        })
        .map_err(|e| Error::Pipeline(format!("cannot start thread {name}: {e}")))
}

/// Settings for a thread that runs forwards. Grad mode is per thread. The thread
/// count is per thread for OpenMP but libtorch also keeps it in one process-wide
/// value that its parallel loops read, so only compute threads may set it, all to
/// the same number: a copy stage that set 1 would silently run the workers'
/// forwards single-threaded.
fn init_compute_thread(intra_op_threads: u32) -> tch::NoGradGuard {
    tch::set_num_threads(intra_op_threads as i32);
    tch::no_grad_guard()
}

/// Settings for a copy stage: no gradients, and the thread count left alone.
fn init_copy_thread() -> tch::NoGradGuard {
    tch::no_grad_guard()
}

/// Marks the stage busy with `batch`; `false` when the run was cancelled and the
/// batch is to be dropped.
fn take(beat: &StageBeat, clock: &RunClock, batch: &TensorBatch) -> bool {
    if beat.cancelled() {
        return false;
    }
    beat.busy(clock, batch.metas.first().map_or(0, |m| m.id));
    true
}

fn spawn_shared(
    plan: &BackendPlan<'_>,
    intake: &Intake,
    responses: &Responses,
    monitor: &Arc<StageMonitor>,
    threads: &mut Vec<JoinHandle<()>>,
) -> Result<()> {
    let steps = ordering::steps(StreamLayout::Shared, Role::Worker);
    for w in 0..plan.workers {
        let model = plan.model.instance()?;
        let buffer = alloc_buffers(plan)?;
        let mut stream = plan.device.new_stream()?;
        let (intake, tx, clock, intra, wait, times) = (
            intake.clone(),
            responses.clone(),
            plan.clock,
            plan.intra_op_threads,
            plan.wait,
            Arc::clone(&plan.device_times),
        );
        threads.push(spawn_stage(
            monitor.register(&format!("worker-{w}")),
            responses.clone(),
            move |beat| {
                let _guard = init_compute_thread(intra);
                stream.make_current()?;
                let mut kit = StageKit {
                    stream: stream.as_mut(),
                    clock: &clock,
                    model: Some(model.as_ref()),
                    buffer: Some(&buffer[..]),
                    free_list: None,
                    responses: Some(&tx),
                    device_times: Some(&times),
                };
                while let Some(batch) = intake.next(&clock, wait) {
                    if !take(beat, &clock, &batch) {
                        break;
                    }
                    if !run_steps(steps, &mut kit, &mut InFlight::new(batch))? {
                        break;
                    }
                    beat.idle();
                }
                Ok(())
            },
        )?);
    }
    Ok(())
}

fn spawn_dedicated(
    plan: &BackendPlan<'_>,
    intake: Intake,
    responses: Responses,
    monitor: &Arc<StageMonitor>,
    threads: &mut Vec<JoinHandle<()>>,
) -> Result<()> {
    let steps = |role| ordering::steps(StreamLayout::Dedicated, role);
    // One buffer more than workers, so copy-in can fill the next while all compute.
    let buffers = plan.workers as usize + 1;
    let (free_tx, free_rx) = bounded::<Loan>(buffers);
    for _ in 0..buffers {
        let buffer = alloc_buffers(plan)?;
        free_tx
            .send(Loan {
                buffer,
                free_after: None,
            })
            .expect("free list has room; this is a bug");
    }
    let (compute_tx, compute_rx) = unbounded::<InFlight>();
    let (out_tx, out_rx) = unbounded::<InFlight>();
    let (clock, wait) = (plan.clock, plan.wait);

    let mut stream = plan.device.new_stream()?;
    let beat = monitor.register("copy-in");
    threads.push(spawn_stage(beat, responses.clone(), move |beat| {
        let _guard = init_copy_thread();
        stream.make_current()?;
        let mut kit = StageKit::bare(stream.as_mut(), &clock);
        while let Some(batch) = intake.next(&clock, wait) {
            if !take(beat, &clock, &batch) {
                break;
            }
            let Ok(loan) = wait.recv_or_halt(&free_rx, beat.halt()) else {
                break;
            };
            let mut item = InFlight::new(batch);
            item.loan = Some(loan);
            run_steps(steps(Role::CopyIn), &mut kit, &mut item)?;
            if compute_tx.send(item).is_err() {
                break;
            }
            beat.idle();
        }
        Ok(())
    })?);

    for w in 0..plan.workers {
        let model = plan.model.instance()?;
        let mut stream = plan.device.new_stream()?;
        let (rx, free, out, intra) = (
            compute_rx.clone(),
            free_tx.clone(),
            out_tx.clone(),
            plan.intra_op_threads,
        );
        threads.push(spawn_stage(
            monitor.register(&format!("worker-{w}")),
            responses.clone(),
            move |beat| {
                let _guard = init_compute_thread(intra);
                stream.make_current()?;
                let mut kit = StageKit {
                    model: Some(model.as_ref()),
                    free_list: Some(&free),
                    ..StageKit::bare(stream.as_mut(), &clock)
                };
                let mut free_at = clock.now();
                while let Ok(mut item) = wait.recv_or_halt(&rx, beat.halt()) {
                    let taken = clock.now();
                    item.batch
                        .took_all(Stamp::CopiedIn, Stamp::Computed, free_at, taken);
                    if !take(beat, &clock, &item.batch) {
                        break;
                    }
                    run_steps(steps(Role::Worker), &mut kit, &mut item)?;
                    if out.send(item).is_err() {
                        break;
                    }
                    beat.idle();
                    free_at = clock.now();
                }
                Ok(())
            },
        )?);
    }
    drop((compute_rx, out_tx, free_tx));

    let mut stream = plan.device.new_stream()?;
    let tx = responses.clone();
    let times = Arc::clone(&plan.device_times);
    let beat = monitor.register("copy-out");
    threads.push(spawn_stage(beat, responses, move |beat| {
        let _guard = init_copy_thread();
        stream.make_current()?;
        let mut kit = StageKit {
            responses: Some(&tx),
            device_times: Some(&times),
            ..StageKit::bare(stream.as_mut(), &clock)
        };
        let mut free_at = clock.now();
        while let Ok(mut item) = wait.recv_or_halt(&out_rx, beat.halt()) {
            let taken = clock.now();
            item.batch
                .took_all(Stamp::Computed, Stamp::CopiedOut, free_at, taken);
            if !take(beat, &clock, &item.batch) {
                break;
            }
            if !run_steps(steps(Role::CopyOut), &mut kit, &mut item)? {
                break;
            }
            beat.idle();
            free_at = clock.now();
        }
        Ok(())
    })?);
    Ok(())
}

/// One worker's input buffers, in the layout the model's weights have (channels-last
/// for a `--channels-last` model: the copy-in then converts each request's image).
fn alloc_buffers(plan: &BackendPlan<'_>) -> Result<Vec<tch::Tensor>> {
    plan.buffers
        .iter()
        .map(|(shape, kind)| plan.model.lay_out(plan.device.alloc_buffer(shape, *kind)?))
        .collect()
}
