#!/usr/bin/env bash
# Throughput of ResNet-18 in each compile mode (eager, torchscript, frozen,
# aot-inductor) at 64 and 224 px, batch 1 and 8, as a ratio to eager, with the
# compile times: ROUNDS rounds of the sweeps in scripts/sweeps/, each round every
# mode once, so a slow minute of a shared machine hits one round, not one mode.
#
#   scripts/compile-modes.sh [ROUNDS [OUT_DIR]]     (default 3, results/compile-modes)
#
# The first round compiles the AOTInductor packages (about half a minute each on
# 2 cores; cached after, see docs/models.md). Needs torchvision for ResNet-18's PyTorch
# definition (installed here by setup.sh --torchvision).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
out="${2:-results/compile-modes}"
scripts/setup.sh --torchvision
cargo build --release --locked --quiet
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  for px in 64 224; do
    scripts/inferbench sweep --config "scripts/sweeps/compile-modes-${px}px.toml" \
      --out "$out/${px}px-round${round}.jsonl"
  done
done
python3 scripts/compile-modes-table.py "$out"/*px-round*.jsonl
