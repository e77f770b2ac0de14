//! Open loop on a schedule (Poisson arrivals): one client thread sends each request
//! at its intended time and takes the responses in between.
//!
//! Why one thread, and why it may spin: on a small machine every thread that parks
//! pays a wake-up when its item comes, and on a VM that wake-up is tens to hundreds
//! of µs. Measured on the 2-core VM (`spin:5ms`, `poisson:60`, 1500 requests): with
//! a parked collector the response pickup was 86 µs a request, and a separate sender
//! thread competed with it for the second core; with the client spinning while a
//! request is in flight it was 4 µs and the mean latency came within 0.3 % of an
//! ideal FIFO queue replayed on the same arrivals and service times. One thread that
//! both sends and collects never competes with itself; it spins only while a
//! response can come (a request is in flight) and only when the machine has a core
//! the server does not use ([`Pickup::choose`]); otherwise it parks, and the report
//! says the pickup delay is in the latency.

use std::time::{Duration, Instant};

use crossbeam_channel::TryRecvError;

use super::collector::Collector;
use super::loadgen::{
    backend_stopped, failure, record, Client, Collected, Payloads, RequestSink, POLL,
};
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
    /// Spin while requests are in flight when the machine has more cores than the
    /// server's compute threads; park otherwise, so the client never takes a core
    /// the forward needs.
    pub fn choose(cores: usize, server_threads: usize) -> (Self, String) {
        if cores > server_threads {
            (
                Pickup::Spin,
                format!("{cores} cores, {server_threads} for the server's compute threads"),
            )
        } else {
            (
                Pickup::Park,
                format!(
                    "{cores} cores, all {server_threads} needed by the server's compute threads: \
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
