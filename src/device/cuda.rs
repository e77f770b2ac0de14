//! The CUDA device (feature `cuda`).
//!
//! cudarc checks for the driver without panicking, names the GPU, and owns one
//! stream per [`DeviceStream`]; tensors and the forward go through libtorch on the
//! same device.
//!
//! Limitation, stated so nobody reads more into the figures: libtorch launches
//! kernels on its *current* stream, and tch has no call to make a cudarc stream
//! current (that takes a small C++ shim over `at::cuda::setCurrentCUDAStream`).
//! Until that shim exists, copies and forwards run on libtorch's stream and
//! `synchronize` waits for the whole device, so the dedicated layout separates the
//! copy *threads* but not yet the copy *streams*.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaStream};
use tch::{Kind, Tensor};

use super::{ComputeDevice, DeviceStream};
use crate::error::{Error, Result};

/// One CUDA GPU.
pub struct CudaDevice {
    ordinal: usize,
    context: Arc<CudaContext>,
    name: String,
}

impl CudaDevice {
    /// Opens GPU `ordinal`, or explains why there is none to open.
    pub fn open(ordinal: usize) -> Result<Self> {
        // SAFETY: only probes whether the driver library can be loaded.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Error::Device(
                "no CUDA driver (libcuda.so) found on this machine".into(),
            ));
        }
        let context =
            CudaContext::new(ordinal).map_err(|e| Error::Device(format!("cuda:{ordinal}: {e}")))?;
        if !tch::Cuda::is_available() {
            return Err(Error::Device(
                "the driver works but libtorch sees no CUDA: libtorch_cuda.so was not linked (see build.rs)".into(),
            ));
        }
        let name = context.name().unwrap_or_else(|_| "unknown GPU".into());
        Ok(Self {
            ordinal,
            context,
            name,
        })
    }
}

struct CudaWorkStream {
    stream: Arc<CudaStream>,
    ordinal: usize,
}

impl DeviceStream for CudaWorkStream {
    fn copy_in(&mut self, host: &Tensor, buffer: &Tensor, row: i64) -> Result<()> {
        let rows = host.size().first().copied().unwrap_or(0);
        Ok(buffer.f_narrow(0, row, rows)?.f_copy_(host)?)
    }

    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor> {
        Ok(device.f_to_device(tch::Device::Cpu)?)
    }

    fn synchronize(&mut self) -> Result<()> {
        tch::Cuda::synchronize(self.ordinal as i64);
        self.stream
            .synchronize()
            .map_err(|e| Error::Device(format!("stream synchronize: {e}")))
    }
}

impl ComputeDevice for CudaDevice {
    fn describe(&self) -> String {
        format!("cuda:{} {}", self.ordinal, self.name)
    }

    fn torch_device(&self) -> tch::Device {
        tch::Device::Cuda(self.ordinal)
    }

    fn new_stream(&self) -> Result<Box<dyn DeviceStream>> {
        let stream = self
            .context
            .new_stream()
            .map_err(|e| Error::Device(format!("new stream: {e}")))?;
        Ok(Box::new(CudaWorkStream {
            stream,
            ordinal: self.ordinal,
        }))
    }

    fn alloc_buffer(&self, shape: &[i64]) -> Result<Tensor> {
        Ok(Tensor::f_zeros(shape, (Kind::Float, self.torch_device()))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_driver_is_an_error_not_a_panic() {
        // SAFETY: probe only.
        let driver = unsafe { cudarc::driver::sys::is_culib_present() };
        match CudaDevice::open(0) {
            Ok(device) => assert!(driver && device.describe().starts_with("cuda:0")),
            Err(e) => assert!(driver || e.to_string().contains("no CUDA driver"), "{e}"),
        }
    }
}
