#!/usr/bin/env python3
"""The seed's headline, side by side: for one model, the bare forward, the
in-process pipeline, and the same pipeline served over loopback REST (binary and
JSON tensors) and gRPC, each hop's throughput and p99 and its share of the loss;
and, at low load, what the network front adds to the median latency.

Every figure comes from `inferbench run --json` (the in-process run times the bare
forward too); the hops are measured in turns, round after round, so that a machine
drifting faster or slower moves them alike, and each table cell is the median over
the rounds. Client and server share this machine's cores: the client's own CPU is
reported beside each served row, and that CPU is what sharing costs the server.

    scripts/network-headline.sh [--rounds 3] [--iters 300] [--concurrency 4]
        [--model resnet18 --image-size 32 --intra-op-threads 1] [--spin-wait 20ms]
        [--out FILE.md]

`--spin-wait D` starts the server, and runs the in-process pipeline, polling for up to
D before parking (the server's requests poll for their answers too); the served
clients park, as a client on another machine would not share the server's cores.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "inferbench")


def run(args, what):
    """`inferbench run --json ARGS`, parsed; exits naming `what` when it fails."""
    cmd = [BIN, "run", "-q", "--json", "--out", os.devnull] + args
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        sys.exit(f"[headline] {what} failed:\n{done.stderr}")
    return json.loads(done.stdout)


class Server:
    """`inferbench serve` on free loopback ports, stopped on exit."""

    def __init__(self, flags):
        cmd = [BIN, "serve", "--http-port", "0", "--grpc-port", "0", "--model-name", "m"] + flags
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.http = self.grpc = None
        deadline = time.time() + 600
        for line in self.proc.stderr:
            m = re.match(r"\[serve\] listening: (http://\S+), (grpc://\S+)", line.strip())
            if m:
                self.http, self.grpc = m.group(1), m.group(2)
            if line.strip() == "[serve] ready":
                break
            if time.time() > deadline:
                break
        if not self.http:
            self.stop()
            sys.exit("[headline] inferbench serve did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at saturation")
    p.add_argument("--low-iters", type=int, default=200,
                   help="requests of the low-load (concurrency 1) runs; 0 skips them")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--image-size", default="32")
    p.add_argument("--intra-op-threads", default="1",
                   help="per worker; 1 leaves a core to the client on a 2-core machine")
    p.add_argument("--workers", default="1")
    p.add_argument("--spin-wait", default="0",
                   help="the server's (and the in-process pipeline's) --spin-wait, e.g. 20ms")
    p.add_argument("--out", help="also write the table here (markdown)")
    a = p.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"[headline] {BIN} is missing: build it with cargo build --release --bin inferbench")
    model = ["--model", a.model, "--image-size", a.image_size, "--workers", a.workers,
             "--intra-op-threads", a.intra_op_threads]
    server = Server(model + ["--spin-wait", a.spin_wait])
    try:
        hops = [
            ("in-process pipeline", lambda load: run(model + ["--spin-wait", a.spin_wait] + load, "the in-process run")),
            ("REST, binary tensors", lambda load: run(["--target", server.http] + load, "REST binary")),
            ("REST, JSON tensors", lambda load: run(["--target", server.http, "--tensor-encoding", "json"] + load, "REST JSON")),
            ("gRPC", lambda load: run(["--target", server.grpc] + load, "gRPC")),
        ]
        high = {name: [] for name, _ in hops}
        low = {name: [] for name, _ in hops}
        bare = []
        for r in range(a.rounds):
            print(f"[headline] round {r + 1}/{a.rounds} (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
            order = hops if r % 2 == 0 else hops[::-1]
            for name, measure in order:
                saturated = measure(["--iters", str(a.iters), "--arrival", f"concurrency:{a.concurrency}"]
                                    + (["--no-bare"] if name != "in-process pipeline" else []))
                high[name].append(saturated)
                if saturated.get("bare_forward_samples_per_s"):
                    bare.append(saturated["bare_forward_samples_per_s"])
                if a.low_iters > 0:
                    quiet = measure(["--iters", str(a.low_iters), "--arrival", "concurrency:1", "--no-bare"])
                    low[name].append(quiet)
    finally:
        server.stop()

    med = statistics.median
    thr = {n: med(r["throughput_samples_per_s"] for r in runs) for n, runs in high.items()}
    p99 = {n: med(r["latency_ms"]["p99"] for r in runs) for n, runs in high.items()}
    p50_low = {n: med(r["latency_ms"]["p50"] for r in runs) if runs else float("nan") for n, runs in low.items()}
    cpu = {n: med((r["utilization"]["cpu_pct"] or 0) * r["env"]["cores"] / 100 for r in runs)
           for n, runs in high.items()}
    bare_thr = med(bare)
    lines = [
        f"# {a.model} {a.image_size} px, {a.workers} worker(s) x {a.intra_op_threads} intra-op thread(s), "
        f"concurrency {a.concurrency}, server --spin-wait {a.spin_wait}; {a.rounds} rounds in turns, medians; "
        f"client and server share this machine's {os.cpu_count()} cores",
        "",
        "| hop | samples/s | ratio to bare | ratio to in-process | its loss: pipeline / network front | p99 ms | p50 ms at concurrency 1 | p50 added by the front (us) | client CPU (cores) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| bare forward | {bare_thr:.1f} | 1.000 | | | | | | |",
    ]
    inproc = "in-process pipeline"
    for name, _ in hops:
        total = bare_thr - thr[name]
        pipe = bare_thr - thr[inproc]
        if name == inproc:
            split = "1.00 / 0.00" if total > 0 else "none"
        elif total > 0:
            split = f"{pipe / total:.2f} / {(thr[inproc] - thr[name]) / total:.2f}"
        else:
            split = "none"
        client = "" if name == inproc else f"{cpu[name]:.2f}"
        added = "" if name == inproc else f"{(p50_low[name] - p50_low[inproc]) * 1e3:.0f}"
        lines.append(
            f"| {name} | {thr[name]:.1f} | {thr[name] / bare_thr:.3f} | {thr[name] / thr[inproc]:.3f} "
            f"| {split} | {p99[name]:.2f} | {p50_low[name]:.3f} | {added} | {client} |")
    lines.append("")
    lines.append("its loss: the row's throughput below the bare forward, split into the part the in-process "
                 "pipeline already loses and the part the network front adds. client CPU: the inferbench "
                 "client process, in cores, which the server did not have on this machine.")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
