"""Writes the ResNet-18 TorchScript file that scripts/peers/litserve-vs-serve.sh serves
with both LitServe and `inferbench serve`: torchvision's resnet18 (seeded random
weights: nothing is downloaded), traced at IMAGE_SIZE px with batch 1 (the trace takes
any batch). Run with .venv's python (scripts/setup.sh --torchvision):

  .venv/bin/python scripts/peers/make_resnet18.py OUT.pt [IMAGE_SIZE]     (default 32)"""

import sys

import torch
import torchvision


def main(out, size=32):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(1, 3, size, size))
        # the trace must serve a batch other than the one it was traced with
        assert traced(torch.randn(3, 3, size, size)).shape == (3, 1000)
    traced.save(out)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
