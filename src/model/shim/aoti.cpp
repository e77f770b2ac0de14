// AOTInductor packages (.pt2 from torch._inductor.aoti_compile_and_package),
// loaded and run with torch::inductor::AOTIModelPackageLoader, which tch does
// not expose. Each inferbench worker loads its own loader (its own runner).
//
// On CUDA, run() is given no stream, so the runner uses the calling thread's
// current stream: the worker's own (src/device/shim/streams.cpp makes it current).
//
// Contract with Rust (src/model/aoti.rs): every function returns NULL on success
// or a malloc'd, NUL-terminated error message that the caller frees with
// ib_aoti_free_error. No C++ exception ever leaves this file.

#include <ATen/core/Tensor.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

extern "C" {
char* ib_aoti_load(const char* path, int32_t device_index, void** out);
char* ib_aoti_forward(void* loader, void* const* inputs, size_t count, void** out,
                      size_t* outputs);
char* ib_aoti_metadata(void* loader, const char* key, char** value);
void ib_aoti_free(void* loader);
void ib_aoti_free_error(char* message);
}

namespace {

char* string_copy(const std::string& text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, text.c_str(), text.size() + 1);
  }
  return out;
}

}  // namespace

char* ib_aoti_load(const char* path, int32_t device_index, void** out) {
  try {
    *out = new torch::inductor::AOTIModelPackageLoader(
        std::string(path), "model", /*run_single_threaded=*/false, /*num_runners=*/1,
        static_cast<c10::DeviceIndex>(device_index));
    return nullptr;
  } catch (const std::exception& e) {
    return string_copy(e.what());
  } catch (...) {
    return string_copy("unknown C++ exception");
  }
}

char* ib_aoti_forward(void* loader, void* const* inputs, size_t count, void** out,
                      size_t* outputs) {
  try {
    auto* l = static_cast<torch::inductor::AOTIModelPackageLoader*>(loader);
    std::vector<at::Tensor> args;
    args.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      args.push_back(*static_cast<const at::Tensor*>(inputs[i]));
    }
    std::vector<at::Tensor> result = l->run(args);
    *outputs = result.size();
    if (result.empty()) {
      return string_copy("the package returned no tensor to respond with");
    }
    *out = new at::Tensor(std::move(result.front()));
    return nullptr;
  } catch (const std::exception& e) {
    return string_copy(e.what());
  } catch (...) {
    return string_copy("unknown C++ exception");
  }
}

char* ib_aoti_metadata(void* loader, const char* key, char** value) {
  try {
    auto* l = static_cast<torch::inductor::AOTIModelPackageLoader*>(loader);
    auto metadata = l->get_metadata();
    auto found = metadata.find(std::string(key));
    *value = found == metadata.end() ? nullptr : string_copy(found->second);
    return nullptr;
  } catch (const std::exception& e) {
    return string_copy(e.what());
  } catch (...) {
    return string_copy("unknown C++ exception");
  }
}

void ib_aoti_free(void* loader) {
  delete static_cast<torch::inductor::AOTIModelPackageLoader*>(loader);
}

void ib_aoti_free_error(char* message) { std::free(message); }
