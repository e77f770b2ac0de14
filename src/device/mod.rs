//! Devices the backend can run on, behind one small interface shaped for GPUs:
//! buffers are allocated once per worker, copies are issued on a stream, and a
//! stream is synchronised before its results are read.
//!
//! The CPU implementation does real copies (so the copy stages cost what a
//! copy costs, never nothing); a CUDA implementation slots in behind the `cuda`
//! feature.

mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;

pub use cpu::CpuDevice;

use tch::Tensor;

use crate::error::Result;

/// An ordered queue of device work. Each worker owns one; with the dedicated
/// layout the copy-in and copy-out stages own one each.
pub trait DeviceStream: Send {
    /// Copies `host` into `buffer`'s rows `row..row + host rows` (the rows after the
    /// first dimension have the same shape).
    fn copy_in(&mut self, host: &Tensor, buffer: &Tensor, row: i64) -> Result<()>;
    /// Copies `device` into a new host tensor (the response the client gets).
    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor>;
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
    /// A float buffer of `shape` on the device, allocated once and reused.
    fn alloc_buffer(&self, shape: &[i64]) -> Result<Tensor>;
}
