"""The reference answers for tests/peers/triton_client_check.py: runs a TorchScript file
with PyTorch itself (the project's .venv, which has torch and numpy) on the inputs of an
.npz file and writes the outputs, key by key, to another .npz file.

  .venv/bin/python tests/peers/torch_reference.py MODEL.pt INPUTS.npz OUTPUTS.npz

A separate process, so that the peer venv never needs torch (and never mixes its numpy
with .venv's)."""

import sys

import numpy as np
import torch


def main(model_path, inputs_path, outputs_path):
    torch.set_grad_enabled(False)
    module = torch.jit.load(model_path).eval()
    inputs = np.load(inputs_path)
    outputs = {}
    for key in inputs.files:
        out = module(torch.from_numpy(inputs[key]))
        if not isinstance(out, torch.Tensor):
            raise SystemExit(f"{model_path}: expected one tensor output, got {type(out).__name__}")
        outputs[key] = out.numpy()
    np.savez(outputs_path, **outputs)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
