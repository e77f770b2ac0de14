//! AOTInductor packages: a `.pt2` from `torch._inductor.aoti_compile_and_package`,
//! loaded with libtorch's `AOTIModelPackageLoader` through the C++ shim
//! (`shim/aoti.cpp`). A user brings one as `--model aoti:PATH`; `--compile
//! aot-inductor` makes one for a built-in model ([`super::aoti_export`]).
//!
//! Each worker loads its own loader, so each has its own runner and none waits for
//! another's; on CUDA the runner computes on the worker's current stream.

use std::ffi::{c_char, c_void, CString};
use std::path::Path;

use tch::{Device, Tensor};

use crate::error::{take_shim_message, Error, Result};

#[cfg(jit_shim)]
mod shim {
    use std::ffi::{c_char, c_void};
    extern "C" {
        pub(super) fn ib_aoti_load(
            path: *const c_char,
            device: i32,
            out: *mut *mut c_void,
        ) -> *mut c_char;
        pub(super) fn ib_aoti_forward(
            loader: *mut c_void,
            inputs: *const *mut c_void,
            count: usize,
            out: *mut *mut c_void,
            outputs: *mut usize,
        ) -> *mut c_char;
        pub(super) fn ib_aoti_metadata(
            loader: *mut c_void,
            key: *const c_char,
            value: *mut *mut c_char,
        ) -> *mut c_char;
        pub(super) fn ib_aoti_free(loader: *mut c_void);
        pub(super) fn ib_aoti_free_error(message: *mut c_char);
    }
}

#[cfg(not(jit_shim))]
mod shim {
    use std::ffi::{c_char, c_void, CString};
    const NOT_BUILT: &str = "AOTInductor needs the model shim, which is built only when LIBTORCH is set at build time (run scripts/setup.sh, then rebuild)";
    fn not_built() -> *mut c_char {
        CString::new(NOT_BUILT).unwrap().into_raw()
    }
    pub(super) unsafe fn ib_aoti_load(
        _: *const c_char,
        _: i32,
        _: *mut *mut c_void,
    ) -> *mut c_char {
        not_built()
    }
    pub(super) unsafe fn ib_aoti_forward(
        _: *mut c_void,
        _: *const *mut c_void,
        _: usize,
        _: *mut *mut c_void,
        _: *mut usize,
    ) -> *mut c_char {
        not_built()
    }
    pub(super) unsafe fn ib_aoti_metadata(
        _: *mut c_void,
        _: *const c_char,
        _: *mut *mut c_char,
    ) -> *mut c_char {
        not_built()
    }
    pub(super) unsafe fn ib_aoti_free(_: *mut c_void) {}
    pub(super) unsafe fn ib_aoti_free_error(message: *mut c_char) {
        drop(CString::from_raw(message));
    }
}

/// One loaded package: a runner of its own.
pub struct AotiModule {
    loader: *mut c_void,
}

// SAFETY: the loader is used by one worker at a time (each has its own) and freed
// once, on drop; moving it between threads is what AOTInductor's runners allow.
unsafe impl Send for AotiModule {}
// SAFETY: `forward` only reads the loader; AOTInductor's runner is thread-safe.
unsafe impl Sync for AotiModule {}

impl AotiModule {
    /// Loads the package at `path` for `device`. A missing file, a file that is not a
    /// package, or a package compiled for another device is an error naming the file.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let shown = path.display();
        if !path.is_file() {
            return Err(Error::config(
                "model",
                format!("aoti:{shown}: no such file (make one with torch._inductor.aoti_compile_and_package)"),
            ));
        }
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::config("model", format!("aoti:{shown}: a path with a NUL byte")))?;
        let index = match device {
            Device::Cuda(i) => i as i32,
            _ => -1,
        };
        let mut loader = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path that outlives the call; `loader` is written
        // only on success.
        let message = unsafe { shim::ib_aoti_load(c_path.as_ptr(), index, &mut loader) };
        check(message).map_err(|why| {
            let why = why.lines().next().unwrap_or_default().trim_end_matches('.');
            Error::config(
                "model",
                format!("aoti:{shown}: not an AOTInductor package this libtorch can load on {} ({why}); make it with torch._inductor.aoti_compile_and_package for this device", device_kind(device)),
            )
        })?;
        let module = Self { loader };
        module.check_device(path, device)?;
        Ok(module)
    }

    /// A package records the device it was compiled for (`AOTI_DEVICE_KEY`); one
    /// compiled for a GPU cannot run on the CPU or the other way round.
    fn check_device(&self, path: &Path, device: Device) -> Result<()> {
        match self.metadata("AOTI_DEVICE_KEY")? {
            Some(made_for) => device_mismatch(path, &made_for, device).map_or(Ok(()), Err),
            None => Ok(()),
        }
    }

    /// A value of the package's metadata, if it has `key`.
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        let key = CString::new(key).expect("metadata keys have no NUL byte");
        let mut value = std::ptr::null_mut();
        // SAFETY: the loader is alive; `value` is a malloc'd string we own, or null.
        let message = unsafe { shim::ib_aoti_metadata(self.loader, key.as_ptr(), &mut value) };
        check(message)
            .map_err(|why| Error::Pipeline(format!("reading the package metadata: {why}")))?;
        Ok(take(value))
    }

    /// The response for `inputs`: the package's first output; also how many
    /// outputs it has.
    pub fn forward_counting(&self, inputs: &[Tensor]) -> Result<(Tensor, usize)> {
        let pointers: Vec<*mut c_void> = inputs.iter().map(|t| t.as_ptr() as *mut c_void).collect();
        let (mut out, mut outputs) = (std::ptr::null_mut(), 0usize);
        // SAFETY: the loader is alive; the inputs are live at::Tensor pointers the shim
        // only reads; `out` is a new at::Tensor we then own.
        let message = unsafe {
            shim::ib_aoti_forward(
                self.loader,
                pointers.as_ptr(),
                pointers.len(),
                &mut out,
                &mut outputs,
            )
        };
        check(message).map_err(Error::Pipeline)?;
        // SAFETY: `out` is a heap at::Tensor from the shim, handed over to tch.
        Ok((unsafe { Tensor::from_ptr(out.cast()) }, outputs))
    }

    /// The response for `inputs`: the package's first output.
    pub fn forward(&self, inputs: &[Tensor]) -> Result<Tensor> {
        self.forward_counting(inputs).map(|(t, _)| t)
    }

    /// One forward with the package's own input checks on (dtype, shape, device of
    /// each input: off by default, so a wrong dtype would be read as another type),
    /// and its own report of a failure kept off stderr (the error says it). For the
    /// probe before serving: the checks are read once per loaded package, at its
    /// first forward, so the workers' packages, loaded later, run without them, as in
    /// production. Call it with no other thread writing to stderr.
    pub fn checked_forward(&self, inputs: &[Tensor]) -> Result<(Tensor, usize)> {
        const CHECKS: &str = "AOTI_RUNTIME_CHECK_INPUTS";
        let user_set = std::env::var_os(CHECKS).is_some();
        if !user_set {
            std::env::set_var(CHECKS, "1");
        }
        let result = without_stderr(|| self.forward_counting(inputs));
        if !user_set {
            std::env::remove_var(CHECKS);
        }
        result
    }
}

/// `cpu` or `cuda`: how packages name the device they were compiled for.
fn device_kind(device: Device) -> &'static str {
    match device {
        Device::Cpu => "cpu",
        _ => "cuda",
    }
}

/// The error for a package compiled for `made_for` run on `device`, if they differ.
fn device_mismatch(path: &Path, made_for: &str, device: Device) -> Option<Error> {
    let wanted = device_kind(device);
    (made_for != wanted).then(|| {
        Error::config(
            "model",
            format!(
                "aoti:{}: the package was compiled for {made_for} and this run is on {wanted}: compile it for {wanted}, or run it with --device {made_for}",
                path.display()
            ),
        )
    })
}

/// Runs `f` with file descriptor 2 pointed at /dev/null.
fn without_stderr<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain descriptor calls; a failed dup leaves stderr as it was.
    let saved = unsafe { libc::dup(2) };
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY) };
    if saved >= 0 && null >= 0 {
        unsafe { libc::dup2(null, 2) };
    }
    let result = f();
    if saved >= 0 && null >= 0 {
        unsafe { libc::dup2(saved, 2) };
    }
    for fd in [saved, null] {
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
    }
    result
}

impl Drop for AotiModule {
    fn drop(&mut self) {
        // SAFETY: made by ib_aoti_load, freed once.
        unsafe { shim::ib_aoti_free(self.loader) }
    }
}

/// A shim return value as a result whose error is the C++ message.
fn check(message: *mut c_char) -> std::result::Result<(), String> {
    match take(message) {
        None => Ok(()),
        Some(text) => Err(crate::error::without_cpp_frames(&text).trim().to_string()),
    }
}

/// A string the shim made (a message or a metadata value; null: none), freed here.
fn take(text: *mut c_char) -> Option<String> {
    // SAFETY: the shim's strings are null or malloc'd and ours until
    // ib_aoti_free_error (the allocator that made them), which frees them once.
    unsafe { take_shim_message(text, |t| shim::ib_aoti_free_error(t)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_for_another_device_is_refused_naming_both() {
        let path = Path::new("m.pt2");
        assert!(device_mismatch(path, "cpu", Device::Cpu).is_none());
        assert!(device_mismatch(path, "cuda", Device::Cuda(1)).is_none());
        let err = device_mismatch(path, "cuda", Device::Cpu)
            .unwrap()
            .to_string();
        assert!(
            err.contains("m.pt2: the package was compiled for cuda and this run is on cpu")
                && err.contains("--device cuda"),
            "{err}"
        );
    }

    #[test]
    fn missing_and_unreadable_packages_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.pt2");
        let err = AotiModule::load(&missing, Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("gone.pt2: no such file"), "{err}");
        let junk = dir.path().join("junk.pt2");
        std::fs::write(&junk, b"not a zip archive").unwrap();
        let err = AotiModule::load(&junk, Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("junk.pt2: not an AOTInductor package") && !err.contains('\n'),
            "{err}"
        );
    }
}
