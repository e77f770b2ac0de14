"""LitServe (0.2.19, the seed's server) serving a TorchScript file on the CPU with its own
dynamic batching, spoken to over the Open Inference Protocol's REST JSON so that
`inferbench run --target` can drive it (scripts/peers/litserve-vs-serve.sh). Run with
.peers/litserve's python (scripts/peers.sh; torch comes from .venv):

  python scripts/peers/litserve_oip.py --model-file FILE.pt --name NAME --sample-shape 3x32x32 \
      --port PORT [--max-batch-size 8] [--batch-timeout 0.01] [--threads 2]

LitServe does not speak OIP itself: decode_request reads the OIP JSON body (one FP32
input, batch first), batch/unbatch concatenate requests along the batch dimension,
encode_response writes an OIP response (output__0), served at POST /v2/models/NAME/infer;
GET /v2, /v2/models/NAME, /v2/models/NAME/ready and /v2/health/{live,ready} are added
to LitServe's FastAPI app. Prints "[litserve] listening: http://127.0.0.1:PORT/v2/models/NAME"
before it starts; it is ready once LitServe's own GET /health answers 200 (its inference
worker has loaded the model; the /v2/health routes added here answer 200 as soon as the
front is up)."""

import argparse

import litserve as ls
import torch


class OipTorchScript(ls.LitAPI):
    def __init__(self, model_file, name, threads, **kwargs):
        super().__init__(**kwargs)
        self.model_file, self.name, self.threads = model_file, name, threads

    def setup(self, device):
        torch.set_num_threads(self.threads)
        torch.set_grad_enabled(False)
        self.model = torch.jit.load(self.model_file, map_location=device).eval()
        self.sizes = []

    # LitServe 0.2.19 passes the parsed body by keyword: the parameter must be `request`.
    def decode_request(self, request):
        (inp,) = request["inputs"]
        if inp.get("datatype", "FP32") != "FP32":
            raise ValueError(f"datatype {inp.get('datatype')}: this server takes FP32")
        return torch.tensor(inp["data"], dtype=torch.float32).reshape(inp["shape"])

    def batch(self, inputs):
        self.sizes = [x.shape[0] for x in inputs]
        return torch.cat(inputs)

    def predict(self, x):
        with torch.inference_mode():
            return self.model(x)

    def unbatch(self, output):
        return list(torch.split(output, self.sizes))

    def encode_response(self, output):
        return {
            "model_name": self.name,
            "model_version": "1",
            "outputs": [
                {"name": "output__0", "datatype": "FP32", "shape": list(output.shape), "data": output.flatten().tolist()}
            ],
        }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-file", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--sample-shape", required=True, help="one sample's shape, e.g. 3x32x32")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-batch-size", type=int, default=8)
    p.add_argument("--batch-timeout", type=float, default=0.01, help="seconds")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads in the inference worker")
    args = p.parse_args()
    sample = [int(d) for d in args.sample_shape.split("x")]

    # The output's shape, for the metadata: one forward here, before the server starts.
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        out_shape = list(torch.jit.load(args.model_file).eval()(torch.zeros([1] + sample)).shape[1:])

    api = OipTorchScript(
        args.model_file, args.name, args.threads,
        max_batch_size=args.max_batch_size, batch_timeout=args.batch_timeout,
        api_path=f"/v2/models/{args.name}/infer",
    )
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1, timeout=60)
    metadata = {
        "name": args.name,
        "versions": ["1"],
        "platform": "litserve_torchscript",
        "inputs": [{"name": "input__0", "datatype": "FP32", "shape": [-1] + sample}],
        "outputs": [{"name": "output__0", "datatype": "FP32", "shape": [-1] + out_shape}],
    }
    app = server.app
    app.add_api_route("/v2", lambda: {"name": "litserve", "version": ls.__version__, "extensions": []}, methods=["GET"])
    app.add_api_route(f"/v2/models/{args.name}", lambda: metadata, methods=["GET"])
    app.add_api_route(f"/v2/models/{args.name}/versions/1", lambda: metadata, methods=["GET"])
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{args.name}/ready"):
        app.add_api_route(path, lambda: {}, methods=["GET"])
    print(f"[litserve] listening: http://127.0.0.1:{args.port}/v2/models/{args.name}", flush=True)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False, log_level="warning")


if __name__ == "__main__":
    main()
