"""Prints the compile-mode table of scripts/compile-modes.sh from its sweep files:
per image size and batch size, each mode's throughput over eager's in the same
round (median and range over rounds), and its compile times."""

import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    # (px, bs, mode) -> {round file: throughput}; compile times pooled
    throughput = defaultdict(dict)
    compile_s = defaultdict(list)
    package_s = defaultdict(list)
    for path in paths:
        for line in open(path):
            record = json.loads(line)
            if record.get("kind") != "config" or record.get("figures") is None:
                continue
            cfg, fig = record["config"], record["figures"]
            key = (cfg["model"]["image_size"], cfg["load"]["batch_size"], cfg["model"]["compile"])
            throughput[key][path] = fig["throughput_samples_per_s"]["mean"]
            if fig.get("compile_time_s"):
                compile_s[key] += fig["compile_time_s"]["values"]
            if fig.get("package_compiled_in_s"):
                package_s[key] += fig["package_compiled_in_s"]["values"]
    modes = ["eager", "torchscript", "frozen", "aot-inductor"]
    print("| px | bs | mode | samples/s (median) | ratio to eager, median (range) | rounds | compile s (this run) | package compiled in s |")
    print("|---|---|---|---|---|---|---|---|")
    for px, bs in sorted({(k[0], k[1]) for k in throughput}):
        eager = throughput[(px, bs, "eager")]
        for mode in modes:
            mine = throughput.get((px, bs, mode), {})
            ratios = [mine[p] / eager[p] for p in mine if p in eager]
            if not ratios:
                continue
            rate = statistics.median(mine.values())
            span = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            comp = compile_s.get((px, bs, mode))
            comp = f"{min(comp):.2f}-{max(comp):.2f}" if comp else "n/a"
            pkg = package_s.get((px, bs, mode))
            pkg = f"{statistics.median(pkg):.1f}" if pkg else "n/a"
            print(f"| {px} | {bs} | {mode} | {rate:.1f} | {span} | {len(ratios)} | {comp} | {pkg} |")


if __name__ == "__main__":
    main(sys.argv[1:])
