// CUDA graphs for inferbench's `--compile cuda-graph`: capture a forward once on
// a side stream, then replay it on whichever stream is current (a worker's own).
//
// Unlike streams.cpp this file needs CUDA's headers (at::cuda::CUDAGraph names
// cudaGraph_t), which PyPI's torch wheels bring in nvidia/cu*/include; build.rs
// finds them. at::cuda::CUDAGraph, not raw cudaStreamBeginCapture, because it
// gives the capture a private pool of libtorch's caching allocator: the memory
// the captured kernels read and write stays theirs after capture, where a raw
// capture would let the allocator hand it to other tensors.
//
// Contract with Rust (src/device/graph.rs): as streams.cpp's. Every function
// returns NULL on success or a malloc'd, NUL-terminated message freed with
// ib_free_error (defined in streams.cpp). No C++ exception leaves this file.

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>

namespace {

// A graph and the side stream it is captured on while a capture is under way.
struct Graph {
  at::cuda::CUDAGraph graph;
  std::optional<c10::cuda::CUDAStreamGuard> side;
  bool capturing = false;
};

char* message(const char* text) {
  size_t n = std::strlen(text);
  char* out = static_cast<char*>(std::malloc(n + 1));
  if (out != nullptr) {
    std::memcpy(out, text, n + 1);
  }
  return out;
}

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

}  // namespace

extern "C" {

char* ib_graph_new(int32_t device, void** out);
char* ib_graph_enter_side_stream(void* graph, int32_t device);
char* ib_graph_capture_begin(void* graph);
char* ib_graph_capture_end(void* graph);
char* ib_graph_leave_side_stream(void* graph);
char* ib_graph_replay(void* graph);
void ib_graph_free(void* graph);

// A new, empty graph for `device` (fails without a GPU: CUDAGraph reads the
// current stream when it is made).
char* ib_graph_new(int32_t device, void** out) {
  return guarded([&] {
    c10::cuda::CUDAGuard on(static_cast<c10::DeviceIndex>(device));
    *out = new Graph();
  });
}

// Makes a pool stream current on this thread, after the work already queued on
// the current stream (the weights' copies) is done: warm-up forwards and the
// capture run there, as PyTorch's own torch.cuda.graph does. The default stream
// cannot be captured.
char* ib_graph_enter_side_stream(void* graph, int32_t device) {
  return guarded([&] {
    auto* g = static_cast<Graph*>(graph);
    auto index = static_cast<c10::DeviceIndex>(device);
    c10::cuda::getCurrentCUDAStream(index).synchronize();
    g->side.emplace(c10::cuda::getStreamFromPool(false, index));
  });
}

// From here until ib_graph_capture_end, kernels this thread launches are
// recorded, not run. Thread-local mode: other threads' CUDA calls are not
// disturbed (workers already running keep running).
char* ib_graph_capture_begin(void* graph) {
  return guarded([&] {
    auto* g = static_cast<Graph*>(graph);
    g->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    g->capturing = true;
  });
}

// Ends the capture and instantiates the graph.
char* ib_graph_capture_end(void* graph) {
  return guarded([&] {
    auto* g = static_cast<Graph*>(graph);
    g->capturing = false;
    g->graph.capture_end();
  });
}

// Waits for the side stream and makes the thread's earlier stream current again.
char* ib_graph_leave_side_stream(void* graph) {
  return guarded([&] {
    auto* g = static_cast<Graph*>(graph);
    if (g->side.has_value()) {
      g->side->current_stream().synchronize();
      g->side.reset();
    }
  });
}

// Replays the graph on the calling thread's current stream (queued, no wait).
char* ib_graph_replay(void* graph) {
  return guarded([&] { static_cast<Graph*>(graph)->graph.replay(); });
}

void ib_graph_free(void* graph) {
  try {
    auto* g = static_cast<Graph*>(graph);
    if (g->capturing) {
      g->graph.capture_end();  // a capture left open would poison the stream
    }
    delete g;
  } catch (...) {
    // Nothing left to clean up that a throwing destructor would let us.
  }
}

}  // extern "C"
