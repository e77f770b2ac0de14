//! `--compile frozen`: a TorchScript module frozen (`torch::jit::freeze`: weights and
//! attributes become constants the graph passes can fold) and optimized for
//! inference (`torch::jit::optimize_for_inference`: conv–batch-norm folding, and on
//! the CPU MKL-DNN weight layouts), as `torch.jit.freeze` and
//! `torch.jit.optimize_for_inference` do in Python.
//!
//! Also the channels-last memory format ([`to_channels_last`]), which tch cannot ask for.
//!
//! Both passes are C++ only; the shim (`shim/jit.cpp`, built by build.rs) runs them
//! and keeps the result: a CPU-optimized module holds MKL-DNN tensors TorchScript
//! cannot save, so it cannot come back to tch as a file. The module goes in as a
//! file (tch saves it into a temporary folder, deleted on return) and is held here
//! as an opaque pointer with its own forward.

use std::ffi::{c_char, c_void, CString};
use std::path::Path;

use tch::{CModule, Device, Tensor};

use crate::error::{take_shim_message, Error, Result};

#[cfg(jit_shim)]
extern "C" {
    fn ib_jit_load_frozen(
        path: *const c_char,
        device: *const c_char,
        optimize: i32,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn ib_jit_forward(
        module: *mut c_void,
        inputs: *const *mut c_void,
        count: usize,
        out: *mut *mut c_void,
    ) -> *mut c_char;
    fn ib_jit_free(module: *mut c_void);
    fn ib_jit_free_error(message: *mut c_char);
    fn ib_channels_last(tensor: *mut c_void, out: *mut *mut c_void) -> *mut c_char;
}

/// A frozen, inference-optimized TorchScript module owned by the shim.
pub struct FrozenModule {
    module: *mut c_void,
}

// SAFETY: a torch::jit::Module's forward may run on several threads at once (tch
// shares its CModule the same way), and the pointer is freed once, on drop.
unsafe impl Send for FrozenModule {}
unsafe impl Sync for FrozenModule {}

impl FrozenModule {
    /// `module` frozen and optimized for inference on `device`.
    pub fn freeze(module: &CModule, device: Device) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| {
            Error::io(
                "cannot create a folder for freezing in",
                std::env::temp_dir(),
                e,
            )
        })?;
        let plain = dir.path().join("module.pt");
        module.save(&plain)?;
        Self::load(&plain, device)
    }

    /// The module saved at `path`, frozen and optimized for inference on `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::Pipeline(format!("{}: a path with a NUL byte", path.display())))?;
        let device = CString::new(device_name(device)).expect("device names have no NUL byte");
        let mut module = std::ptr::null_mut();
        // SAFETY: NUL-terminated strings that outlive the call; `module` is written
        // only on success.
        check("freezing the module", unsafe {
            shim::load_frozen(path.as_ptr(), device.as_ptr(), 1, &mut module)
        })?;
        Ok(Self { module })
    }

    /// The response for `inputs`: the output's first tensor.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        let pointers: Vec<*mut c_void> = inputs.iter().map(|t| t.as_ptr() as *mut c_void).collect();
        let mut out = std::ptr::null_mut();
        // SAFETY: the module is alive; the inputs are live at::Tensor pointers the
        // shim only reads; `out` is a new at::Tensor we then own.
        check("the forward", unsafe {
            shim::forward(self.module, pointers.as_ptr(), pointers.len(), &mut out)
        })?;
        // SAFETY: `out` is a heap at::Tensor from the shim, handed over to tch.
        Ok(unsafe { Tensor::from_ptr(out.cast()) })
    }
}

impl Drop for FrozenModule {
    fn drop(&mut self) {
        // SAFETY: made by ib_jit_load_frozen, freed once.
        unsafe { shim::free(self.module) }
    }
}

/// A copy of a 4-D tensor in the channels-last memory format (`--channels-last`):
/// the same shape and values, NHWC strides.
pub fn to_channels_last(tensor: &Tensor) -> Result<Tensor> {
    let mut out = std::ptr::null_mut();
    // SAFETY: a live at::Tensor the shim only reads; `out` is a new at::Tensor we own.
    check("channels-last", unsafe {
        shim::channels_last(tensor.as_ptr() as *mut c_void, &mut out)
    })?;
    // SAFETY: a heap at::Tensor from the shim, handed over to tch.
    Ok(unsafe { Tensor::from_ptr(out.cast()) })
}

/// Whether a 4-D tensor is laid out channels-last (channels innermost).
pub fn is_channels_last(tensor: &Tensor) -> bool {
    let (size, stride) = (tensor.size(), tensor.stride());
    size.len() == 4 && stride[1] == 1 && (size[1] == 1 || stride[3] == size[1])
}

/// libtorch's spelling of a device (`cpu`, `cuda:0`).
fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
        Device::Cpu => "cpu".into(),
    }
}

/// Turns a shim return value into a result; `what` says which call failed.
fn check(what: &str, message: *mut c_char) -> Result<()> {
    // SAFETY: a shim return value: null, or a string we own until free_error
    // (the allocator that made it), which frees it once.
    match unsafe { take_shim_message(message, |m| shim::free_error(m)) } {
        None => Ok(()),
        Some(text) => Err(Error::Pipeline(format!(
            "{what} failed: {}",
            crate::error::without_cpp_frames(&text).trim()
        ))),
    }
}

/// The shim's calls, or stand-ins that say it was not built.
#[cfg(jit_shim)]
mod shim {
    pub(super) use super::{
        ib_channels_last as channels_last, ib_jit_forward as forward, ib_jit_free as free,
        ib_jit_free_error as free_error, ib_jit_load_frozen as load_frozen,
    };
}

#[cfg(not(jit_shim))]
mod shim {
    use std::ffi::{c_char, c_void, CString};

    const NOT_BUILT: &str = "frozen needs the TorchScript shim, which is built only when LIBTORCH is set at build time (run scripts/setup.sh, then rebuild)";

    pub(super) unsafe fn load_frozen(
        _: *const c_char,
        _: *const c_char,
        _: i32,
        _: *mut *mut c_void,
    ) -> *mut c_char {
        CString::new(NOT_BUILT).unwrap().into_raw()
    }
    pub(super) unsafe fn forward(
        _: *mut c_void,
        _: *const *mut c_void,
        _: usize,
        _: *mut *mut c_void,
    ) -> *mut c_char {
        CString::new(NOT_BUILT).unwrap().into_raw()
    }
    pub(super) unsafe fn channels_last(_: *mut c_void, _: *mut *mut c_void) -> *mut c_char {
        CString::new(NOT_BUILT).unwrap().into_raw()
    }
    pub(super) unsafe fn free(_: *mut c_void) {}
    pub(super) unsafe fn free_error(message: *mut c_char) {
        drop(CString::from_raw(message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_last_keeps_shape_and_values_and_moves_channels_innermost() {
        // Random draws under the seed lock: other tests compare two seeded builds.
        let t = crate::model::seeded(0, || {
            Tensor::randn([2, 3, 4, 5], (tch::Kind::Float, Device::Cpu))
        });
        assert!(!is_channels_last(&t));
        let cl = to_channels_last(&t).unwrap();
        assert_eq!(cl.size(), t.size());
        assert_eq!(cl.stride(), [60, 1, 15, 3]);
        assert!(is_channels_last(&cl));
        assert_eq!((cl - &t).abs().max().double_value(&[]), 0.0);
    }
}
