//! Devices the backend can run on, behind one small interface shaped for GPUs:
//! buffers are allocated once per worker, copies and forwards are queued on a
//! stream, streams are ordered by events, and the host waits only where
//! the pipeline's stage ordering (`pipeline::ordering`) says.
//!
//! The CPU implementation does real copies (so the copy stages cost what a
//! copy costs, never nothing) and its events are reached when recorded; the CUDA
//! implementation (feature `cuda`) runs on libtorch's pool streams through a small
//! C++ shim ([`shim`]).

mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "cuda")]
pub mod graph;
pub mod openmp;
#[cfg(feature = "cuda")]
pub mod shim;

use std::sync::Arc;

pub use cpu::CpuDevice;

use tch::{Kind, Tensor};

use crate::config::DeviceSpec;
#[cfg(not(feature = "cuda"))]
use crate::error::Error;
use crate::error::Result;
use crate::metrics::utilization::GpuId;

/// A point in a stream's work that other streams and the host can wait for.
#[derive(Debug)]
pub enum DeviceEvent {
    /// Work ran when it was issued (the CPU), so the point was reached when recorded.
    Reached,
    /// A CUDA timing event.
    #[cfg(feature = "cuda")]
    Cuda(shim::Event),
}

impl DeviceEvent {
    /// Waits on the host until the point is reached.
    pub fn synchronize(&self) -> Result<()> {
        match self {
            DeviceEvent::Reached => Ok(()),
            #[cfg(feature = "cuda")]
            DeviceEvent::Cuda(e) => e.synchronize(),
        }
    }

    /// Device milliseconds from this point to `later`, both reached; `None` where the
    /// device has no timing events (the CPU: its stage times are the host stamps).
    pub fn elapsed_ms(&self, later: &DeviceEvent) -> Result<Option<f64>> {
        match (self, later) {
            #[cfg(feature = "cuda")]
            (DeviceEvent::Cuda(a), DeviceEvent::Cuda(b)) => a.elapsed_ms(b).map(Some),
            _ => Ok(None),
        }
    }
}

/// An ordered queue of device work. Each worker owns one; with the dedicated
/// layout the copy-in and copy-out stages own one each.
pub trait DeviceStream: Send {
    /// Makes this the calling thread's stream, so that the thread's forwards run on
    /// it. Called once, on the thread that uses the stream.
    fn make_current(&mut self) -> Result<()> {
        Ok(())
    }
    /// Copies `host` into `buffer`'s rows `row..row + host rows` (the rows after the
    /// first dimension have the same shape). On a GPU it returns once queued.
    fn copy_in(&mut self, host: &Tensor, buffer: &Tensor, row: i64) -> Result<()>;
    /// Copies `device` into a new host tensor (the response the client gets). On a
    /// GPU it returns once queued: the tensor holds the output once the stream
    /// reaches an event recorded after this call.
    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor>;
    /// Records an event at the current end of this stream.
    fn record(&mut self) -> Result<DeviceEvent> {
        Ok(DeviceEvent::Reached)
    }
    /// Makes work queued on this stream from now on wait for `event`, on the device:
    /// the host does not wait.
    fn wait_for(&mut self, _event: &DeviceEvent) -> Result<()> {
        Ok(())
    }
    /// Waits until everything issued on this stream has finished.
    fn synchronize(&mut self) -> Result<()>;
}

/// A device that holds model weights, input buffers and the forward's work.
pub trait ComputeDevice: Send + Sync {
    /// A human-readable name for reports ("cpu", "cuda:0 NVIDIA H100").
    fn describe(&self) -> String;
    /// Where libtorch should place tensors for this device.
    fn torch_device(&self) -> tch::Device;
    /// A new stream.
    fn new_stream(&self) -> Result<Box<dyn DeviceStream>>;
    /// A buffer of `shape` and element type `kind` on the device, allocated once and reused.
    fn alloc_buffer(&self, shape: &[i64], kind: Kind) -> Result<Tensor>;
    /// Host memory that requests are sent in: pinned on a GPU, so copy-in is a real
    /// asynchronous copy.
    fn alloc_host(&self, shape: &[i64], kind: Kind) -> Result<Tensor> {
        Ok(Tensor::f_empty(shape, (kind, tch::Device::Cpu))?)
    }
    /// Waits until all work on the device, on every stream, has finished (after the
    /// weights are copied, before serving).
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
    /// Pinned host-to-device bandwidth in bytes/s, from `repeats` copies of `bytes`
    /// queued on one stream and timed by events; `None` where inputs are not copied
    /// to a device (the CPU).
    fn h2d_bandwidth(&self, _bytes: usize, _repeats: u32) -> Result<Option<f64>> {
        Ok(None)
    }
    /// The GPU NVML should sample for this device's utilisation; `None` where there is
    /// no GPU (the CPU).
    fn nvml_id(&self) -> Option<GpuId> {
        None
    }
}

/// Copies for a bandwidth probe of `bytes` each: enough for about 256 MB in all,
/// between 10 and 1000, so that a probe takes tens of milliseconds at any size.
pub fn probe_repeats(bytes: usize) -> u32 {
    ((256usize << 20) / bytes.max(1)).clamp(10, 1000) as u32
}

/// Opens the device a configuration names, or says why it cannot.
pub fn open(spec: DeviceSpec) -> Result<Arc<dyn ComputeDevice>> {
    match spec {
        DeviceSpec::Cpu => Ok(Arc::new(CpuDevice)),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(n) => Ok(Arc::new(cuda::CudaDevice::open(n as usize)?)),
        #[cfg(not(feature = "cuda"))]
        DeviceSpec::Cuda(n) => Err(Error::Device(format!(
            "cuda:{n}: this build has no CUDA support; rebuild with `cargo build --release --features cuda` (see docs/gpu.md)"
        ))),
    }
}

/// Opens each distinct device the configurations name, so that a sweep or a curve
/// asking for a GPU this machine lacks fails before it writes anything.
pub fn check_available(configs: &[crate::config::RunConfig]) -> Result<()> {
    let mut seen = Vec::new();
    for cfg in configs {
        let spec = cfg.backend.device;
        if !seen.contains(&spec) {
            open(spec)?;
            seen.push(spec);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    #[test]
    fn the_cpu_has_no_copy_to_probe_and_probes_stay_bounded() {
        assert_eq!(CpuDevice.h2d_bandwidth(1 << 20, 10).unwrap(), None);
        assert_eq!(probe_repeats(1), 1000);
        assert_eq!(probe_repeats(1 << 30), 10);
        assert_eq!(probe_repeats(1 << 20), 256);
    }

    #[test]
    fn the_cpu_always_opens_and_a_missing_gpu_names_the_cause() {
        let mut cfg = RunConfig::default();
        check_available(std::slice::from_ref(&cfg)).unwrap();
        cfg.backend.device = DeviceSpec::Cuda(0);
        match check_available(&[RunConfig::default(), cfg]) {
            Ok(()) => assert!(tch::Cuda::is_available(), "opened cuda:0 without a GPU"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("cuda:0"), "{text}");
                assert!(
                    text.contains("driver") || text.contains("--features cuda"),
                    "names the cause: {text}"
                );
            }
        }
    }
}
