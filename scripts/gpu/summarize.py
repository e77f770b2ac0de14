#!/usr/bin/env python3
"""Turns the GPU checks' results into the figures a reader wants, as Markdown.

    python3 summarize.py RESULTS_DIR > figures.md

Reads RESULTS_DIR/runs.jsonl (one inferbench report per line, as `run --out`
writes them) and, if present, RESULTS_DIR/pytorch-reference.json
(pytorch_reference.py). Prints:
  1. per run: throughput, the compute and copy limits, which binds, the efficiency
     against it, GPU utilisation, p99, and the device copy-in time against
     bytes / measured bandwidth;
  2. inferbench's bare forward (--workers 1) against PyTorch's Python eager forward
     on the same GPU, as a ratio.
Every figure is read from the files; a missing one prints as "absent", never 0.
Standard library only, so it runs on the GPU machine and here alike.
"""
import json
import os
import sys


def fmt(value, spec, suffix=""):
    return "absent" if value is None else f"{value:{spec}}{suffix}"


def load_runs(path):
    runs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"<!-- {path}:{n}: skipped, not JSON ({e}) -->")
    return runs


def key(run):
    c = run["config"]
    return (c["load"]["batch_size"], c["backend"]["streams"], c["model"]["precision"],
            c["backend"]["workers"])


def compile_mode(run):
    m = run["config"]["model"]
    return m.get("compile", "eager") + ("+channels-last" if m.get("channels_last") else "")


def run_table(runs):
    print("| bs | layout | precision | workers | compile | samples/s | bare fwd | copy limit | bound "
          "| efficiency | GPU util | p99 ms | copy-in ms (device) | bytes ÷ bandwidth ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(runs, key=lambda r: (key(r), compile_mode(r))):
        bs, layout, precision, workers = key(run)
        limits = run.get("limits") or {}
        dev = run.get("device_stages_ms") or {}
        util = run.get("utilization") or {}
        print(f"| {bs} | {layout} | {precision} | {workers} | {compile_mode(run)} "
              f"| {fmt(run.get('throughput_samples_per_s'), ',.0f')} "
              f"| {fmt(run.get('bare_forward_samples_per_s'), ',.0f')} "
              f"| {fmt(limits.get('copy_samples_per_s'), ',.0f')} "
              f"| {limits.get('bound', 'absent')} "
              f"| {fmt(limits.get('efficiency', run.get('pipeline_efficiency')), '.3f')} "
              f"| {fmt(util.get('gpu_pct'), '.1f', ' %')} "
              f"| {fmt((run.get('latency_ms') or {}).get('p99'), '.2f')} "
              f"| {fmt(dev.get('copy_in'), '.3f')} "
              f"| {fmt(limits.get('expected_copy_in_ms'), '.3f')} |")
    bandwidths = [r["limits"]["h2d_gb_per_s"] for r in runs if r.get("limits")]
    if bandwidths:
        print(f"\nPinned host-to-device bandwidth measured by inferbench: "
              f"{min(bandwidths):.1f}-{max(bandwidths):.1f} GB/s over {len(bandwidths)} runs.")
    absent = {(r.get("utilization") or {}).get("gpu_absent_reason") for r in runs} - {None}
    for reason in sorted(absent):
        print(f"\nGPU utilisation absent in some runs: {reason}")


def reference_table(runs, ref):
    print(f"\nPyTorch {ref['torch']} (CUDA {ref['cuda']}, cuDNN {ref['cudnn']}, "
          f"benchmark={ref['cudnn_benchmark']}), torchvision {ref['torchvision']}, "
          f"on {ref.get('gpu') or ref.get('device')}, {ref['image_size']} px, one Python thread "
          f"({ref.get('threads', '?')} intra-op threads), device-resident inputs.\n")
    print("| bs | precision | inferbench bare fwd (w1) | PyTorch eager | ratio |")
    print("|---|---|---|---|---|")
    for row in ref["forward"]:
        ours = [r.get("bare_forward_samples_per_s") for r in runs
                if key(r)[0] == row["batch_size"] and key(r)[2] == row["precision"]
                and key(r)[3] == 1 and key(r)[1] == "shared" and compile_mode(r) == "eager"]
        ours = next((v for v in ours if v is not None), None)
        ratio = None if ours is None else ours / row["samples_per_s"]
        print(f"| {row['batch_size']} | {row['precision']} | {fmt(ours, ',.0f')} "
              f"| {row['samples_per_s']:,.0f} | {fmt(ratio, '.3f')} |")
    h2d = ref.get("h2d")
    if h2d:
        print(f"\nPyTorch host-to-device, {h2d['bytes'] / 1e6:.0f} MB: pinned "
              f"{h2d['pinned_gb_per_s']:.1f} GB/s, pageable {h2d['pageable_gb_per_s']:.1f} GB/s.")


def graph_table(runs, ref):
    """--compile cuda-graph against eager (one worker, shared layout) and against
    PyTorch's own torch.cuda.graph forward, per batch size and precision."""
    def throughput(bs, precision, mode):
        found = [r for r in runs if key(r) == (bs, "shared", precision, 1) and compile_mode(r) == mode]
        return found[-1] if found else None
    cases = sorted({(key(r)[0], key(r)[2]) for r in runs if compile_mode(r) == "cuda-graph"
                    and key(r)[3] == 1})
    if not cases:
        return
    graph_ref = {(g["batch_size"], g["precision"]): g["samples_per_s"]
                 for g in (ref or {}).get("graph_forward", [])}
    print("\nCUDA graphs, one worker, shared layout (samples/s):\n")
    print("| bs | precision | eager | cuda-graph | graph ÷ eager | PyTorch graph fwd "
          "| graph ÷ PyTorch graph | padding | capture s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bs, precision in cases:
        eager, graph = throughput(bs, precision, "eager"), throughput(bs, precision, "cuda-graph")
        e = eager and eager.get("throughput_samples_per_s")
        g = graph and graph.get("throughput_samples_per_s")
        facts = ((graph or {}).get("model") or {}).get("cuda_graph") or {}
        pt = graph_ref.get((bs, precision))
        print(f"| {bs} | {precision} | {fmt(e, ',.0f')} | {fmt(g, ',.0f')} "
              f"| {fmt(g / e if e and g else None, '.2f')} | {fmt(pt, ',.0f')} "
              f"| {fmt(g / pt if g and pt else None, '.3f')} "
              f"| {fmt(facts.get('padding_share'), '.3f')} | {fmt(facts.get('capture_s'), '.2f')} |")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py RESULTS_DIR")
    results = sys.argv[1]
    runs_path = os.path.join(results, "runs.jsonl")
    if not os.path.exists(runs_path):
        sys.exit(f"summarize: {runs_path} does not exist (no run finished)")
    runs = load_runs(runs_path)
    if not runs:
        sys.exit(f"summarize: {runs_path} holds no report")
    first = runs[0]
    print(f"# inferbench on {first.get('device')}: ResNet-18, "
          f"{first['config']['model']['image_size']} px\n")
    run_table(runs)
    ref_path = os.path.join(results, "pytorch-reference.json")
    ref = None
    if os.path.exists(ref_path):
        with open(ref_path) as f:
            ref = json.load(f)
        reference_table(runs, ref)
    else:
        print("\nNo PyTorch reference (pytorch-reference.json absent).")
    graph_table(runs, ref)


if __name__ == "__main__":
    main()
