"""Exports a built-in inferbench model with AOTInductor (the `aot-inductor` compile
mode), or as a TorchScript file with dynamically quantized int8 linear layers
(`--quantize dynamic-int8`: quantize_dynamic is Python-only).

inferbench runs this with the Python of the torch it links (its venv; the binary
embeds this file, INFERBENCH_PYTHON overrides the interpreter). One argument, a
JSON object:

  mode        aoti | dynamic-int8
  arch        resnet18 | tiny-cnn | mobilenet_v3_small | tiny-transformer
  weights     folder with weights.json (name, shape, offset per tensor) and
              weights.bin (fp32, little endian): the run's own weights, so the
              package computes what the eager model computes
  input_shape one sample's input shape (an image [3, H, W], token ids [L])
  input_dtype its element type (float32 ... int64)
  input_high  integers: ids are drawn in 0..input_high for the example; else null
  batch       the batch every forward has, or the smallest when max_batch > batch
  max_batch   the largest batch (dynamic batching); equal to batch: a static shape
  dtype       float32 | float16 | bfloat16
  device      cpu | cuda:N
  channels_last  weights and example input in the channels-last memory format
  out         the .pt2 package (aoti) or .pt TorchScript file (dynamic-int8) to write

Prints one JSON line: {"export_s": ..., "compile_s": ..., "torch": "..."}.
"""

import json
import sys
import time
from pathlib import Path

import torch
from torch import nn


class TinyCnn(nn.Module):
    """inferbench's tiny-cnn (src/model/zoo.rs): conv 3->8, ReLU, average pool, linear 8->10."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class TinyTransformer(nn.Module):
    """inferbench's tiny-transformer (src/model/transformer.rs): the same names and arithmetic."""

    DIM, LAYERS, HEADS, VOCAB, MAX_SEQUENCE, CLASSES = 256, 4, 4, 30522, 512, 2

    def __init__(self):
        super().__init__()
        d = self.DIM
        self.embed = nn.Embedding(self.VOCAB, d)
        self.pos = nn.Embedding(self.MAX_SEQUENCE, d)
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                "ln1": nn.LayerNorm(d), "qkv": nn.Linear(d, 3 * d), "proj": nn.Linear(d, d),
                "ln2": nn.LayerNorm(d), "ff1": nn.Linear(d, 4 * d), "ff2": nn.Linear(4 * d, d),
            })
            for _ in range(self.LAYERS)
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, self.CLASSES)

    def forward(self, ids):
        n, seq = ids.shape
        d, heads = self.DIM, self.HEADS
        x = self.embed(ids) + self.pos(torch.arange(seq, device=ids.device))
        for layer in self.layers:
            qkv = layer["qkv"](layer["ln1"](x)).view(n, seq, 3, heads, d // heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            attended = nn.functional.scaled_dot_product_attention(q, k, v)
            x = x + layer["proj"](attended.transpose(1, 2).reshape(n, seq, d))
            x = x + layer["ff2"](nn.functional.gelu(layer["ff1"](layer["ln2"](x))))
        return self.head(self.norm(x).mean(1))


def torchvision_model(name):
    try:
        import torchvision
    except ImportError:
        sys.exit(f"aot-inductor for {name} needs torchvision: run scripts/setup.sh --torchvision")
    return getattr(torchvision.models, name)(num_classes=1000)


def build(arch):
    if arch == "tiny-cnn":
        return TinyCnn()
    if arch == "tiny-transformer":
        return TinyTransformer()
    if arch in ("resnet18", "mobilenet_v3_small"):
        return torchvision_model(arch)
    sys.exit(f"aot-inductor has no PyTorch definition for {arch}")


def load_weights(model, folder):
    folder = Path(folder)
    manifest = json.loads((folder / "weights.json").read_text())
    blob = bytearray((folder / "weights.bin").read_bytes())
    state = {}
    for entry in manifest:
        count = 1
        for d in entry["shape"]:
            count *= d
        flat = torch.frombuffer(blob, dtype=torch.float32, count=count, offset=entry["offset"])
        state[entry["name"]] = flat.reshape(entry["shape"]).clone()
    missing, unexpected = model.load_state_dict(state, strict=False)
    # torchvision counts batch-norm updates in buffers inferbench has no use for.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"weights do not match the definition: missing {missing}, unexpected {unexpected}")


def quantize(model, example, out, started):
    """Linear layers with int8 weights and activations quantized on the fly, traced."""
    with torch.no_grad():
        quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        converted = time.monotonic()
        torch.jit.save(torch.jit.trace(quantized, example), out)
    done = time.monotonic()
    print(json.dumps({
        "export_s": converted - started,
        "compile_s": done - converted,
        "torch": torch.__version__,
    }))


def main():
    args = json.loads(sys.argv[1])
    dtype = getattr(torch, args["dtype"])
    device = torch.device(args["device"])
    model = build(args["arch"])
    load_weights(model, args["weights"])
    model = model.eval().to(device=device, dtype=dtype)
    layout = torch.channels_last if args["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=layout)
    batch, max_batch = args["batch"], args["max_batch"]
    dynamic = max_batch > batch
    # torch.export specializes a dimension of size 1; a dynamic batch is traced at 2.
    example_batch = max(batch, 2) if dynamic else batch
    shape = [example_batch, *args["input_shape"]]
    input_dtype = getattr(torch, args["input_dtype"])
    if args["input_high"] is not None:
        example = torch.randint(0, args["input_high"], shape, device=device, dtype=input_dtype)
    else:
        example = torch.randn(shape, device=device).to(input_dtype)
    if example.dim() == 4:
        example = example.contiguous(memory_format=layout)
    shapes = ({0: torch.export.Dim("batch", min=1, max=max_batch)},) if dynamic else None
    started = time.monotonic()
    if args["mode"] == "dynamic-int8":
        quantize(model, example, args["out"], started)
        return
    with torch.no_grad():
        program = torch.export.export(model, (example,), dynamic_shapes=shapes)
        exported = time.monotonic()
        # A batch of 1 is inside the range (it is traced at 2 only because export
        # specializes 0 and 1): without this the package's input checks refuse it.
        torch._inductor.aoti_compile_and_package(
            program,
            package_path=args["out"],
            inductor_configs={"aot_inductor.check_lowerbound": False},
        )
    done = time.monotonic()
    print(json.dumps({
        "export_s": exported - started,
        "compile_s": done - exported,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
