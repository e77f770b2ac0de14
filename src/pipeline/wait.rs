//! How a stage waits for its next item: park at once (the default, free while idle),
//! or spin for a bounded time first.
//!
//! A parked thread costs a futex wake-up when work arrives: tens of µs on a small VM,
//! once per hop. At low load that wake-up *is* the pipeline's added latency, so a
//! server tuned for latency spins a little before parking. Spinning costs a core
//! while it lasts, which on a machine without spare cores comes out of the forward:
//! it is an option to measure, never a default.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, RecvTimeoutError, TryRecvError};

/// Polls between yields while spinning: short enough to see an item within ~1 µs.
const POLLS_PER_YIELD: u32 = 64;

/// A receive policy, copied into every stage of the backend and into the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WaitPolicy {
    spin: Option<Duration>,
}

impl WaitPolicy {
    /// Park as soon as the channel is empty.
    pub const fn park() -> Self {
        Self { spin: None }
    }

    /// Poll for up to `spin` (yielding the core every few polls, so threads that
    /// have work still run), then park. A zero duration is [`WaitPolicy::park`].
    pub fn spin_then_park(spin: Duration) -> Self {
        Self {
            spin: (!spin.is_zero()).then_some(spin),
        }
    }

    /// How long a receive polls before parking (zero when it parks at once).
    pub fn spin(&self) -> Duration {
        self.spin.unwrap_or_default()
    }

    /// The next item, or an error once every sender has hung up.
    #[inline]
    pub fn recv<T>(&self, rx: &Receiver<T>) -> Result<T, RecvError> {
        match self.spin {
            None => rx.recv(),
            Some(spin) => spin_recv(rx, spin),
        }
    }
}

impl WaitPolicy {
    /// The next item, or an error at `deadline` or once every sender has hung up.
    /// Spins as [`WaitPolicy::recv`] does (never past the deadline), then parks.
    pub fn recv_deadline<T>(
        &self,
        rx: &Receiver<T>,
        deadline: Instant,
    ) -> Result<T, RecvTimeoutError> {
        if let Some(spin) = self.spin {
            let spin_end = (Instant::now() + spin).min(deadline);
            while Instant::now() < spin_end {
                match rx.try_recv() {
                    Ok(item) => return Ok(item),
                    Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                    Err(TryRecvError::Empty) => std::thread::yield_now(),
                }
            }
        }
        rx.recv_deadline(deadline)
    }
}

impl WaitPolicy {
    /// As [`WaitPolicy::recv`], and also an error once `halt` hangs up (see
    /// [`super::monitor::StageBeat::halt`]): for a stage whose input may be held
    /// open by a stage that never returns.
    pub fn recv_or_halt<T>(&self, rx: &Receiver<T>, halt: &Receiver<()>) -> Result<T, RecvError> {
        if let Some(spin) = self.spin {
            let start = Instant::now();
            while start.elapsed() < spin {
                match rx.try_recv() {
                    Ok(item) => return Ok(item),
                    Err(TryRecvError::Disconnected) => return Err(RecvError),
                    Err(TryRecvError::Empty) => {}
                }
                if halt.try_recv() == Err(TryRecvError::Disconnected) {
                    return Err(RecvError);
                }
                std::thread::yield_now();
            }
        }
        crossbeam_channel::select! {
            recv(rx) -> item => item,
            recv(halt) -> _ => Err(RecvError),
        }
    }
}

#[cold]
#[inline(never)]
fn spin_recv<T>(rx: &Receiver<T>, spin: Duration) -> Result<T, RecvError> {
    let start = Instant::now();
    loop {
        for _ in 0..POLLS_PER_YIELD {
            match rx.try_recv() {
                Ok(item) => return Ok(item),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
            }
        }
        if start.elapsed() >= spin {
            return rx.recv();
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;

    #[test]
    fn zero_spin_is_park() {
        assert_eq!(
            WaitPolicy::spin_then_park(Duration::ZERO),
            WaitPolicy::park()
        );
    }

    #[test]
    fn spinning_receive_gets_an_item_sent_later() {
        let (tx, rx) = unbounded();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.send(7u32).unwrap();
        });
        // Spins for 1 ms, then parks until the item comes.
        let policy = WaitPolicy::spin_then_park(Duration::from_millis(1));
        assert_eq!(policy.recv(&rx), Ok(7));
        sender.join().unwrap();
    }

    #[test]
    fn a_receive_with_a_deadline_ends_at_it_spinning_or_not() {
        let (_tx, rx) = unbounded::<u32>();
        for policy in [
            WaitPolicy::park(),
            WaitPolicy::spin_then_park(Duration::from_secs(60)),
        ] {
            let deadline = Instant::now() + Duration::from_millis(20);
            assert_eq!(
                policy.recv_deadline(&rx, deadline),
                Err(RecvTimeoutError::Timeout)
            );
            assert!(Instant::now() >= deadline);
        }
    }

    #[test]
    fn a_receive_or_halt_ends_when_halted_spinning_or_not_and_still_gets_items() {
        for policy in [
            WaitPolicy::park(),
            WaitPolicy::spin_then_park(Duration::from_millis(5)),
        ] {
            let (tx, rx) = unbounded::<u32>();
            let (halt_tx, halt) = crossbeam_channel::bounded::<()>(0);
            tx.send(3).unwrap();
            assert_eq!(policy.recv_or_halt(&rx, &halt), Ok(3));
            let halter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                drop(halt_tx);
            });
            // `tx` stays open, as a hung stage's sender would.
            assert_eq!(policy.recv_or_halt(&rx, &halt), Err(RecvError));
            halter.join().unwrap();
            drop(tx);
        }
    }

    #[test]
    fn spinning_receive_ends_when_senders_hang_up() {
        let (tx, rx) = unbounded::<u32>();
        drop(tx);
        let policy = WaitPolicy::spin_then_park(Duration::from_secs(60));
        assert_eq!(policy.recv(&rx), Err(RecvError));
    }
}
