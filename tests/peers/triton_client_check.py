"""The official Triton client (tritonclient 2.73, HTTP with binary data and with JSON,
and gRPC) against `inferbench serve`: metadata, health, answers equal to PyTorch's
own forward of the same TorchScript file (max abs diff < 1e-5), and the protocol's
errors for bad requests. Run by scripts/test-peers.sh with the .peers/oip venv:

  python triton_client_check.py --http HOST:PORT --grpc HOST:PORT --model NAME \
      --model-file FILE.pt --sample-shape 3x8x8 --max-batch 2 --reference-python PY

Prints one line per check and exits 1 if any failed."""

import argparse
import os
import subprocess
import sys
import tempfile
import urllib.request

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

TOLERANCE = 1e-5
HERE = os.path.dirname(os.path.abspath(__file__))

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def reference(args, inputs):
    """PyTorch's answers for each named input batch, from .venv's python."""
    with tempfile.TemporaryDirectory(prefix="peers-ref-") as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(src, **inputs)
        subprocess.run(
            [args.reference_python, os.path.join(HERE, "torch_reference.py"), args.model_file, src, dst],
            check=True,
            timeout=120,
        )
        with np.load(dst) as out:
            return {k: out[k] for k in out.files}


def server_counts(http_addr, model):
    """inferbench serve's own counters for `model` (Triton's names) from its /metrics."""
    text = urllib.request.urlopen(f"http://{http_addr}/metrics", timeout=10).read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("#") or f'model="{model}"' not in line:
            continue
        name, value = line.split("{", 1)[0], float(line.rsplit(" ", 1)[1])
        counts[name] = counts.get(name, 0.0) + value
    return counts


def expect_error(name, call, want_status):
    try:
        call()
    except InferenceServerException as e:
        check(name, str(e.status()) == want_status, f"status {e.status()} ({(e.message() or '')[:100]})")
        return
    check(name, False, f"no error; expected {want_status}")


def http_infer(client, model, x, binary):
    inp = httpclient.InferInput("input__0", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("output__0", binary_data=binary)
    return client.infer(model, [inp], outputs=[out]).as_numpy("output__0")


def grpc_infer(client, model, x):
    inp = grpcclient.InferInput("input__0", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    out = grpcclient.InferRequestedOutput("output__0")
    return client.infer(model, [inp], outputs=[out]).as_numpy("output__0")


def compare(name, got, want):
    if got is None:
        check(name, False, "no output__0 in the answer")
        return
    if got.shape != want.shape:
        check(name, False, f"shape {got.shape}, PyTorch's {want.shape}")
        return
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    check(name, diff < TOLERANCE, f"max abs diff {diff:.2e} over {want.size} values")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--http", required=True)
    p.add_argument("--grpc", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--model-file", required=True)
    p.add_argument("--sample-shape", required=True, help="one sample's shape, e.g. 3x8x8")
    p.add_argument("--max-batch", type=int, required=True, help="the server's --batch-size")
    p.add_argument("--reference-python", required=True)
    args = p.parse_args()
    sample = [int(d) for d in args.sample_shape.split("x")]

    rng = np.random.default_rng(24)
    # Several requests of batch 1 and 2 (the server's most samples per request).
    batches = [1, 2, 1, 2, args.max_batch]
    inputs = {f"req{i}": rng.standard_normal([b] + sample).astype(np.float32) for i, b in enumerate(batches)}
    want = reference(args, inputs)

    http = httpclient.InferenceServerClient(url=args.http, network_timeout=30.0)
    grpc = grpcclient.InferenceServerClient(url=args.grpc)

    # Health and metadata, through each front.
    check("http: server live and ready", http.is_server_live() and http.is_server_ready())
    check("http: model ready", http.is_model_ready(args.model))
    meta = http.get_model_metadata(args.model)
    check(
        "http: model metadata",
        meta["name"] == args.model
        and [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [("input__0", "FP32", [-1] + sample)]
        and [o["name"] for o in meta["outputs"]] == ["output__0"],
        f"inputs {meta['inputs']}, outputs {meta['outputs']}",
    )
    server = http.get_server_metadata()
    check("http: server metadata names the binary extension", "binary_tensor_data" in server.get("extensions", []), str(server))
    check("grpc: server live and ready", grpc.is_server_live() and grpc.is_server_ready())
    check("grpc: model ready", grpc.is_model_ready(args.model))
    gmeta = grpc.get_model_metadata(args.model, as_json=True)
    check(
        "grpc: model metadata",
        gmeta["name"] == args.model
        and [(i["name"], i["datatype"], [int(d) for d in i["shape"]]) for i in gmeta["inputs"]]
        == [("input__0", "FP32", [-1] + sample)],
        f"inputs {gmeta['inputs']}",
    )

    # Answers against PyTorch's.
    before = server_counts(args.http, args.model)
    for key, x in inputs.items():
        compare(f"http binary: {key} (batch {x.shape[0]})", http_infer(http, args.model, x, True), want[key])
        compare(f"http json:   {key} (batch {x.shape[0]})", http_infer(http, args.model, x, False), want[key])
        compare(f"grpc:        {key} (batch {x.shape[0]})", grpc_infer(grpc, args.model, x), want[key])

    # Errors, as the official client reports them.
    bad = np.zeros([1] + [d + 1 for d in sample], dtype=np.float32)
    expect_error("http binary: wrong shape -> 400", lambda: http_infer(http, args.model, bad, True), "400")
    expect_error("http json: wrong shape -> 400", lambda: http_infer(http, args.model, bad, False), "400")
    expect_error("grpc: wrong shape -> INVALID_ARGUMENT", lambda: grpc_infer(grpc, args.model, bad), "StatusCode.INVALID_ARGUMENT")
    big = np.zeros([args.max_batch + 1] + sample, dtype=np.float32)
    expect_error("http: batch over --batch-size -> 400", lambda: http_infer(http, args.model, big, True), "400")
    expect_error("grpc: batch over --batch-size -> INVALID_ARGUMENT", lambda: grpc_infer(grpc, args.model, big), "StatusCode.INVALID_ARGUMENT")
    x64 = np.zeros([1] + sample, dtype=np.float64)

    def http_fp64():
        inp = httpclient.InferInput("input__0", list(x64.shape), "FP64")
        inp.set_data_from_numpy(x64, binary_data=True)
        http.infer(args.model, [inp])

    expect_error("http: wrong datatype -> 400", http_fp64, "400")
    ok = np.zeros([1] + sample, dtype=np.float32)
    expect_error("http: unknown model -> 404", lambda: http_infer(http, args.model + "-nope", ok, True), "404")
    expect_error("grpc: unknown model -> NOT_FOUND", lambda: grpc_infer(grpc, args.model + "-nope", ok), "StatusCode.NOT_FOUND")
    # The server still answers after the errors.
    compare("http binary: an answer after the errors", http_infer(http, args.model, inputs["req0"], True), want["req0"])

    # The server counted what the client sent: each answered request once, each sample
    # once, and the refused ones as failures.
    after = server_counts(args.http, args.model)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    answered = 3 * len(inputs) + 1
    samples = 3 * sum(x.shape[0] for x in inputs.values()) + inputs["req0"].shape[0]
    check(
        "server's own count of answered requests and samples",
        delta.get("nv_inference_request_success") == answered and delta.get("nv_inference_count") == samples,
        f"nv_inference_request_success +{delta.get('nv_inference_request_success')} (sent {answered}), "
        f"nv_inference_count +{delta.get('nv_inference_count')} (sent {samples})",
    )
    # 6 refused requests for this model; the 2 for an unknown model may count here too.
    refused = delta.get("nv_inference_request_failure", 0.0)
    check("server's own count of refused requests", refused in (6.0, 8.0), f"nv_inference_request_failure +{refused} (6 for this model, 2 for an unknown one)")

    http.close()
    grpc.close()
    if failures:
        print(f"triton client: {len(failures)} check(s) failed: {', '.join(failures)}")
        sys.exit(1)
    print("triton client: all checks passed")


if __name__ == "__main__":
    main()
