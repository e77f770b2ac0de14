"""Writes the model files the tests run, with the venv's PyTorch:

  .venv/bin/python scripts/model-fixtures.py [OUT_DIR]     TorchScript files (committed)
  .venv/bin/python scripts/model-fixtures.py --aoti FILE   an AOTInductor package

The TorchScript files go to fixtures/models/ by default.

Each is small enough to commit (a few KB) and deterministic (seeded weights):
- tiny_cnn.pt: a 3-channel image of any size -> 10 logits (one conv, pooling, a
  linear layer), traced; the TorchScript twin of the built-in tiny-cnn's shape.
- ids_mask_tuple.pt: (token ids [16] int64 in 0..100, mask [16] int64 in 0..2)
  -> a tuple (logits [4], pooled [8]): two inputs, a container output.
- dict_output.pt: an image -> {"logits": [10], "features": [8]}: a dict output.

Saved with torch.jit.save, so any libtorch of the same or a newer version loads them.

The AOTInductor package is ids_mask_tuple's model (two inputs, a tuple output), for
the CPU, with a dynamic batch of 1..64. It is not committed: a package is compiled
for the instruction sets of the machine that makes it, so tests make their own.
"""

import importlib.util
import sys
from pathlib import Path

import torch
from torch import nn


def _export_script():
    """scripts/aoti-export.py (a hyphenated name, so loaded by path): the one
    definition of inferbench's tiny-cnn on the Python side."""
    spec = importlib.util.spec_from_file_location("aoti_export", Path(__file__).with_name("aoti-export.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TinyCnn = _export_script().TinyCnn


class IdsMask(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, ids, mask):
        m = mask.unsqueeze(-1).to(torch.float32)
        pooled = (self.embed(ids) * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled), pooled


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = TinyCnn()
        self.proj = nn.Linear(10, 8)

    def forward(self, x):
        logits = self.cnn(x)
        return {"logits": logits, "features": self.proj(logits)}


def aoti_package(out):
    torch.manual_seed(0)
    model = IdsMask().eval()
    ids = torch.randint(0, 100, (2, 16))
    mask = torch.randint(0, 2, (2, 16))
    batch = torch.export.Dim("batch", min=1, max=64)
    with torch.no_grad():
        program = torch.export.export(
            model, (ids, mask), dynamic_shapes={"ids": {0: batch}, "mask": {0: batch}}
        )
        torch._inductor.aoti_compile_and_package(
            program,
            package_path=str(out),
            # batch 1 is in range; export traces at 2 only to avoid specializing 1
            inductor_configs={"aot_inductor.check_lowerbound": False},
        )
    print(f"{out}: {Path(out).stat().st_size} bytes")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--aoti":
        aoti_package(sys.argv[2])
        return
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/models")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    with torch.no_grad():
        image = torch.randn(2, 3, 16, 16)
        torch.jit.save(torch.jit.trace(TinyCnn().eval(), image), out / "tiny_cnn.pt")
        ids = torch.randint(0, 100, (2, 16))
        mask = torch.randint(0, 2, (2, 16))
        torch.jit.save(torch.jit.trace(IdsMask().eval(), (ids, mask)), out / "ids_mask_tuple.pt")
        traced = torch.jit.trace(DictOutput().eval(), image, strict=False)
        torch.jit.save(traced, out / "dict_output.pt")
    for f in sorted(out.glob("*.pt")):
        print(f"{f}: {f.stat().st_size} bytes")


if __name__ == "__main__":
    main()
