// TorchScript passes that tch does not expose: torch::jit::freeze and
// torch::jit::optimize_for_inference, the C++ forms of torch.jit.freeze and
// torch.jit.optimize_for_inference, and a forward for the module they make; and
// the channels-last memory format (--channels-last), which tch cannot ask for.
//
// Why the module stays on this side: on the CPU, optimize_for_inference turns
// convolution weights into MKL-DNN tensors, which TorchScript cannot save, so the
// frozen module cannot go back to tch as a file; and tch keeps its own module
// pointer private. The module comes in as a file (Rust saves tch's module), and
// Rust holds the frozen one as an opaque pointer (src/model/jit.rs). Tensors cross
// as tch's tensor pointers (at::Tensor*), as in the stream shim.
//
// Contract with Rust: every function returns NULL on success or a malloc'd,
// NUL-terminated error message that the caller frees with ib_jit_free_error.
// No C++ exception ever leaves this file.

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

extern "C" {
char* ib_jit_load_frozen(const char* path, const char* device, int optimize, void** out);
char* ib_jit_forward(void* module, void* const* inputs, size_t count, void** out);
char* ib_channels_last(void* tensor, void** out);
void ib_jit_free(void* module);
void ib_jit_free_error(char* message);
}

namespace {

char* error_copy(const char* what) {
  const size_t n = std::strlen(what);
  char* out = static_cast<char*>(std::malloc(n + 1));
  if (out != nullptr) {
    std::memcpy(out, what, n + 1);
  }
  return out;
}

// The first tensor of an output, depth-first (a dict's values in its order), as
// src/model/script.rs finds it for tch's modules.
bool first_tensor(const c10::IValue& value, at::Tensor* out) {
  if (value.isTensor()) {
    *out = value.toTensor();
    return true;
  }
  if (value.isTuple()) {
    for (const auto& element : value.toTupleRef().elements()) {
      if (first_tensor(element, out)) return true;
    }
    return false;
  }
  if (value.isList()) {
    for (const c10::IValue& element : value.toListRef()) {
      if (first_tensor(element, out)) return true;
    }
    return false;
  }
  if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      if (first_tensor(entry.value(), out)) return true;
    }
  }
  return false;
}

}  // namespace

char* ib_jit_load_frozen(const char* path, const char* device, int optimize, void** out) {
  try {
    torch::jit::Module module = torch::jit::load(std::string(path), c10::Device(device));
    module.eval();
    torch::jit::Module frozen = torch::jit::freeze(module);
    if (optimize != 0) {
      frozen = torch::jit::optimize_for_inference(frozen);
    }
    *out = new torch::jit::Module(std::move(frozen));
    return nullptr;
  } catch (const std::exception& e) {
    return error_copy(e.what());
  } catch (...) {
    return error_copy("unknown C++ exception");
  }
}

char* ib_jit_forward(void* module, void* const* inputs, size_t count, void** out) {
  try {
    auto* m = static_cast<torch::jit::Module*>(module);
    std::vector<c10::IValue> args;
    args.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      args.emplace_back(*static_cast<const at::Tensor*>(inputs[i]));
    }
    at::Tensor response;
    if (!first_tensor(m->forward(std::move(args)), &response)) {
      return error_copy("the model's output holds no tensor to respond with");
    }
    *out = new at::Tensor(std::move(response));
    return nullptr;
  } catch (const std::exception& e) {
    return error_copy(e.what());
  } catch (...) {
    return error_copy("unknown C++ exception");
  }
}

// A copy of a 4-D tensor in channels-last memory format (NHWC strides, same shape):
// tch has no memory-format argument.
char* ib_channels_last(void* tensor, void** out) {
  try {
    const auto* t = static_cast<const at::Tensor*>(tensor);
    *out = new at::Tensor(t->contiguous(at::MemoryFormat::ChannelsLast));
    return nullptr;
  } catch (const std::exception& e) {
    return error_copy(e.what());
  } catch (...) {
    return error_copy("unknown C++ exception");
  }
}

void ib_jit_free(void* module) { delete static_cast<torch::jit::Module*>(module); }

void ib_jit_free_error(char* message) { std::free(message); }
