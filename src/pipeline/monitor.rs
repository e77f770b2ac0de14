//! What each backend stage is doing, so that a stalled pipeline can be named: each
//! stage marks itself busy when it takes a batch and idle when it is done with it;
//! when the load generator's wait runs out, [`StageMonitor::describe`] says which
//! stage has held its batch the longest. The monitor also carries the cancel flag
//! that tells the stages to drop queued work when a run ends early, and the halt
//! signal that wakes a stage parked on a queue whose sender a hung stage holds
//! (which would otherwise never hang up, and the parked stage never exit).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::request::RunClock;

const IDLE: u64 = u64::MAX;

struct Slot {
    name: String,
    /// Clock reading when the current batch was taken; [`IDLE`] between batches.
    busy_since: AtomicU64,
    /// Id of the first request of the current batch.
    request: AtomicU64,
}

/// Every stage's state, shared by the stages and the server.
pub struct StageMonitor {
    slots: Mutex<Vec<Arc<Slot>>>,
    cancelled: AtomicBool,
    /// Dropped on cancel: [`StageBeat::halt`] then hangs up, which no message ever
    /// travels on.
    halt_tx: Mutex<Option<Sender<()>>>,
    halt_rx: Receiver<()>,
}

impl Default for StageMonitor {
    fn default() -> Self {
        let (halt_tx, halt_rx) = bounded(0);
        Self {
            slots: Mutex::default(),
            cancelled: AtomicBool::new(false),
            halt_tx: Mutex::new(Some(halt_tx)),
            halt_rx,
        }
    }
}

/// One stage's handle on the monitor.
pub struct StageBeat {
    slot: Arc<Slot>,
    monitor: Arc<StageMonitor>,
}

impl StageMonitor {
    /// Registers a stage called `name` and returns its handle.
    pub fn register(self: &Arc<Self>, name: &str) -> StageBeat {
        let slot = Arc::new(Slot {
            name: name.to_string(),
            busy_since: AtomicU64::new(IDLE),
            request: AtomicU64::new(0),
        });
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Arc::clone(&slot));
        StageBeat {
            slot,
            monitor: Arc::clone(self),
        }
    }

    /// Tells every stage to drop the work it has not started, and wakes every stage
    /// parked on [`StageBeat::halt`] so that it exits.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        drop(
            self.halt_tx
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
    }

    /// The stages holding a batch at clock reading `now`, longest first, e.g.
    /// `worker-0 (busy 2.0 s with request 12)`; `None` if every stage is idle.
    pub fn describe(&self, now: u64) -> Option<String> {
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut busy: Vec<(u64, &Slot)> = slots
            .iter()
            .filter_map(|s| {
                let since = s.busy_since.load(Ordering::Relaxed);
                (since != IDLE).then(|| (now.saturating_sub(since), s.as_ref()))
            })
            .collect();
        busy.sort_by_key(|(ns, _)| std::cmp::Reverse(*ns));
        (!busy.is_empty()).then(|| {
            busy.iter()
                .map(|(ns, s)| {
                    format!(
                        "{} (busy {:.1} s with request {})",
                        s.name,
                        *ns as f64 * 1e-9,
                        s.request.load(Ordering::Relaxed)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

impl StageBeat {
    /// The stage took a batch whose first request is `request`.
    #[inline]
    pub fn busy(&self, clock: &RunClock, request: u64) {
        self.slot.request.store(request, Ordering::Relaxed);
        self.slot.busy_since.store(clock.now(), Ordering::Relaxed);
    }

    /// The stage is done with its batch.
    #[inline]
    pub fn idle(&self) {
        self.slot.busy_since.store(IDLE, Ordering::Relaxed);
    }

    /// Whether the run ended early and queued work is to be dropped.
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.monitor.cancelled.load(Ordering::Relaxed)
    }

    /// A queue that hangs up when the run is cancelled: waited on beside a stage's
    /// input, it ends the wait of a stage whose input a hung stage keeps open.
    pub fn halt(&self) -> &Receiver<()> {
        &self.monitor.halt_rx
    }

    /// The stage's name.
    pub fn name(&self) -> &str {
        &self.slot.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_busy_stage_is_named_first_and_idle_ones_not_at_all() {
        let monitor = Arc::new(StageMonitor::default());
        let clock = RunClock::start();
        let (a, b, c) = (
            monitor.register("copy-in"),
            monitor.register("worker-0"),
            monitor.register("worker-1"),
        );
        assert_eq!(monitor.describe(clock.now()), None);
        b.busy(&clock, 7);
        std::thread::sleep(std::time::Duration::from_millis(2));
        a.busy(&clock, 8);
        c.busy(&clock, 9);
        c.idle();
        let text = monitor.describe(clock.now()).unwrap();
        assert!(text.starts_with("worker-0 (busy"), "{text}");
        assert!(
            text.contains("request 7") && text.contains("copy-in"),
            "{text}"
        );
        assert!(!text.contains("worker-1"), "{text}");
        assert!(!a.cancelled());
        monitor.cancel();
        assert!(a.cancelled() && b.cancelled());
    }
}
