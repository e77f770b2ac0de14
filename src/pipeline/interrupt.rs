//! Ctrl-C (SIGINT): the first one asks the running measurement to stop at the next
//! wait, so that what was measured so far can still be reported; a second one ends
//! the process at once (exit 130), for when stopping takes longer than the user will wait.
//!
//! The handler only sets a flag (all a signal handler may safely do); the load
//! generator's waits poll it ([`requested`]), and a sweep checks it between runs.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The exit status of a process ended by SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether a stop was asked for (by Ctrl-C or [`request`]).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Asks the running measurement to stop, as a first Ctrl-C does.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

extern "C" fn on_sigint(_signal: libc::c_int) {
    if REQUESTED.swap(true, Ordering::Relaxed) {
        const MESSAGE: &[u8] = b"\ninferbench: interrupted again; exiting at once\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; MESSAGE outlives the call.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(EXIT_INTERRUPTED as libc::c_int);
        }
    }
}

/// Installs the SIGINT handler for this process. Call once, from a binary.
pub fn install() -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting value; the handler only touches
    // an atomic and calls async-signal-safe functions.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
