#!/usr/bin/env python3
"""How steady each criterion benchmark's samples were: for every benchmark of the last
`cargo bench` run, the mean of its samples and their standard deviation as a
percentage of that mean (sample values as criterion stores them, per iteration).

    python3 scripts/criterion-spread.py [FUNCTION_PREFIX] [CRITERION_DIR]

FUNCTION_PREFIX selects the benchmark function (default "p99": the tail-latency
benchmark, e.g. p99@2-in-flight-per-worker); CRITERION_DIR defaults to target/criterion.
Values are printed in ms for latency benchmarks (criterion stores ns).
"""
import glob
import json
import os
import statistics
import sys


def main():
    prefix = sys.argv[1] if len(sys.argv) > 1 else "p99"
    root = sys.argv[2] if len(sys.argv) > 2 else "target/criterion"
    rows = []
    for path in sorted(glob.glob(os.path.join(root, "*", prefix + "*", "new", "sample.json"))):
        sample = json.load(open(path))
        values = [t / i for t, i in zip(sample["times"], sample["iters"])]
        mean = statistics.mean(values)
        spread = statistics.stdev(values) / mean if len(values) > 1 and mean else float("nan")
        parts = path.split(os.sep)
        rows.append((parts[-4], parts[-3], mean, spread))
    if not rows:
        sys.exit(f"no benchmark '{prefix}*' under {root}: run cargo bench --bench pipeline first")
    print("| group | benchmark | mean (ms) | std / mean |")
    print("|---|---|---|---|")
    for group, function, mean, spread in rows:
        print(f"| {group} | {function} | {mean / 1e6:.2f} | {100 * spread:.1f} % |")
    spreads = [r[3] for r in rows]
    print(f"\n{len(rows)} benchmark(s): std / mean median {100 * statistics.median(spreads):.1f} %, "
          f"range {100 * min(spreads):.1f}-{100 * max(spreads):.1f} %")


if __name__ == "__main__":
    main()
