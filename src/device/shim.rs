//! Safe Rust over the C++ stream shim (`shim/streams.cpp`, compiled by build.rs
//! under feature `cuda`): streams from libtorch's pool, making one current on a
//! thread, events, non-blocking copies and pinned host allocation.
//!
//! Every shim function returns either nothing or a C++ exception's message; the
//! message becomes [`Error::Device`] here, so no C++ exception reaches Rust and no
//! caller sees a raw pointer. Without a GPU the calls fail with libtorch's own words
//! (e.g. "CUDA driver version is insufficient…" or "no CUDA GPUs are available").

use std::ffi::{c_char, c_void};

use tch::{Kind, Tensor};

use crate::error::{take_shim_message, Error, Result};

/// A CUDA stream as plain data (c10's `Stream::pack3`): pool streams live as long
/// as the process, so a stream needs no freeing and may be copied between threads.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    id: i64,
    device_index: i32,
    device_type: i32,
}

extern "C" {
    fn ib_cuda_device_count(out: *mut i32) -> *mut c_char;
    fn ib_stream_from_pool(device: i32, high_priority: i32, out: *mut Stream) -> *mut c_char;
    fn ib_stream_current(device: i32, out: *mut Stream) -> *mut c_char;
    fn ib_stream_make_current(stream: Stream, previous: *mut Stream) -> *mut c_char;
    fn ib_stream_synchronize(stream: Stream) -> *mut c_char;
    fn ib_stream_query(stream: Stream, done: *mut i32) -> *mut c_char;
    fn ib_event_new(timing: i32, out: *mut *mut c_void) -> *mut c_char;
    fn ib_event_free(event: *mut c_void);
    fn ib_event_record(event: *mut c_void, stream: Stream) -> *mut c_char;
    fn ib_event_block(event: *mut c_void, stream: Stream) -> *mut c_char;
    fn ib_event_synchronize(event: *mut c_void) -> *mut c_char;
    fn ib_event_query(event: *mut c_void, done: *mut i32) -> *mut c_char;
    fn ib_event_elapsed_ms(start: *mut c_void, end: *mut c_void, ms: *mut f64) -> *mut c_char;
    fn ib_copy_nonblocking(dst: *mut c_void, src: *mut c_void) -> *mut c_char;
    fn ib_empty_pinned(
        dst: *mut c_void,
        shape: *const i64,
        ndim: usize,
        scalar_type: i32,
    ) -> *mut c_char;
    fn ib_free_error(message: *mut c_char);
}

/// Turns a shim return value into a result; `what` says which call failed.
pub(super) fn check(what: &str, message: *mut c_char) -> Result<()> {
    // SAFETY: a shim return value: null, or a malloc'd string we own until
    // ib_free_error, which frees it once.
    match unsafe { take_shim_message(message, |m| ib_free_error(m)) } {
        None => Ok(()),
        Some(text) => Err(Error::Device(format!("{what}: {}", first_line(&text)))),
    }
}

/// c10 messages append a C++ backtrace after the first line; the first line says it.
fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no message)")
}

/// CUDA devices libtorch sees (0 without a driver or GPU).
pub fn device_count() -> Result<i32> {
    let mut n = 0;
    // SAFETY: `n` is a valid out-pointer for the call.
    check("CUDA device count", unsafe { ib_cuda_device_count(&mut n) })?;
    Ok(n)
}

impl Stream {
    /// A stream from libtorch's per-device pool (the seed's `torch.cuda.Stream()`).
    pub fn from_pool(device: usize, high_priority: bool) -> Result<Self> {
        let mut out = Stream::default();
        // SAFETY: `out` is a valid out-pointer.
        let rc = unsafe { ib_stream_from_pool(device as i32, high_priority as i32, &mut out) };
        check(&format!("stream on cuda:{device}"), rc)?;
        Ok(out)
    }

    /// The calling thread's current stream on `device`.
    pub fn current(device: usize) -> Result<Self> {
        let mut out = Stream::default();
        // SAFETY: `out` is a valid out-pointer.
        check("current stream", unsafe {
            ib_stream_current(device as i32, &mut out)
        })?;
        Ok(out)
    }

    /// Makes this stream current on the calling thread, so libtorch launches the
    /// thread's kernels and copies on it; returns the stream it replaces.
    pub fn make_current(self) -> Result<Stream> {
        let mut previous = Stream::default();
        // SAFETY: plain data in, valid out-pointer.
        check("make stream current", unsafe {
            ib_stream_make_current(self, &mut previous)
        })?;
        Ok(previous)
    }

    /// Waits on the host until everything issued on the stream has finished.
    pub fn synchronize(self) -> Result<()> {
        // SAFETY: plain data in.
        check("stream synchronize", unsafe { ib_stream_synchronize(self) })
    }

    /// Whether everything issued on the stream has finished (no wait).
    pub fn is_idle(self) -> Result<bool> {
        let mut done = 0;
        // SAFETY: plain data in, valid out-pointer.
        check("stream query", unsafe { ib_stream_query(self, &mut done) })?;
        Ok(done != 0)
    }
}

impl Default for Stream {
    /// A placeholder for out-parameters; never handed to the shim before it is filled.
    fn default() -> Self {
        Self {
            id: 0,
            device_index: -1,
            device_type: 1, // c10::DeviceType::CUDA
        }
    }
}

/// A CUDA event (c10::Event), freed on drop. Created on first record.
#[derive(Debug)]
pub struct Event {
    raw: *mut c_void,
}

// SAFETY: a c10::Event is a handle to a driver object that may be recorded, waited
// on and destroyed from any thread; `Event` is not Sync, so one thread uses it at a time.
unsafe impl Send for Event {}

impl Event {
    /// A new event; `timing` enables [`Event::elapsed_ms`] (costs a little per record).
    pub fn new(timing: bool) -> Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer.
        check("new event", unsafe {
            ib_event_new(timing as i32, &mut raw)
        })?;
        Ok(Self { raw })
    }

    /// Marks the point `stream` has reached; later waits and queries refer to it.
    pub fn record(&mut self, stream: Stream) -> Result<()> {
        // SAFETY: `raw` is a live event owned by self.
        check("event record", unsafe { ib_event_record(self.raw, stream) })
    }

    /// Makes later work on `stream` wait for this event, on the device (no host wait).
    pub fn block(&self, stream: Stream) -> Result<()> {
        // SAFETY: `raw` is a live event owned by self.
        check("event wait", unsafe { ib_event_block(self.raw, stream) })
    }

    /// Waits on the host until the recorded point is reached.
    pub fn synchronize(&self) -> Result<()> {
        // SAFETY: `raw` is a live event owned by self.
        check("event synchronize", unsafe {
            ib_event_synchronize(self.raw)
        })
    }

    /// Whether the recorded point has been reached (no wait).
    pub fn is_done(&self) -> Result<bool> {
        let mut done = 0;
        // SAFETY: `raw` is a live event, valid out-pointer.
        check("event query", unsafe {
            ib_event_query(self.raw, &mut done)
        })?;
        Ok(done != 0)
    }

    /// Device milliseconds from `self` to `later` (both recorded with timing, both done).
    pub fn elapsed_ms(&self, later: &Event) -> Result<f64> {
        let mut ms = 0.0;
        // SAFETY: both are live events, valid out-pointer.
        check("event elapsed time", unsafe {
            ib_event_elapsed_ms(self.raw, later.raw, &mut ms)
        })?;
        Ok(ms)
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: `raw` came from ib_event_new and is freed exactly once.
        unsafe { ib_event_free(self.raw) }
    }
}

/// `dst.copy_(src, non_blocking=true)` on the calling thread's current stream:
/// returns once the copy is queued. From pinned host memory (or to it) the copy is
/// truly asynchronous; `src` must stay alive and unchanged until the stream reaches it.
pub fn copy_nonblocking(dst: &mut Tensor, src: &Tensor) -> Result<()> {
    // The shim reads `src` only; tch exposes no const-to-mut pointer without a copy.
    let src_ptr = src.as_ptr() as *mut c_void;
    // SAFETY: both pointers are live at::Tensor* owned by tch tensors that outlive the call.
    check("non-blocking copy", unsafe {
        ib_copy_nonblocking(dst.as_mut_ptr().cast(), src_ptr)
    })
}

/// A new page-locked host tensor from libtorch's caching host allocator (reused
/// after it is dropped, so allocating one per batch costs no `cudaHostAlloc`).
pub fn empty_pinned(shape: &[i64], kind: Kind) -> Result<Tensor> {
    let mut out = Tensor::new();
    // SAFETY: `out` is a live at::Tensor* that the shim overwrites; the shape slice
    // is valid for its length.
    check("pinned allocation", unsafe {
        ib_empty_pinned(
            out.as_mut_ptr().cast(),
            shape.as_ptr(),
            shape.len(),
            scalar_type(kind)?,
        )
    })?;
    Ok(out)
}

/// c10::ScalarType's number for the kinds this crate allocates.
fn scalar_type(kind: Kind) -> Result<i32> {
    Ok(match kind {
        Kind::Uint8 => 0,
        Kind::Int64 => 4,
        Kind::Half => 5,
        Kind::Float => 6,
        Kind::Double => 7,
        Kind::BFloat16 => 15,
        other => {
            return Err(Error::Device(format!(
                "pinned allocation of {other:?} is not supported"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a GPU every call that needs the driver returns an error that names the
    /// call, instead of aborting on a C++ exception; with one, the calls work.
    #[test]
    fn stream_calls_return_errors_not_exceptions() {
        match device_count() {
            Ok(n) if n > 0 => {
                let stream = Stream::from_pool(0, false).expect("a pool stream on a GPU machine");
                let previous = stream.make_current().unwrap();
                assert_eq!(Stream::current(0).unwrap(), stream);
                previous.make_current().unwrap();
                let mut event = Event::new(true).unwrap();
                event.record(stream).unwrap();
                event.synchronize().unwrap();
                assert!(event.is_done().unwrap());
            }
            Ok(_) | Err(_) => {
                let err = Stream::from_pool(0, false).unwrap_err().to_string();
                eprintln!("without a GPU: {err}");
                assert!(
                    err.starts_with("device unavailable: stream on cuda:0: "),
                    "{err}"
                );
                assert!(!err.contains('\n'), "one line, no C++ backtrace: {err}");
            }
        }
    }

    #[test]
    fn an_event_never_recorded_is_done_and_frees_cleanly() {
        // c10 creates the driver event lazily, so this works with or without a GPU.
        let event = Event::new(false).unwrap();
        assert!(event.is_done().unwrap());
        drop(event);
    }

    #[test]
    fn pinned_allocation_fails_cleanly_or_gives_a_host_tensor() {
        match empty_pinned(&[2, 3], Kind::Float) {
            Ok(t) => {
                assert_eq!(t.size(), vec![2, 3]);
                assert_eq!(t.device(), tch::Device::Cpu);
                assert_eq!(t.kind(), Kind::Float);
            }
            Err(e) => {
                eprintln!("without a GPU: {e}");
                assert!(e.to_string().contains("pinned allocation"), "{e}")
            }
        }
    }

    #[test]
    fn first_line_drops_the_backtrace() {
        assert_eq!(
            first_line("CUDA driver version is insufficient\nException raised from x"),
            "CUDA driver version is insufficient"
        );
        assert_eq!(first_line(""), "(no message)");
    }
}
