//! Keeping libtorch's OpenMP threads quick to wake.
//!
//! libtorch's CPU kernels run their parallel loops on OpenMP (the wheel's libgomp).
//! Between parallel regions a team's helper threads spin before they sleep: 300,000
//! iterations by default, but only 100 once libgomp counts more threads in its teams
//! than the process has CPUs. It counts every team that exists, idle or not, and a
//! thread keeps its team until it exits. The thread that prepared the model (random
//! weights, instances, a trace, the inputs) keeps its team while it then only sends
//! and waits, and that team alone pushes a worker with `cores` intra-op threads over
//! the limit: its helper then sleeps and is woken between nearly every parallel
//! region. Measured on a 2-core VM (ResNet-18, bs 1, 32 px, one worker with 2
//! intra-op threads): the worker's helper slept 8-11 thousand times a second with
//! the preparing thread's team kept, never once it was released; throughput 292 vs
//! 260 samples/s (median of 6 alternating runs), process CPU 98 % vs 78 % (the
//! helpers now spin between regions, as they do in a Python process running the same
//! model). [`release_thread_team`] hands the calling thread's team back (OpenMP 5.0's
//! `omp_pause_resource_all`, which libgomp applies to the calling thread's pool).
//!
//! The same count decides how fair the bare-forward baseline is: its threads must
//! run while no worker's team exists, or they are throttled and the pipeline is
//! not; `pipeline::run` therefore times it before the workers start and after they
//! have exited (a thread's team goes with it).

use std::ffi::c_int;
use std::sync::OnceLock;

type PauseAll = unsafe extern "C" fn(c_int) -> c_int;

/// `omp_pause_soft`: release the threads; they are created again on the next region.
const OMP_PAUSE_SOFT: c_int = 1;

/// The OpenMP runtime's `omp_pause_resource_all`, if one is loaded that has it.
fn pause_all() -> Option<PauseAll> {
    static FOUND: OnceLock<Option<PauseAll>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: a lookup among the libraries already loaded.
        let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"omp_pause_resource_all".as_ptr()) };
        // SAFETY: where found, the symbol is OpenMP 5.0's
        // `int omp_pause_resource_all(omp_pause_resource_t)`.
        (!symbol.is_null())
            .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, PauseAll>(symbol) })
    })
}

/// Releases the OpenMP team the calling thread created for its parallel regions, so
/// that it no longer counts against the other threads' spinning. Call it on a thread
/// that has finished its parallel work and will now mostly wait. `true` if released;
/// `false` where no OpenMP runtime has the call, or it refused (inside a parallel
/// region): nothing is then changed.
pub fn release_thread_team() -> bool {
    match pause_all() {
        // SAFETY: called outside any parallel region of this thread; libgomp then
        // frees this thread's pool, which it builds again on the thread's next region.
        Some(pause) => unsafe { pause(OMP_PAUSE_SOFT) == 0 },
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_is_released_and_rebuilt_on_the_next_parallel_region() {
        // A parallel region on this thread: a matmul large enough to be split.
        let a = tch::Tensor::ones([256, 256], (tch::Kind::Float, tch::Device::Cpu));
        let _ = a.matmul(&a);
        assert!(
            pause_all().is_some(),
            "libtorch's libgomp has omp_pause_resource_all"
        );
        assert!(release_thread_team());
        // The next region works as before.
        let b = a.matmul(&a);
        assert_eq!(b.double_value(&[0, 0]), 256.0);
        assert!(release_thread_team());
    }
}
