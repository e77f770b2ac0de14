"""`inferbench run --target` against MLServer (software nobody here wrote) over REST and
gRPC: every measured request reaches MLServer and MLServer counts each once. Run by
scripts/test-peers.sh with any python3 (standard library only), with MLServer already
serving tests/peers/mlserver/ (the `affine` model in its folder):

  python3 mlserver_target_check.py --inferbench BIN --http HOST:PORT --grpc HOST:PORT \
      --metrics http://HOST:PORT/metrics --model affine --iters 50

MLServer's own count is read here from its /metrics before and after each run, as the
sum of `model_infer_request_success_total{model="affine"}` over its `version` label
(REST requests land under version="None", gRPC ones under version=""). It includes
inferbench's cold-start request (sent alone before the window; `--warmup 0` adds none),
so it must read iters + 1. inferbench's own reading of the same metrics
(`target.server_metrics`, from `--server-metrics`) must read exactly iters.

Prints one line per check and exits 1 if any failed. No timing is asserted."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

failures = []
known = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def mlserver_counts(metrics_url, model):
    """MLServer's success and failure counters for `model`, summed over their labels."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    counts = {"success": 0.0, "failure": 0.0}
    for line in text.splitlines():
        if line.startswith("#") or f'model="{model}"' not in line:
            continue
        name = line.split("{", 1)[0]
        for kind in counts:
            if name == f"model_infer_request_{kind}_total":
                counts[kind] += float(line.rsplit(" ", 1)[1])
    return counts


def run_inferbench(args, target, extra, tmp, label):
    out = os.path.join(tmp, label.replace(" ", "-") + ".jsonl")
    cmd = [args.inferbench, "run", "--target", target, "--iters", str(args.iters), "--warmup", "0",
           "--arrival", "concurrency:4", "--json", "--quiet", "--out", out, "--max-duration", "60s"] + extra
    print(f"  $ {' '.join(cmd)}", flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p


def measured_front(args, label, target, extra, tmp):
    before = mlserver_counts(args.metrics, args.model)
    p = run_inferbench(args, target, extra + ["--server-metrics", args.metrics], tmp, label)
    after = mlserver_counts(args.metrics, args.model)
    if p.returncode != 0:
        check(f"{label}: inferbench run exits 0", False, p.stderr.strip()[-800:])
        return
    r = json.loads(p.stdout)
    check(f"{label}: report counts {args.iters} requests and samples",
          r["requests"] == args.iters and r["samples"] == args.iters,
          f"requests {r['requests']}, samples {r['samples']}")
    server = {k: after[k] - before[k] for k in after}
    check(f"{label}: MLServer's own count is the window plus the cold-start request",
          server["success"] == args.iters + 1 and server["failure"] == 0,
          f"model_infer_request_success_total +{server['success']:g}, _failure_total +{server['failure']:g}")
    sm = r["target"].get("server_metrics")
    if sm is None:
        absent = r["target"].get("server_metrics_absent") or ""
        check(f"{label}: inferbench reads MLServer's metrics (target.server_metrics)", False,
              f"absent: {absent} -- MLServer 1.7.1 exports model_infer_request_success_total"
              "{model=...,version=...}, not model_infer_request_success{model_name=...}")
    else:
        check(f"{label}: inferbench's reading of MLServer's metrics agrees",
              sm["requests"] == args.iters and (sm.get("failures") or 0) == 0,
              f"target.server_metrics.requests {sm['requests']}, failures {sm.get('failures')}")
    print(f"  info: {label}: {r['throughput_samples_per_s']:.0f} samples/s, p50 {r['latency_ms']['p50']:.2f} ms, "
          f"p99 {r['latency_ms']['p99']:.2f} ms, server {r['target'].get('server')}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inferbench", required=True)
    p.add_argument("--http", required=True, help="MLServer's REST HOST:PORT")
    p.add_argument("--grpc", required=True, help="MLServer's gRPC HOST:PORT")
    p.add_argument("--metrics", required=True, help="MLServer's metrics URL")
    p.add_argument("--model", default="affine")
    p.add_argument("--iters", type=int, default=50)
    args = p.parse_args()

    server = json.loads(urllib.request.urlopen(f"http://{args.http}/v2", timeout=10).read())
    print(f"  info: MLServer says {server}", flush=True)
    with tempfile.TemporaryDirectory(prefix="peers-mlserver-") as tmp:
        # MLServer 1.7.1 has no binary tensor data extension (its server metadata lists
        # no extensions; a binary body is answered with HTTP 500): REST goes as JSON.
        check("MLServer does not announce the binary tensor data extension",
              "binary_tensor_data" not in server.get("extensions", []), str(server.get("extensions")))
        # Asked for binary tensors, inferbench sends them and MLServer fails them:
        # the run ends with the server's error, not a result.
        p_bin = run_inferbench(args, f"http://{args.http}/v2/models/{args.model}",
                               ["--server-metrics", "off", "--tensor-encoding", "binary"], tmp, "rest-binary")
        check("rest binary (asked for): inferbench fails cleanly against a server without the extension",
              p_bin.returncode != 0 and "HTTP 500" in p_bin.stderr and "panicked" not in p_bin.stderr,
              f"exit {p_bin.returncode}: {p_bin.stderr.strip().splitlines()[-1][:160] if p_bin.stderr.strip() else ''}")
        # Left to choose, it reads the server's extensions and sends JSON.
        p_auto = run_inferbench(args, f"http://{args.http}/v2/models/{args.model}", ["--server-metrics", "off"], tmp, "rest-auto")
        auto = json.loads(p_auto.stdout) if p_auto.returncode == 0 else {}
        check("rest, encoding left to inferbench: JSON, chosen from the server's metadata",
              p_auto.returncode == 0 and auto.get("target", {}).get("encoding") == "json",
              f"exit {p_auto.returncode}, encoding {auto.get('target', {}).get('encoding')}")
        measured_front(args, "rest json", f"http://{args.http}/v2/models/{args.model}", [], tmp)
        measured_front(args, "grpc", f"grpc://{args.grpc}/{args.model}", [], tmp)
    if failures:
        print(f"mlserver: {len(failures)} check(s) failed: {', '.join(failures)}")
        sys.exit(1)
    print("mlserver: all checks passed")


if __name__ == "__main__":
    main()
