//! Checks the step lists against a model of streams and events: every device
//! operation is a node whose predecessors are the operation before it on its stream
//! and the events its stream was told to wait for; a host wait makes the host know a
//! node (and everything before it) has finished. Ordering rules are then questions
//! of reachability, independent of how fast any stream runs.

use std::collections::{HashSet, VecDeque};

use super::*;

#[derive(Default)]
struct Graph {
    preds: Vec<Vec<usize>>,
}

impl Graph {
    fn add(&mut self, preds: Vec<usize>) -> usize {
        self.preds.push(preds);
        self.preds.len() - 1
    }

    /// Whether `a` must finish before `b` can start.
    fn before(&self, a: usize, b: usize) -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![b];
        while let Some(n) = todo.pop() {
            for &p in &self.preds[n] {
                if p == a {
                    return true;
                }
                if seen.insert(p) {
                    todo.push(p);
                }
            }
        }
        false
    }
}

#[derive(Default, Clone)]
struct StreamState {
    last: Option<usize>,
    pending_waits: Vec<usize>,
}

#[derive(Default, Clone)]
struct BatchState {
    marks: [Option<usize>; Mark::COUNT],
    work: [Option<usize>; 3],
    work_stream: [Option<usize>; 3],
    host_waits: Vec<usize>,
    responded: bool,
    buffer: usize,
}

#[derive(Default)]
struct Sim {
    graph: Graph,
    streams: Vec<StreamState>,
    batches: Vec<BatchState>,
    buffer_free: Vec<Option<usize>>,
    free_list: VecDeque<usize>,
    /// (batch, buffer) in the order copy-ins took buffers.
    buffer_uses: Vec<(usize, usize)>,
}

/// One role performing its steps for one batch, on one stream.
struct Ctx<'a> {
    sim: &'a mut Sim,
    stream: usize,
    batch: usize,
}

impl Ctx<'_> {
    fn device_op(&mut self) -> usize {
        let stream = &mut self.sim.streams[self.stream];
        let mut preds: Vec<usize> = stream.last.into_iter().collect();
        preds.append(&mut stream.pending_waits);
        let node = self.sim.graph.add(preds);
        self.sim.streams[self.stream].last = Some(node);
        node
    }
}

impl StepExecutor for Ctx<'_> {
    type Error = String;

    fn step(&mut self, step: Step) -> Result<(), String> {
        let b = self.batch;
        match step {
            Step::AwaitBufferFree => {
                let buffer = self.sim.batches[b].buffer;
                if let Some(node) = self.sim.buffer_free[buffer] {
                    self.sim.streams[self.stream].pending_waits.push(node);
                }
            }
            Step::StreamWaits(mark) => {
                let node = self.sim.batches[b].marks[mark.index()]
                    .ok_or(format!("batch {b}: waits on {mark:?}, never recorded"))?;
                self.sim.streams[self.stream].pending_waits.push(node);
            }
            Step::Record(mark) => {
                let node = self.device_op();
                self.sim.batches[b].marks[mark.index()] = Some(node);
            }
            Step::Issue(work) => {
                let node = self.device_op();
                self.sim.batches[b].work[work.index()] = Some(node);
                self.sim.batches[b].work_stream[work.index()] = Some(self.stream);
            }
            Step::ReleaseBuffer => {
                let node = self.device_op();
                let buffer = self.sim.batches[b].buffer;
                self.sim.buffer_free[buffer] = Some(node);
                self.sim.free_list.push_back(buffer);
            }
            Step::HostWaits(mark) => {
                let node = self.sim.batches[b].marks[mark.index()]
                    .ok_or(format!("batch {b}: host waits on {mark:?}, never recorded"))?;
                self.sim.batches[b].host_waits.push(node);
            }
            Step::Respond => self.sim.batches[b].responded = true,
        }
        Ok(())
    }
}

/// Runs `batches` batches through `workers` workers with the given step lists, in a
/// staggered host order (at tick t: copy-out handles batch t-2, a worker t-1, copy-in
/// t), as the threads of a busy pipeline would.
fn simulate(
    layout: StreamLayout,
    workers: usize,
    batches: usize,
    steps_of: impl Fn(Role) -> Vec<Step>,
) -> Result<Sim, String> {
    let buffers = match layout {
        StreamLayout::Shared => workers,
        StreamLayout::Dedicated => workers + 1,
    };
    let mut sim = Sim {
        // Streams: worker w is stream w; copy-in is `workers`, copy-out `workers + 1`.
        streams: vec![StreamState::default(); workers + 2],
        batches: vec![BatchState::default(); batches],
        buffer_free: vec![None; buffers],
        free_list: (0..buffers).collect(),
        ..Sim::default()
    };
    let run = |sim: &mut Sim, role: Role, stream: usize, batch: usize| -> Result<(), String> {
        execute(&steps_of(role), &mut Ctx { sim, stream, batch })
    };
    match layout {
        StreamLayout::Shared => {
            for b in 0..batches {
                let w = b % workers;
                sim.batches[b].buffer = w;
                sim.buffer_uses.push((b, w));
                run(&mut sim, Role::Worker, w, b)?;
            }
        }
        StreamLayout::Dedicated => {
            for tick in 0..batches + 2 {
                if let Some(b) = tick.checked_sub(2).filter(|&b| b < batches) {
                    run(&mut sim, Role::CopyOut, workers + 1, b)?;
                }
                if let Some(b) = tick.checked_sub(1).filter(|&b| b < batches) {
                    run(&mut sim, Role::Worker, b % workers, b)?;
                }
                if tick < batches {
                    let buffer = sim.free_list.pop_front().ok_or("no free buffer")?;
                    sim.batches[tick].buffer = buffer;
                    sim.buffer_uses.push((tick, buffer));
                    run(&mut sim, Role::CopyIn, workers, tick)?;
                }
            }
        }
    }
    Ok(sim)
}

/// The rules of the module docs; returns the first one broken.
fn check(sim: &Sim) -> Result<(), String> {
    let g = &sim.graph;
    for (b, batch) in sim.batches.iter().enumerate() {
        let work = |w: Work| batch.work[w.index()].ok_or(format!("batch {b}: {w:?} never issued"));
        let (copy_in, forward, copy_out) = (
            work(Work::CopyIn)?,
            work(Work::Forward)?,
            work(Work::CopyOut)?,
        );
        if !g.before(copy_in, forward) {
            return Err(format!(
                "batch {b}: the forward may start before its copy-in ends"
            ));
        }
        if !g.before(forward, copy_out) {
            return Err(format!(
                "batch {b}: the copy-out may start before the forward ends"
            ));
        }
        if batch.host_waits.len() != 1 || !batch.responded {
            return Err(format!(
                "batch {b}: {} host waits, responded {}",
                batch.host_waits.len(),
                batch.responded
            ));
        }
        let waited = batch.host_waits[0];
        if waited != copy_out && !g.before(copy_out, waited) {
            return Err(format!("batch {b}: responds before its copy-out is done"));
        }
        for w in Work::ALL {
            let (before, after) = (
                batch.marks[Mark::Before(w).index()],
                batch.marks[Mark::After(w).index()],
            );
            let (Some(before), Some(after)) = (before, after) else {
                return Err(format!("batch {b}: {w:?} is not bracketed by timing marks"));
            };
            let issued = work(w)?;
            if !(g.before(before, issued) && g.before(issued, after)) {
                return Err(format!("batch {b}: {w:?}'s marks do not bracket it"));
            }
        }
    }
    // A buffer's next copy-in waits for the forward that read its previous contents.
    for (k, &(b, buffer)) in sim.buffer_uses.iter().enumerate() {
        let previous = sim.buffer_uses[..k].iter().rev().find(|u| u.1 == buffer);
        if let Some(&(p, _)) = previous {
            let forward = sim.batches[p].work[Work::Forward.index()].expect("checked above");
            let copy_in = sim.batches[b].work[Work::CopyIn.index()].expect("checked above");
            if !g.before(forward, copy_in) {
                return Err(format!(
                    "batch {b}'s copy-in may overwrite buffer {buffer} while batch {p}'s forward reads it"
                ));
            }
        }
    }
    Ok(())
}

fn layouts() -> [StreamLayout; 2] {
    [StreamLayout::Shared, StreamLayout::Dedicated]
}

#[test]
fn every_layout_orders_its_batches_with_one_host_wait_each() {
    for layout in layouts() {
        for workers in 1..=4 {
            let sim = simulate(layout, workers, 12, |r| steps(layout, r).to_vec()).unwrap();
            check(&sim).unwrap_or_else(|e| panic!("{layout:?} w{workers}: {e}"));
        }
    }
}

#[test]
fn dedicated_uses_three_streams_and_the_host_never_waits_between_stages() {
    let sim = simulate(StreamLayout::Dedicated, 2, 6, |r| {
        steps(StreamLayout::Dedicated, r).to_vec()
    })
    .unwrap();
    for batch in &sim.batches {
        let streams: HashSet<_> = batch.work_stream.iter().flatten().collect();
        assert_eq!(
            streams.len(),
            3,
            "copy-in, forward and copy-out on their own streams"
        );
    }
    for role in [Role::CopyIn, Role::Worker] {
        let host_waits = steps(StreamLayout::Dedicated, role)
            .iter()
            .filter(|s| matches!(s, Step::HostWaits(_)))
            .count();
        assert_eq!(host_waits, 0, "{role:?} makes the host wait");
    }
}

#[test]
fn shared_runs_everything_on_the_workers_stream() {
    let sim = simulate(StreamLayout::Shared, 3, 6, |r| {
        steps(StreamLayout::Shared, r).to_vec()
    })
    .unwrap();
    for (b, batch) in sim.batches.iter().enumerate() {
        assert!(batch.work_stream.iter().all(|&s| s == Some(b % 3)));
    }
    assert!(steps(StreamLayout::Shared, Role::CopyIn).is_empty());
    assert_eq!(roles(StreamLayout::Shared), &[Role::Worker]);
}

fn without(layout: StreamLayout, role: Role, drop: Step) -> impl Fn(Role) -> Vec<Step> {
    move |r| {
        let mut list = steps(layout, r).to_vec();
        if r == role {
            list.retain(|&s| s != drop);
        }
        list
    }
}

#[test]
fn the_checker_catches_a_missing_wait() {
    let d = StreamLayout::Dedicated;
    let cases = [
        (
            Role::Worker,
            Step::StreamWaits(Mark::After(Work::CopyIn)),
            "forward may start",
        ),
        (
            Role::CopyOut,
            Step::StreamWaits(Mark::After(Work::Forward)),
            "copy-out may start",
        ),
        (Role::CopyIn, Step::AwaitBufferFree, "may overwrite buffer"),
        (
            Role::CopyOut,
            Step::HostWaits(Mark::After(Work::CopyOut)),
            "0 host waits",
        ),
    ];
    for (role, drop, expected) in cases {
        let sim = simulate(d, 2, 8, without(d, role, drop)).unwrap();
        let err = check(&sim).expect_err(&format!("dropping {drop:?} went unnoticed"));
        assert!(err.contains(expected), "{drop:?}: {err}");
    }
}

#[test]
fn marks_have_distinct_indices() {
    let indices: HashSet<_> = Work::ALL
        .iter()
        .flat_map(|&w| [Mark::Before(w).index(), Mark::After(w).index()])
        .collect();
    assert_eq!(indices.len(), Mark::COUNT);
    assert!(indices.iter().all(|&i| i < Mark::COUNT));
}
