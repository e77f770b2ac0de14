//! CUDA graphs (feature `cuda`) through the C++ shim (`shim/graphs.cpp`, over
//! `at::cuda::CUDAGraph`): a forward captured once, then replayed as one launch.
//!
//! Why: at batch 1 a GPU forward is bound by the host launching its kernels one by
//! one (NVML utilisation 45-56 % on an H200 for ResNet-18); a replay launches the
//! whole graph at once. The graph reads and writes the same device memory on every
//! replay, so the caller keeps the captured inputs and outputs alive and copies a
//! request in and the answer out (see `model::graphed`).

use std::ffi::{c_char, c_void};

use super::shim::check;
use crate::error::Result;

extern "C" {
    fn ib_graph_new(device: i32, out: *mut *mut c_void) -> *mut c_char;
    fn ib_graph_enter_side_stream(graph: *mut c_void, device: i32) -> *mut c_char;
    fn ib_graph_capture_begin(graph: *mut c_void) -> *mut c_char;
    fn ib_graph_capture_end(graph: *mut c_void) -> *mut c_char;
    fn ib_graph_leave_side_stream(graph: *mut c_void) -> *mut c_char;
    fn ib_graph_replay(graph: *mut c_void) -> *mut c_char;
    fn ib_graph_free(graph: *mut c_void);
}

/// A captured and instantiated CUDA graph, freed on drop.
#[derive(Debug)]
pub struct CudaGraph {
    raw: *mut c_void,
}

// SAFETY: a CUDA graph executable may be launched from any thread; `CudaGraph` is not
// Sync, so one thread launches it at a time.
unsafe impl Send for CudaGraph {}

impl CudaGraph {
    /// Captures what `body` launches on GPU `device`: `warmups` runs of `body` first
    /// (libtorch's lazy initialisations, cuDNN's algorithm choice: none of it may
    /// happen inside a capture), then one captured run, all on a side stream that the
    /// calling thread leaves again afterwards. Returns the graph and what the captured
    /// run returned (tensors that the graph's replays overwrite in place).
    pub fn capture<T>(
        device: usize,
        warmups: u32,
        mut body: impl FnMut() -> Result<T>,
    ) -> Result<(Self, T)> {
        let ordinal = device as i32;
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer.
        check(&format!("CUDA graph on cuda:{device}"), unsafe {
            ib_graph_new(ordinal, &mut raw)
        })?;
        let graph = Self { raw };
        // SAFETY: `raw` is a live graph owned by `graph` in each call below.
        check("CUDA graph side stream", unsafe {
            ib_graph_enter_side_stream(graph.raw, ordinal)
        })?;
        let captured = graph.capture_on_side_stream(warmups, &mut body);
        // SAFETY: as above; leaving is needed whether or not the capture worked.
        let left = check("CUDA graph side stream", unsafe {
            ib_graph_leave_side_stream(graph.raw)
        });
        let out = captured?;
        left?;
        Ok((graph, out))
    }

    fn capture_on_side_stream<T>(
        &self,
        warmups: u32,
        body: &mut impl FnMut() -> Result<T>,
    ) -> Result<T> {
        for _ in 0..warmups {
            body()?;
        }
        // SAFETY: `raw` is a live graph owned by self.
        check("CUDA graph capture", unsafe {
            ib_graph_capture_begin(self.raw)
        })?;
        let out = body();
        // SAFETY: as above; the capture is ended even when the body failed.
        let ended = check("CUDA graph capture", unsafe {
            ib_graph_capture_end(self.raw)
        });
        let out = out?;
        ended?;
        Ok(out)
    }

    /// Queues one replay on the calling thread's current stream.
    pub fn replay(&self) -> Result<()> {
        // SAFETY: `raw` is a live, instantiated graph owned by self.
        check("CUDA graph replay", unsafe { ib_graph_replay(self.raw) })
    }
}

impl Drop for CudaGraph {
    fn drop(&mut self) {
        // SAFETY: `raw` came from ib_graph_new and is freed exactly once.
        unsafe { ib_graph_free(self.raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a GPU the capture fails with an error naming it, not a C++ abort;
    /// with one, a captured `x * 2 + 1` replays on new data written into its input.
    #[test]
    fn capture_fails_cleanly_without_a_gpu_and_replays_with_one() {
        let gpu = super::super::shim::device_count().unwrap_or(0) > 0;
        let device = tch::Device::Cuda(0);
        if !gpu {
            let err = CudaGraph::capture(0, 1, || Ok(())).unwrap_err().to_string();
            eprintln!("without a GPU: {err}");
            assert!(
                err.starts_with("device unavailable: CUDA graph on cuda:0: "),
                "{err}"
            );
            assert!(!err.contains('\n'), "one line, no C++ backtrace: {err}");
            return;
        }
        let input = tch::Tensor::zeros([4], (tch::Kind::Float, device));
        let (graph, output) = CudaGraph::capture(0, 1, || Ok(&input * 2.0 + 1.0)).unwrap();
        let mut view = input.shallow_clone();
        view.copy_(&tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).to(device));
        graph.replay().unwrap();
        let got: Vec<f32> = Vec::try_from(output.to(tch::Device::Cpu)).unwrap();
        assert_eq!(got, vec![3.0, 5.0, 7.0, 9.0]);
    }
}
