//! The CUDA device (feature `cuda`).
//!
//! cudarc checks for the driver without panicking and names the GPU; streams,
//! events, non-blocking copies and pinned memory go through the C++ shim
//! ([`super::shim`]) over libtorch's own stream pool, so the streams here are the
//! ones libtorch launches a thread's forward on once [`DeviceStream::make_current`]
//! has run on that thread.

use std::sync::Arc;

use cudarc::driver::CudaContext;
use tch::{Kind, Tensor};

use super::shim::{self, Event, Stream};
use super::{ComputeDevice, DeviceEvent, DeviceStream};
use crate::error::{Error, Result};
use crate::metrics::utilization::GpuId;

/// One CUDA GPU.
pub struct CudaDevice {
    ordinal: usize,
    _context: Arc<CudaContext>,
    name: String,
    /// `domain:bus:device.0` in hex, how NVML finds this GPU; `None` if the driver
    /// would not say (NVML then samples its device `ordinal`).
    pci_bus_id: Option<String>,
}

impl CudaDevice {
    /// Opens GPU `ordinal`, or explains why there is none to open.
    pub fn open(ordinal: usize) -> Result<Self> {
        // SAFETY: only probes whether the driver library can be loaded.
        if !unsafe { cudarc::driver::sys::is_culib_present() } {
            return Err(Error::Device(format!(
                "cuda:{ordinal}: no CUDA driver (libcuda.so) found on this machine; run on a machine with an NVIDIA GPU and driver, or use --device cpu"
            )));
        }
        let context = CudaContext::new(ordinal).map_err(|e| {
            Error::Device(format!(
                "cuda:{ordinal}: the CUDA driver cannot open it ({e})"
            ))
        })?;
        let seen = shim::device_count().map_err(|e| {
            Error::Device(format!(
                "cuda:{ordinal}: the driver works but libtorch cannot use it: {e} (is libtorch_cuda.so linked? see build.rs)"
            ))
        })?;
        if ordinal as i32 >= seen {
            return Err(Error::Device(format!(
                "cuda:{ordinal}: libtorch sees {seen} CUDA device(s)"
            )));
        }
        let name = context.name().unwrap_or_else(|_| "unknown GPU".into());
        let pci_bus_id = pci_bus_id(&context);
        Ok(Self {
            ordinal,
            _context: context,
            name,
            pci_bus_id,
        })
    }
}

/// GPU `ordinal`'s model and compute capability, e.g. `NVIDIA H200 sm_90`: what
/// code compiled for a GPU (an AOTInductor package's kernels) depends on. The device
/// index does not say it: `cuda:0` is another GPU on another machine.
pub fn identity(ordinal: usize) -> Result<String> {
    use cudarc::driver::sys::CUdevice_attribute as A;
    let device = CudaDevice::open(ordinal)?;
    let read = |a| {
        device
            ._context
            .attribute(a)
            .map_err(|e| Error::Device(format!("cuda:{ordinal}: compute capability: {e}")))
    };
    let major = read(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = read(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    Ok(format!("{} sm_{major}{minor}", device.name))
}

/// The GPU's PCI address from the driver, in the form NVML looks devices up by.
fn pci_bus_id(context: &CudaContext) -> Option<String> {
    use cudarc::driver::sys::CUdevice_attribute as A;
    let read = |a| {
        context
            .attribute(a)
            .ok()
            .and_then(|v| u32::try_from(v).ok())
    };
    let domain = read(A::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)?;
    let bus = read(A::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)?;
    let device = read(A::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)?;
    Some(format_pci_bus_id(domain, bus, device))
}

/// `domain:bus:device.function` in hex, function 0 (a GPU is function 0 of its slot).
fn format_pci_bus_id(domain: u32, bus: u32, device: u32) -> String {
    format!("{domain:04x}:{bus:02x}:{device:02x}.0")
}

/// A pool stream; every event it records has timing on, for per-stage device times.
struct CudaWorkStream {
    stream: Stream,
}

impl DeviceStream for CudaWorkStream {
    fn make_current(&mut self) -> Result<()> {
        self.stream.make_current().map(drop)
    }

    fn copy_in(&mut self, host: &Tensor, buffer: &Tensor, row: i64) -> Result<()> {
        let rows = host.size().first().copied().unwrap_or(0);
        let mut rows_view = buffer.f_narrow(0, row, rows)?;
        with_current(self.stream, || shim::copy_nonblocking(&mut rows_view, host))
    }

    fn copy_out(&mut self, device: &Tensor) -> Result<Tensor> {
        let mut host = shim::empty_pinned(&device.size(), device.kind())?;
        with_current(self.stream, || shim::copy_nonblocking(&mut host, device))?;
        Ok(host)
    }

    fn record(&mut self) -> Result<DeviceEvent> {
        let mut event = Event::new(true)?;
        event.record(self.stream)?;
        Ok(DeviceEvent::Cuda(event))
    }

    fn wait_for(&mut self, event: &DeviceEvent) -> Result<()> {
        match event {
            DeviceEvent::Cuda(e) => e.block(self.stream),
            DeviceEvent::Reached => Ok(()),
        }
    }

    fn synchronize(&mut self) -> Result<()> {
        self.stream.synchronize()
    }
}

/// Runs `f` with `stream` current on this thread (libtorch queues copies on the
/// current stream), then restores the previous one. Copy stages call it around each
/// copy so that they never depend on what else the thread made current.
fn with_current<T>(stream: Stream, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let previous = stream.make_current()?;
    let result = f();
    previous.make_current()?;
    result
}

impl ComputeDevice for CudaDevice {
    fn describe(&self) -> String {
        format!("cuda:{} {}", self.ordinal, self.name)
    }

    fn torch_device(&self) -> tch::Device {
        tch::Device::Cuda(self.ordinal)
    }

    fn new_stream(&self) -> Result<Box<dyn DeviceStream>> {
        Ok(Box::new(CudaWorkStream {
            stream: Stream::from_pool(self.ordinal, false)?,
        }))
    }

    /// Uninitialised: a fill would run on the legacy default stream, which the pool
    /// streams do not wait for; every row the forward reads is copied in first.
    fn alloc_buffer(&self, shape: &[i64], kind: Kind) -> Result<Tensor> {
        Ok(Tensor::f_empty(shape, (kind, self.torch_device()))?)
    }

    fn alloc_host(&self, shape: &[i64], kind: Kind) -> Result<Tensor> {
        shim::empty_pinned(shape, kind)
    }

    fn synchronize(&self) -> Result<()> {
        tch::Cuda::synchronize(self.ordinal as i64);
        Ok(())
    }

    fn h2d_bandwidth(&self, bytes: usize, repeats: u32) -> Result<Option<f64>> {
        let shape = [bytes as i64];
        let host = shim::empty_pinned(&shape, Kind::Uint8)?;
        let mut device = Tensor::f_empty(shape, (Kind::Uint8, self.torch_device()))?;
        let stream = Stream::from_pool(self.ordinal, false)?;
        let ms = with_current(stream, || {
            shim::copy_nonblocking(&mut device, &host)?; // first copy: out of the timing
            let (mut start, mut end) = (Event::new(true)?, Event::new(true)?);
            start.record(stream)?;
            for _ in 0..repeats {
                shim::copy_nonblocking(&mut device, &host)?;
            }
            end.record(stream)?;
            end.synchronize()?;
            start.elapsed_ms(&end)
        })?;
        Ok((ms > 0.0).then(|| bytes as f64 * repeats as f64 / (ms * 1e-3)))
    }

    fn nvml_id(&self) -> Option<GpuId> {
        Some(match &self.pci_bus_id {
            Some(id) => GpuId::PciBusId(id.clone()),
            None => GpuId::Index(self.ordinal as u32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_bus_ids_are_written_as_nvml_reads_them() {
        assert_eq!(format_pci_bus_id(0, 0x17, 0), "0000:17:00.0");
        assert_eq!(format_pci_bus_id(1, 0xb3, 0x1f), "0001:b3:1f.0");
    }

    #[test]
    fn no_gpu_is_an_error_naming_the_cause_not_a_panic() {
        match CudaDevice::open(0) {
            Ok(device) => {
                assert!(device.describe().starts_with("cuda:0"));
                // NVML finds the same GPU by its PCI bus id, and samples it.
                let id = device.nvml_id().expect("a GPU has an NVML id");
                assert!(matches!(id, GpuId::PciBusId(_)), "{id}");
                let sampler = crate::metrics::utilization::UtilizationSampler::start_on(
                    std::time::Duration::from_millis(20),
                    id,
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
                let summary = sampler.stop();
                assert_eq!(summary.gpu_absent_reason, None);
                assert!(summary.gpu_pct.is_some());
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with("device unavailable: cuda:0: "), "{text}");
                assert!(
                    text.contains("driver") || text.contains("libtorch"),
                    "names the cause: {text}"
                );
            }
        }
    }
}
