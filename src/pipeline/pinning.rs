//! Where the in-process client and the server's threads run: the client on a core
//! of its own, the server's threads on the others, when the machine has a core for
//! each of the server's compute threads and one more. The batcher's thread, light
//! but woken by every request, goes with the server where it has a core to spare
//! and with the client otherwise (then the client parks, leaving it the core).
//!
//! Why: left to itself the OS wakes a parked thread on (or next to) the core of the
//! thread that woke it, and a thread whose timer fires is woken where it last ran.
//! Measured on the 2-core VM (`spin:5ms`, `poisson:60`, 1200 requests, one worker,
//! the client parking): the client and the worker were often on the same core
//! with the other idle, so the client sent 426 µs late on average (up to 4.9 ms,
//! one whole forward) and picked responses up 395 µs late. Pinned apart, each
//! thread has its core the moment it wakes. A performance engineer would do this
//! with `taskset`; the harness does it for its own threads, and the report says so.
//!
//! Threads inherit the affinity of the thread that creates them, so the server's
//! threads are placed by spawning them while the calling thread holds the server's
//! cores ([`Placement::for_server`]), and torch's pools started later by a worker
//! inherit the same. The calling thread gets its own mask back when the guard drops.

use std::io;

use crate::error::{Error, Result};

/// The cores of the client and of the server's threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    client: usize,
    server: Vec<usize>,
    /// The batcher's thread shares the client's core.
    batcher_with_client: bool,
}

/// Restores the calling thread's affinity when dropped.
#[must_use = "the thread keeps the placement only while the guard lives"]
pub struct Pinned {
    before: Vec<usize>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // Restoring a mask the thread had a moment ago cannot fail but for a cpuset
        // shrunk meanwhile; then the OS's own choice is all that is left.
        let _ = set_current(&self.before);
    }
}

impl Placement {
    /// A core for the client, the rest for the server, when the cores this thread
    /// may use number at least `compute_threads + 1`; `None` otherwise (the OS
    /// places every thread, and they share cores). `batcher`: the server has a
    /// batcher's thread.
    pub fn choose(compute_threads: usize, batcher: bool) -> Option<Self> {
        Self::from_cores(&current().ok()?, compute_threads, batcher)
    }

    fn from_cores(allowed: &[usize], compute_threads: usize, batcher: bool) -> Option<Self> {
        let (&client, server) = allowed.split_last()?;
        (!server.is_empty() && server.len() >= compute_threads).then(|| Self {
            client,
            server: server.to_vec(),
            batcher_with_client: batcher && server.len() < compute_threads + 1,
        })
    }

    /// Whether the client's core is its own (no batcher shares it): then it may spin.
    pub fn client_alone(&self) -> bool {
        !self.batcher_with_client
    }

    /// Pins the calling thread to the batcher's cores until the guard drops: spawn
    /// the batcher's thread meanwhile.
    pub fn for_batcher(&self) -> Result<Pinned> {
        if self.batcher_with_client {
            self.for_client()
        } else {
            self.for_server()
        }
    }

    /// Pins the calling thread to the server's cores until the guard drops: spawn
    /// the server's threads meanwhile.
    pub fn for_server(&self) -> Result<Pinned> {
        pin(&self.server).map_err(|e| cannot_pin("the server's threads", &self.server, e))
    }

    /// Pins the calling thread to the client's core until the guard drops.
    pub fn for_client(&self) -> Result<Pinned> {
        pin(&[self.client]).map_err(|e| cannot_pin("the client", &[self.client], e))
    }

    /// For the report: "client on core 1, server on core 0".
    pub fn describe(&self) -> String {
        let server: Vec<String> = self.server.iter().map(usize::to_string).collect();
        format!(
            "client{} on core {}, server on core{} {}",
            if self.batcher_with_client {
                " and batcher"
            } else {
                ""
            },
            self.client,
            if self.server.len() > 1 { "s" } else { "" },
            server.join(",")
        )
    }
}

fn cannot_pin(what: &str, cores: &[usize], e: io::Error) -> Error {
    Error::Pipeline(format!(
        "cannot pin {what} to cores {cores:?}: {e} (the cores this process may use changed under it?)"
    ))
}

fn pin(cores: &[usize]) -> io::Result<Pinned> {
    let before = current()?;
    set_current(cores)?;
    Ok(Pinned { before })
}

/// The cores the calling thread may run on.
fn current() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity(0, …) fills the calling
    // thread's mask and the size passed is the set's own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Lets the calling thread run on `cores` only.
fn set_current(cores: &[usize]) -> io::Result<()> {
    // SAFETY: as in `current`; CPU_SET is given indices below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cores.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_gets_a_core_only_when_the_server_keeps_one_per_busy_thread() {
        let p = Placement::from_cores(&[0, 1], 1, false).expect("one worker on two cores");
        assert_eq!((p.client, p.server.clone()), (1, vec![0]));
        assert_eq!(p.describe(), "client on core 1, server on core 0");
        assert!(p.client_alone());
        assert_eq!(Placement::from_cores(&[0, 1], 2, false), None);
        assert_eq!(
            Placement::from_cores(&[3], 0, false),
            None,
            "one core: nothing to split"
        );
        let p = Placement::from_cores(&[2, 5, 7], 2, false).unwrap();
        assert_eq!((p.client, p.server), (7, vec![2, 5]));
    }

    #[test]
    fn the_batcher_goes_with_the_server_when_it_has_a_core_to_spare() {
        let p = Placement::from_cores(&[0, 1], 1, true).unwrap();
        assert!(
            !p.client_alone(),
            "no spare server core: the batcher joins the client"
        );
        assert_eq!(
            p.describe(),
            "client and batcher on core 1, server on core 0"
        );
        let p = Placement::from_cores(&[0, 1, 2], 1, true).unwrap();
        assert!(p.client_alone());
        assert_eq!(p.describe(), "client on core 2, server on cores 0,1");
    }

    #[test]
    fn a_pin_holds_while_its_guard_lives_and_is_undone_after() {
        let before = current().unwrap();
        let Some(p) = Placement::from_cores(&before, 1, false) else {
            return; // one core: there is no placement to try
        };
        {
            let _client = p.for_client().unwrap();
            assert_eq!(current().unwrap(), vec![p.client]);
        }
        assert_eq!(current().unwrap(), before);
        std::thread::scope(|s| {
            let _server = p.for_server().unwrap();
            let inherited = s.spawn(|| current().unwrap()).join().unwrap();
            assert_eq!(
                inherited, p.server,
                "a thread spawned meanwhile inherits the server's cores"
            );
        });
        assert_eq!(current().unwrap(), before);
    }
}
