//! Open loop on a schedule (Poisson arrivals): one client thread sends each request
//! at its intended time and takes the responses in between.
//!
//! Why one thread, and why it may spin: on a small machine every thread that parks
//! pays a wake-up when its item comes, and on a VM that wake-up is tens to hundreds
//! of µs. One thread that both sends and collects never competes with itself; it
//! spins only while a response can come (a request is in flight), and only on a
//! core no server thread needs: its own where the server pins it apart
//! ([`Pickup::on_own_core`], `pipeline::pinning`), or, unpinned, where the machine
//! has a core to spare beyond the server's busy threads and the client's own
//! ([`Pickup::choose`]). Otherwise it parks, and the report says the pickup delay
//! is in the latency.
//!
//! Why a spare core when unpinned: a spinning client holds its core, and the OS wakes a parked
//! server thread next to its waker. Measured on the 2-core VM (`spin:5ms`,
//! `poisson:60`, 1200 requests, one worker): with the client spinning on the
//! second core, a worker that was idle started 515-535 µs after the request and
//! its 5 ms forward read 5.40 ms (the spin shared a core until the scheduler moved
//! it); with the client parked, 12 µs and 5.01 ms, and the mean latency fell from
//! 7.22-7.30 to 6.54-6.56 ms although the response pickup grew from 88 to 374-403 µs.

use std::time::{Duration, Instant};

use crossbeam_channel::TryRecvError;

use super::collector::Collector;
use super::loadgen::{
    backend_stopped, failure, record, Client, Collected, Payloads, RequestSink, POLL,
};
use super::pinning::Placement;
use super::watch::Watch;
use crate::error::Result;
use crate::metrics::utilization::thread_cpu_seconds;
use crate::request::{Request, Stamp};
use crate::results::{LoadGenerator, Pickup};

/// How far ahead of its intended time the client stops parking and polls, so that
/// the OS's wake-up overshoot does not delay the send.
const SEND_LEAD: Duration = Duration::from_micros(200);

/// How far ahead of the first intended send the schedule starts.
const SCHEDULE_LEAD_NS: u64 = 2_000_000;

impl Pickup {
    /// Spin while requests are in flight where the client's core is its own, so
    /// its spinning takes nothing from the server; park where the batcher shares it
    /// ([`Placement`]).
    pub fn on_own_core(placement: &Placement) -> (Self, String) {
        if placement.client_alone() {
            (
                Pickup::Spin,
                format!("{}: the client spins on its own core", placement.describe()),
            )
        } else {
            (
                Pickup::Park,
                format!(
                    "{}: the client parks, leaving the core to the batcher, and each \
                     response's wake-up is in its latency",
                    placement.describe()
                ),
            )
        }
    }

    /// Spin while requests are in flight when the machine has a core beyond the
    /// server's busy threads and the client's own; park otherwise, so the client
    /// never takes a core that a server thread waking up needs (see the module doc).
    pub fn choose(cores: usize, server_threads: usize) -> (Self, String) {
        if cores >= server_threads + 2 {
            (
                Pickup::Spin,
                format!("{cores} cores, {server_threads} for the server's busy threads"),
            )
        } else {
            (
                Pickup::Park,
                format!(
                    "{cores} cores, {server_threads} for the server's busy threads and none to spare: \
                     the client parks, and each response's wake-up is in its latency"
                ),
            )
        }
    }
}

/// Sends request `first + k` at `schedule[k]` ns after the start and collects every
/// response on this thread. See the module doc.
pub(crate) fn collect_on_schedule<P, S: RequestSink<P>, R>(
    client: &Client<S, R>,
    watch: &mut Watch<'_>,
    inputs: &impl Payloads<P>,
    (first, n): (u64, u64),
    schedule: &[u64],
    (pickup, why): (Pickup, String),
    mut collector: Collector,
) -> Result<(Collected, LoadGenerator)> {
    let clock = client.clock;
    let payloads: Vec<P> = (first..first + n).map(|id| inputs.payload(id)).collect();
    let start = clock.now() + SCHEDULE_LEAD_NS;
    let intended: Vec<u64> = schedule.iter().map(|offset| start + offset).collect();
    let (cpu_before, wall_before) = (thread_cpu_seconds(), Instant::now());
    let mut payloads = payloads.into_iter();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut cut = None;
    // Since when the thread has had nothing to do but wait for a response.
    let mut free_at = clock.now();
    while received < n {
        // Everything due goes out first.
        let sent_before = sent;
        while sent < n && clock.now() >= intended[sent as usize] {
            let payload = payloads
                .next()
                .expect("one payload per request; this is a bug");
            let request = Request::scheduled(
                first + sent,
                client.batch,
                payload,
                intended[sent as usize],
                &clock,
            );
            client.send_request(request)?;
            sent += 1;
        }
        if sent > sent_before {
            free_at = clock.now();
        }
        if crate::pipeline::interrupt::requested() {
            cut = Some(Watch::interrupted(received, n));
            break;
        }
        let next_send = (sent < n).then(|| clock.instant_at(intended[sent as usize]));
        let in_flight = sent > received;
        let deadline = watch.deadline(Some(clock.instant_at(intended[received as usize])));
        if in_flight && Instant::now() >= deadline {
            cut = Some(watch.timed_out(received, n));
            break;
        }
        // Wait for a response until the next send is near; spin where a response can
        // come and a core is spare, or where the send is within the lead.
        let park_until = next_send.map_or(deadline, |t| t - SEND_LEAD).min(deadline);
        let spin = (in_flight && pickup == Pickup::Spin) || Instant::now() >= park_until;
        let taken = if spin {
            match client.rx.try_recv() {
                Ok(response) => Some(response),
                Err(TryRecvError::Empty) => {
                    std::hint::spin_loop();
                    None
                }
                Err(TryRecvError::Disconnected) => return Err(backend_stopped(received, n)),
            }
        } else {
            let until = park_until.min(Instant::now() + POLL);
            match client.rx.recv_deadline(until) {
                Ok(response) => Some(response),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(backend_stopped(received, n))
                }
            }
        };
        if let Some(response) = taken {
            let mut meta = match response {
                Ok(response) => response.meta,
                Err(e) => match failure::<std::convert::Infallible>(e, received, n)? {
                    Err(c) => {
                        cut = Some(c);
                        break;
                    }
                    Ok(never) => match never {},
                },
            };
            let now = clock.now();
            meta.stamps.set(Stamp::Received, now);
            meta.stamps
                .took(Stamp::CopiedOut, Stamp::Received, free_at, now);
            watch.progressed();
            record(&mut collector, meta)?;
            received += 1;
            free_at = clock.now();
        }
    }
    let wall = wall_before.elapsed().as_secs_f64();
    let cpu = match (cpu_before, thread_cpu_seconds()) {
        (Some(a), Some(b)) if wall > 0.0 => Some((b - a) / wall),
        _ => None,
    };
    let harness = LoadGenerator {
        pickup,
        why,
        client_cpu_cores: cpu,
    };
    Ok(((collector, cut), harness))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_spins_only_with_a_core_to_spare() {
        // One worker on 2 cores: the client's core and the worker's, none spare.
        assert_eq!(Pickup::choose(2, 1).0, Pickup::Park);
        assert_eq!(Pickup::choose(3, 1).0, Pickup::Spin);
        // A worker and the batcher's thread on 3 cores.
        assert_eq!(Pickup::choose(3, 2).0, Pickup::Park);
        // A remote server uses none of this machine's cores.
        assert_eq!(Pickup::choose(2, 0).0, Pickup::Spin);
        assert_eq!(Pickup::choose(1, 0).0, Pickup::Park);
        assert!(Pickup::choose(2, 1).1.contains("none to spare"));
    }
}
