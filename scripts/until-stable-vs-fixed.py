#!/usr/bin/env python3
"""How many requests `--until-stable` takes against one fixed count for a whole grid, at
the same p99 interval width.

    python3 scripts/until-stable-vs-fixed.py [--width 10] [--long 3000] [--runs 1] [--bin PATH]

The grid is the spin model of docs/tune.md on one worker (batch 1-32 at concurrency 2),
whose configurations differ in how heavy their latency tail is.

1. Until stable: `inferbench sweep --until-stable --stable-ci-width-pct W
   --stable-min-time 0s --repeats 1` over the grid; each configuration's requests as
   its record states them.
2. A fixed count: each configuration run once for `--long` requests with `--trace`. The
   first n requests of that run are what `--iters n` would have measured, so for each
   configuration this finds the smallest n (a multiple of 100, as the windows are) whose
   p99 has a 95 % interval no wider than W, with the same order-statistic ranks as the
   judge (`metrics::stability::quantile_ranks`). A fixed count gives every configuration
   the same n, set before the run, so to reach W on all of them, run after run, it
   needs the largest n over every configuration of every run (`--runs`). That n is
   found with hindsight, which favours the fixed count.

Prints one table row per configuration and the totals. Nothing here is timed.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

Z_95 = 1.959963984540054
MODEL = "spin:1ms+250us-per-sample"
BATCH_SIZES = [1, 2, 4, 8, 16, 32]
GRID = """name = "spin-w1"
model = "{model}"
image_size = 32
batch_sizes = {batch_sizes}
compile = ["eager"]
workers = [1]
streams = ["shared"]
arrivals = ["concurrency:2"]
iters = 100
"""


def quantile_ranks(n, q):
    """The judge's 1-based ranks bounding the q quantile of n samples, or None."""
    half = Z_95 * math.sqrt(n * q * (1 - q))
    lo = math.floor(n * q - half)
    hi = math.ceil(n * q + half) + 1
    return (lo, hi) if lo >= 1 and hi <= n else None


def width_pct(latencies, q=0.99):
    """The p99's 95 % interval width, % of the p99, over these latencies; None if too few."""
    ranks = quantile_ranks(len(latencies), q)
    if ranks is None:
        return None
    ordered = sorted(latencies)
    value = ordered[math.ceil(q * len(ordered)) - 1]
    return (ordered[ranks[1] - 1] - ordered[ranks[0] - 1]) / value * 100


def until_stable(binary, width, workdir):
    grid = os.path.join(workdir, "grid.toml")
    with open(grid, "w") as f:
        f.write(GRID.format(model=MODEL, batch_sizes=BATCH_SIZES))
    out = os.path.join(workdir, "stable.jsonl")
    subprocess.run(
        [binary, "sweep", "--config", grid, "--until-stable", "--stable-ci-width-pct",
         str(width), "--stable-min-time", "0s", "--repeats", "1", "--out", out],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = {}
    for line in open(out):
        record = json.loads(line)
        if record["kind"] == "config":
            stability = record["stability"][0]
            bs = record["config"]["load"]["batch_size"]
            found[bs] = (stability["requests"], stability["settled"], stability["elapsed_s"])
    return found


def fixed_count_needed(binary, bs, width, long_iters, workdir):
    trace = os.path.join(workdir, f"trace-bs{bs}.jsonl")
    subprocess.run(
        [binary, "run", "--model", MODEL, "--image-size", "32", "--batch-size", str(bs),
         "--arrival", "concurrency:2", "--iters", str(long_iters), "--no-bare", "--trace",
         trace, "--force"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latencies = [json.loads(line)["latency_ns"] for line in open(trace)]
    for n in range(100, len(latencies) + 1, 100):
        w = width_pct(latencies[:n])
        if w is not None and w <= width:
            return n, w
    return None, width_pct(latencies)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=10.0, help="p99 interval width, %% (10)")
    parser.add_argument("--long", type=int, default=3000, help="requests of each fixed run (3000)")
    parser.add_argument("--runs", type=int, default=1, help="times to run both (1)")
    parser.add_argument("--bin", default="target/release/inferbench")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin} is not an executable: build with cargo build --release first")
    totals, needed = [], []
    print(f"p99 interval width goal: {args.width} %")
    print("| run | batch | until stable: requests (settled, s) | fixed count needed for the width |")
    print("|---|---|---|---|")
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as workdir:
            stable = until_stable(args.bin, args.width, workdir)
            fixed = {bs: fixed_count_needed(args.bin, bs, args.width, args.long, workdir)
                     for bs in BATCH_SIZES}
        for bs in BATCH_SIZES:
            requests, settled, elapsed = stable[bs]
            n, w = fixed[bs]
            need = f"{n} ({w:.1f} %)" if n else f"more than {args.long} ({w:.1f} % at {args.long})"
            print(f"| {run} | {bs} | {requests} ({'settled' if settled else 'NOT settled'}, "
                  f"{elapsed:.1f} s) | {need} |")
            needed.append(n)
        totals.append(sum(r for r, _, _ in stable.values()))
    mean_stable = sum(totals) / len(totals)
    print(f"\nuntil stable: {mean_stable:.0f} requests over the grid (mean of {args.runs} runs: "
          f"{', '.join(map(str, totals))})")
    if None in needed:
        print(f"a fixed count would need more than {args.long} a configuration (rerun with a larger --long)")
        return
    one_count = max(needed)
    total_fixed = one_count * len(BATCH_SIZES)
    print(f"one fixed count reaching the width in every configuration of every run: {one_count} "
          f"× {len(BATCH_SIZES)} = {total_fixed}; until stable / fixed = {mean_stable / total_fixed:.2f}")
    for count in sorted(set(needed)):
        share = sum(n <= count for n in needed) / len(needed)
        print(f"  a fixed count of {count} reaches the width in {share:.0%} of the {len(needed)} cases")


if __name__ == "__main__":
    main()
