//! The CPU device: buffers are plain host tensors and copies are `memcpy`s
//! through libtorch, issued and finished synchronously.

use tch::{Kind, Tensor};

use super::{ComputeDevice, DeviceStream};
use crate::error::Result;

/// The host CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuDevice;

/// A CPU "stream": work runs when issued, so there is nothing to wait for.
#[derive(Debug, Default)]
struct CpuStream;

impl DeviceStream for CpuStream {
    fn copy_in(&mut self, host: &Tensor, device: &mut Tensor) -> Result<()> {
        Ok(device.f_copy_(host)?)
    }

    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor> {
        let mut host = device.f_empty_like()?;
        host.f_copy_(device)?;
        Ok(host)
    }

    fn synchronize(&mut self) -> Result<()> {
        Ok(())
    }
}

impl ComputeDevice for CpuDevice {
    fn describe(&self) -> String {
        "cpu".into()
    }

    fn torch_device(&self) -> tch::Device {
        tch::Device::Cpu
    }

    fn new_stream(&self) -> Result<Box<dyn DeviceStream>> {
        Ok(Box::new(CpuStream))
    }

    fn alloc_buffer(&self, shape: &[i64]) -> Result<Tensor> {
        Ok(Tensor::f_zeros(shape, (Kind::Float, tch::Device::Cpu))?)
    }
}
