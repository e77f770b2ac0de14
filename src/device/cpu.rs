//! The CPU device: buffers are plain host tensors and copies are `memcpy`s, issued
//! and finished synchronously.
//!
//! The copies go straight to memory when both sides are contiguous `f32` with
//! matching row shapes (always, for the pipeline's own inputs and ResNet outputs):
//! a libtorch `narrow` + `copy_` costs several µs of dispatch per call, more than
//! the copy itself at small image sizes. Anything else takes libtorch's path.

use tch::{Kind, Tensor};

use super::{ComputeDevice, DeviceStream};
use crate::error::{Error, Result};

/// The host CPU.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuDevice;

/// A CPU "stream": work runs when issued, so there is nothing to wait for.
#[derive(Debug, Default)]
struct CpuStream;

impl DeviceStream for CpuStream {
    fn copy_in(&mut self, host: &Tensor, buffer: &Tensor, row: i64) -> Result<()> {
        let (host_shape, buffer_shape) = (host.size(), buffer.size());
        let rows = host_shape.first().copied().unwrap_or(0);
        let fits = host_shape.len() == buffer_shape.len()
            && host_shape[1..] == buffer_shape[1..]
            && row >= 0
            && row + rows <= buffer_shape[0];
        if !fits {
            return Err(Error::Pipeline(format!(
                "an input of shape {host_shape:?} does not fit rows {row}.. of a buffer of shape {buffer_shape:?}"
            )));
        }
        if is_plain_f32(host) && is_plain_f32(buffer) {
            let row_len = buffer_shape[1..].iter().product::<i64>() as usize;
            // SAFETY: both tensors are contiguous f32 on the CPU; the source holds
            // rows × row_len values and the destination rows row.. row + rows exist
            // (checked above). They are distinct allocations: inputs come from the
            // input pool, buffers are allocated by `alloc_buffer`.
            unsafe {
                let src = host.data_ptr() as *const f32;
                let dst = (buffer.data_ptr() as *mut f32).add(row as usize * row_len);
                std::ptr::copy_nonoverlapping(src, dst, rows as usize * row_len);
            }
            return Ok(());
        }
        Ok(buffer.f_narrow(0, row, rows)?.f_copy_(host)?)
    }

    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor> {
        if is_plain_f32(device) {
            let host = Tensor::f_empty(device.size(), (Kind::Float, tch::Device::Cpu))?;
            // SAFETY: same shape, both contiguous f32 on the CPU, `host` freshly allocated.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    device.data_ptr() as *const f32,
                    host.data_ptr() as *mut f32,
                    device.numel(),
                );
            }
            return Ok(host);
        }
        let mut host = device.f_empty_like()?;
        host.f_copy_(device)?;
        Ok(host)
    }

    fn synchronize(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Contiguous `f32` on the CPU: a plain array a `memcpy` may read or write.
fn is_plain_f32(t: &Tensor) -> bool {
    t.kind() == Kind::Float && t.device() == tch::Device::Cpu && t.is_contiguous()
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

    fn alloc_buffer(&self, shape: &[i64], kind: Kind) -> Result<Tensor> {
        Ok(Tensor::f_zeros(shape, (kind, tch::Device::Cpu))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(rows: i64, offset: f64) -> Tensor {
        Tensor::arange(rows * 3 * 2 * 2, (Kind::Float, tch::Device::Cpu)).reshape([rows, 3, 2, 2])
            + offset
    }

    #[test]
    fn copy_in_writes_exactly_the_given_rows() {
        let buffer = CpuDevice.alloc_buffer(&[4, 3, 2, 2], Kind::Float).unwrap();
        let mut stream = CpuStream;
        stream.copy_in(&ramp(2, 100.0), &buffer, 1).unwrap();
        assert_eq!(
            buffer.get(0),
            Tensor::zeros([3, 2, 2], (Kind::Float, tch::Device::Cpu))
        );
        assert_eq!(buffer.narrow(0, 1, 2), ramp(2, 100.0));
        assert_eq!(
            buffer.get(3),
            Tensor::zeros([3, 2, 2], (Kind::Float, tch::Device::Cpu))
        );
    }

    #[test]
    fn copy_in_of_a_non_contiguous_input_takes_libtorchs_path() {
        let buffer = CpuDevice.alloc_buffer(&[2, 3, 2, 2], Kind::Float).unwrap();
        let transposed = ramp(2, 0.0).transpose(2, 3);
        assert!(!transposed.is_contiguous());
        CpuStream.copy_in(&transposed, &buffer, 0).unwrap();
        assert_eq!(buffer, transposed);
    }

    #[test]
    fn copy_in_refuses_what_does_not_fit() {
        let buffer = CpuDevice.alloc_buffer(&[2, 3, 2, 2], Kind::Float).unwrap();
        let err = CpuStream.copy_in(&ramp(2, 0.0), &buffer, 1).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
        let wrong = Tensor::zeros([1, 3, 4, 4], (Kind::Float, tch::Device::Cpu));
        assert!(CpuStream.copy_in(&wrong, &buffer, 0).is_err());
    }

    #[test]
    fn copy_out_is_an_equal_tensor_in_new_memory() {
        let device = ramp(3, 5.0);
        let host = CpuStream.copy_out(&device).unwrap();
        assert_eq!(host, device);
        assert_ne!(host.data_ptr(), device.data_ptr());
    }
}
