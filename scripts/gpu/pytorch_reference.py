#!/usr/bin/env python3
"""The reference inferbench's GPU figures are compared with: PyTorch itself.

Measures, with the machine's own Python PyTorch, on one GPU:
  * the bare ResNet-18 forward in eager mode (torchvision's definition, random
    weights, eval, no_grad, inputs already on the device, one thread on the default
    stream) at each batch size and precision: samples/s, the median of REPEATS timed
    loops of ITERS forwards each ended by a synchronize;
  * the same forward captured once with torch.cuda.graph and replayed (the reference
    for inferbench's --compile cuda-graph) at --graph-batch-sizes, on a GPU;
  * pinned host-to-device bandwidth (one large non_blocking copy into a preallocated
    device tensor, timed with CUDA events), and pageable for comparison.

inferbench's bare forward with --workers 1 is the same loop through libtorch from
Rust; scripts/gpu/summarize.py puts the two side by side. Writes one JSON object.

    python3 pytorch_reference.py --out reference.json [--batch-sizes 1,32,256]
"""
import argparse
import json
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--batch-sizes", default="1,32,256")
    p.add_argument("--precisions", default="fp32,fp16")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--iters", type=int, default=200,
                   help="forwards per timed loop (fewer for large batches: see below)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--graph-batch-sizes", default="1,8,32",
                   help="batch sizes of the CUDA-graph forward (GPU only; empty: none)")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--threads", default="",
                   help="intra-op thread counts to measure in turn, e.g. 1,2 (default: torch's own)")
    return p.parse_args()


def forward_rate(torch, model, x, iters, repeats):
    """Samples/s of `iters` forwards on a device-resident input, median of `repeats`."""
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    with torch.no_grad():
        for _ in range(10):
            model(x)
        sync()
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(iters):
                model(x)
            sync()
            rates.append(iters * x.shape[0] / (time.perf_counter() - start))
    return statistics.median(rates), rates


def graph_rate(torch, model, x, iters, repeats):
    """Samples/s of replaying the forward captured with torch.cuda.graph (after warm-up
    on a side stream, as PyTorch's documentation does), median of `repeats` loops."""
    static_x = x.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(side):
        for _ in range(3):
            model(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        static_out = model(static_x)
    for _ in range(10):
        graph.replay()
    torch.cuda.synchronize()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            graph.replay()
        torch.cuda.synchronize()
        rates.append(iters * x.shape[0] / (time.perf_counter() - start))
    del static_out
    return statistics.median(rates), rates


def h2d_gb_per_s(torch, nbytes, device, pinned, reps=20):
    """Host-to-device GB/s (10^9 bytes) of one `nbytes` copy, timed with CUDA events."""
    host = torch.empty(nbytes, dtype=torch.uint8, pin_memory=pinned)
    dev = torch.empty(nbytes, dtype=torch.uint8, device=device)
    for _ in range(3):
        dev.copy_(host, non_blocking=pinned)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        dev.copy_(host, non_blocking=pinned)
    end.record()
    end.synchronize()
    return nbytes * reps / (start.elapsed_time(end) / 1e3) / 1e9


def h2d_figures(torch, batch_bytes, device):
    """Pinned and pageable host-to-device GB/s for one bs-256 fp32 input's bytes."""
    h2d = {
        "bytes": batch_bytes,
        "pinned_gb_per_s": h2d_gb_per_s(torch, batch_bytes, device, pinned=True),
        "pageable_gb_per_s": h2d_gb_per_s(torch, batch_bytes, device, pinned=False),
    }
    print(f"host-to-device, {batch_bytes / 1e6:.0f} MB: pinned {h2d['pinned_gb_per_s']:.1f} GB/s, "
          f"pageable {h2d['pageable_gb_per_s']:.1f} GB/s", flush=True)
    return h2d


def main():
    args = parse_args()
    import torch
    import torchvision

    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    if on_gpu and not torch.cuda.is_available():
        sys.exit("pytorch_reference: torch sees no CUDA device (--device cpu runs the forward on the CPU)")
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "gpu": torch.cuda.get_device_name(device) if on_gpu else None,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "image_size": args.image_size,
        "forward": [],
        "graph_forward": [],
    }
    side = args.image_size
    thread_counts = [int(t) for t in args.threads.split(",") if t] or [None]
    for precision in args.precisions.split(","):
        dtype = dtypes[precision]
        model = torchvision.models.resnet18(weights=None).eval().to(device=device, dtype=dtype)
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            x = torch.rand(bs, 3, side, side, device=device, dtype=dtype)
            # About the same work per loop at every batch size, at least 20 forwards.
            iters = max(20, args.iters * 8 // max(bs, 8))
            for threads in thread_counts:
                if threads is not None:
                    torch.set_num_threads(threads)
                rate, rates = forward_rate(torch, model, x, iters, args.repeats)
                out["forward"].append({
                    "batch_size": bs, "precision": precision, "iters": iters,
                    "threads": torch.get_num_threads(),
                    "samples_per_s": rate, "samples_per_s_each": rates,
                })
                print(f"pytorch eager resnet18 bs{bs} {precision} {torch.get_num_threads()} thread(s): "
                      f"{rate:,.0f} samples/s", flush=True)
        graph_sizes = [int(b) for b in args.graph_batch_sizes.split(",") if b] if on_gpu else []
        for bs in graph_sizes:
            x = torch.rand(bs, 3, side, side, device=device, dtype=dtype)
            iters = max(20, args.iters * 8 // max(bs, 8))
            rate, rates = graph_rate(torch, model, x, iters, args.repeats)
            out["graph_forward"].append({
                "batch_size": bs, "precision": precision, "iters": iters,
                "samples_per_s": rate, "samples_per_s_each": rates,
            })
            print(f"pytorch cuda-graph resnet18 bs{bs} {precision}: {rate:,.0f} samples/s", flush=True)
    out["h2d"] = h2d_figures(torch, 256 * 3 * side * side * 4, device) if on_gpu else None
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
