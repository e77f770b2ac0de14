#!/usr/bin/env bash
# The same model through a TorchScript file and through the built-in definition:
# ResNet-18 traced from torchvision into a file (`--model torchscript:FILE`) against
# inferbench's own ResNet-18 traced (`--compile torchscript`), at 64 px, batch 1 and
# 8, in ROUNDS rounds of the two in turns. Prints each round's throughput ratio
# (file / built-in) and their median: 1 within noise means a user's file is measured
# as the built-in model is.
#
#   scripts/file-vs-built-in.sh [ROUNDS [ITERS]]     (default 3 rounds, 200 requests)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
iters="${2:-200}"
scripts/setup.sh --torchvision >/dev/null
cargo build --release --locked --quiet
file=target/resnet18-torchvision-64px.pt
.venv/bin/python - "$file" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=1000).eval()
with torch.no_grad():
    torch.jit.save(torch.jit.trace(model, torch.randn(1, 3, 64, 64)), sys.argv[1])
PY
rate() { scripts/inferbench run -q --json --no-bare --iters "$iters" --out /dev/null "$@" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_samples_per_s"])'; }
for bs in 1 8; do
  ratios=()
  for round in $(seq 1 "$rounds"); do
    built=$(rate --model resnet18 --compile torchscript --image-size 64 --batch-size "$bs")
    from_file=$(rate --model "torchscript:$file" --input 3x64x64:f32 --batch-size "$bs")
    ratio=$(python3 -c "print(f'{$from_file / $built:.3f}')")
    ratios+=("$ratio")
    echo "bs $bs round $round: built-in $built, file $from_file samples/s, ratio $ratio"
  done
  python3 -c "import statistics,sys; r=[float(x) for x in sys.argv[1:]]; print(f'bs $bs: median ratio {statistics.median(r):.3f} (range {min(r):.3f}-{max(r):.3f})')" "${ratios[@]}"
done
