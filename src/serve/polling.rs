//! Awaiting a request's answer the way the pipeline's threads wait under
//! `--spin-wait`: polling for a while before parking.
//!
//! A parked network task is woken by the stage that answers it, through the
//! runtime's thread, which sleeps on an idle core; on a VM that wake-up alone is
//! tens of microseconds, the largest of the front's own costs at low load
//! (docs/serving.md). A server started with `--spin-wait D` has asked for polling
//! instead of those wake-ups, so each request polls for its answer for up to `D`,
//! yielding to the runtime between polls (other requests and the sockets still
//! run), and parks after.
//!
//! Only while a request waits: a runtime kept polling between requests as well was
//! measured slower on the 2-core VM, where the client needs the core it would take
//! (docs/serving.md).

use std::time::{Duration, Instant};

use tokio::sync::oneshot::{self, error::TryRecvError};

/// The answer on `rx`, polled for up to `spin` before the task parks on it; `None`
/// when the sender went away without answering.
pub async fn receive<T>(mut rx: oneshot::Receiver<T>, spin: Duration) -> Option<T> {
    if !spin.is_zero() {
        let until = Instant::now() + spin;
        loop {
            match rx.try_recv() {
                Ok(answer) => return Some(answer),
                // `try_recv` has consumed the channel: awaiting it now would panic.
                Err(TryRecvError::Closed) => return None,
                Err(TryRecvError::Empty) if Instant::now() < until => {
                    tokio::task::yield_now().await
                }
                Err(TryRecvError::Empty) => break,
            }
        }
    }
    rx.await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn an_answer_sent_while_polling_or_after_is_received_and_a_hang_up_is_none() {
        let rt = runtime();
        for spin in [
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_micros(1),
        ] {
            // Sent from another thread 5 ms later: inside the 50 ms spin, after the 1 µs one.
            let (tx, rx) = oneshot::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                tx.send(7).unwrap();
            });
            assert_eq!(rt.block_on(receive(rx, spin)), Some(7), "spin {spin:?}");
            sender.join().unwrap();
            // Hung up while polling, and before.
            let (tx, rx) = oneshot::channel::<u32>();
            let dropper = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                drop(tx);
            });
            assert_eq!(rt.block_on(receive(rx, spin)), None, "spin {spin:?}");
            dropper.join().unwrap();
            let (tx, rx) = oneshot::channel::<u32>();
            drop(tx);
            assert_eq!(rt.block_on(receive(rx, spin)), None, "spin {spin:?}");
        }
    }

    #[test]
    fn other_tasks_run_while_one_polls() {
        // One thread: a poller that did not yield would keep the answering task from
        // running until its 60 s were over.
        let rt = runtime();
        let (tx, rx) = oneshot::channel();
        let started = Instant::now();
        let answered = rt.block_on(async {
            let answering = tokio::spawn(async move { tx.send("done").unwrap() });
            let got = receive(rx, Duration::from_secs(60)).await;
            answering.await.unwrap();
            got
        });
        assert_eq!(answered, Some("done"));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the poller held the thread"
        );
    }
}
