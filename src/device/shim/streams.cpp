// Streams, events, non-blocking copies and pinned allocation for inferbench's
// CUDA device: the parts of libtorch that tch does not expose.
//
// Only device-generic c10 calls are used (no CUDA headers): the CUDA
// implementation behind them is registered by libtorch_cuda.so, which the
// crate's build script keeps linked.
//
// Contract with Rust (src/device/shim.rs): every function returns NULL on
// success or a malloc'd, NUL-terminated error message that the caller frees
// with ib_free_error. No C++ exception ever leaves this file.

#include <c10/core/Device.h>
#include <c10/core/DeviceType.h>
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

extern "C" {

// A stream as plain data (c10::Stream::pack3): pool streams live as long as
// the process, so nothing needs freeing.
typedef struct {
  int64_t id;
  int32_t device_index;
  int32_t device_type;
} ib_stream;

char* ib_cuda_device_count(int32_t* out);
char* ib_stream_from_pool(int32_t device, int32_t high_priority, ib_stream* out);
char* ib_stream_current(int32_t device, ib_stream* out);
char* ib_stream_make_current(ib_stream stream, ib_stream* previous);
char* ib_stream_synchronize(ib_stream stream);
char* ib_stream_query(ib_stream stream, int32_t* done);
char* ib_event_new(int32_t timing, void** out);
void ib_event_free(void* event);
char* ib_event_record(void* event, ib_stream stream);
char* ib_event_block(void* event, ib_stream stream);
char* ib_event_synchronize(void* event);
char* ib_event_query(void* event, int32_t* done);
char* ib_event_elapsed_ms(void* start, void* end, double* ms);
char* ib_copy_nonblocking(void* dst, void* src);
char* ib_empty_pinned(void* dst, const int64_t* shape, size_t ndim, int32_t scalar_type);
void ib_free_error(char* message);
}

namespace {

char* message(const char* text) {
  size_t n = std::strlen(text);
  char* out = static_cast<char*>(std::malloc(n + 1));
  if (out != nullptr) {
    std::memcpy(out, text, n + 1);
  }
  return out;
}

// Runs `body`, turning any exception into an error message.
template <typename F>
char* guarded(F&& body) {
  try {
    body();
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  } catch (...) {
    return message("unknown C++ exception");
  }
}

const c10::impl::DeviceGuardImplInterface* cuda() {
  // Throws "PyTorch is not linked with support for cuda devices" when
  // libtorch_cuda.so is not loaded.
  return c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
}

c10::Stream unpack(ib_stream s) {
  return c10::Stream::unpack3(
      s.id,
      static_cast<c10::DeviceIndex>(s.device_index),
      static_cast<c10::DeviceType>(s.device_type));
}

ib_stream pack(const c10::Stream& s) {
  auto d = s.pack3();
  return ib_stream{d.stream_id, static_cast<int32_t>(d.device_index),
                   static_cast<int32_t>(d.device_type)};
}

c10::Device cuda_device(int32_t index) {
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace

extern "C" {

char* ib_cuda_device_count(int32_t* out) {
  return guarded([&] { *out = static_cast<int32_t>(cuda()->deviceCount()); });
}

char* ib_stream_from_pool(int32_t device, int32_t high_priority, ib_stream* out) {
  return guarded([&] {
    *out = pack(cuda()->getStreamFromGlobalPool(cuda_device(device), high_priority != 0));
  });
}

char* ib_stream_current(int32_t device, ib_stream* out) {
  return guarded([&] { *out = pack(cuda()->getStream(cuda_device(device))); });
}

char* ib_stream_make_current(ib_stream stream, ib_stream* previous) {
  return guarded([&] { *previous = pack(cuda()->exchangeStream(unpack(stream))); });
}

char* ib_stream_synchronize(ib_stream stream) {
  return guarded([&] { unpack(stream).synchronize(); });
}

char* ib_stream_query(ib_stream stream, int32_t* done) {
  return guarded([&] { *done = unpack(stream).query() ? 1 : 0; });
}

char* ib_event_new(int32_t timing, void** out) {
  return guarded([&] {
    auto flag = timing != 0 ? c10::EventFlag::BACKEND_DEFAULT : c10::EventFlag::PYTORCH_DEFAULT;
    *out = new c10::Event(c10::DeviceType::CUDA, flag);
  });
}

void ib_event_free(void* event) {
  try {
    delete static_cast<c10::Event*>(event);
  } catch (...) {
    // A destructor that throws has nothing left to clean up.
  }
}

char* ib_event_record(void* event, ib_stream stream) {
  return guarded([&] { static_cast<c10::Event*>(event)->record(unpack(stream)); });
}

char* ib_event_block(void* event, ib_stream stream) {
  return guarded([&] { static_cast<c10::Event*>(event)->block(unpack(stream)); });
}

char* ib_event_synchronize(void* event) {
  return guarded([&] { static_cast<c10::Event*>(event)->synchronize(); });
}

char* ib_event_query(void* event, int32_t* done) {
  return guarded([&] { *done = static_cast<c10::Event*>(event)->query() ? 1 : 0; });
}

char* ib_event_elapsed_ms(void* start, void* end, double* ms) {
  return guarded([&] {
    *ms = static_cast<c10::Event*>(start)->elapsedTime(*static_cast<c10::Event*>(end));
  });
}

// dst.copy_(src, non_blocking=true) on the calling thread's current stream.
// Both pointers are tch tensors (at::Tensor*).
char* ib_copy_nonblocking(void* dst, void* src) {
  return guarded([&] {
    static_cast<at::Tensor*>(dst)->copy_(*static_cast<at::Tensor*>(src), /*non_blocking=*/true);
  });
}

// Replaces the tch tensor `dst` (an at::Tensor*) with a new page-locked host
// tensor from libtorch's caching host allocator.
char* ib_empty_pinned(void* dst, const int64_t* shape, size_t ndim, int32_t scalar_type) {
  return guarded([&] {
    std::vector<int64_t> sizes(shape, shape + ndim);
    auto options = at::TensorOptions()
                       .dtype(static_cast<c10::ScalarType>(scalar_type))
                       .device(c10::DeviceType::CPU)
                       .pinned_memory(true);
    *static_cast<at::Tensor*>(dst) = at::empty(sizes, options);
  });
}

void ib_free_error(char* message) { std::free(message); }

}  // extern "C"
