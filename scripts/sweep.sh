#!/usr/bin/env bash
# The default sweep, latency–throughput curve and report:
#   1. `inferbench sweep --preset quick` (ResNet-18 at 32 px, bs 1/4/16 × eager/torchscript
#      × 1-2 workers, 2 requests in flight, 3 repeats each),
#   2. `inferbench curve` for bs 1, torchscript, 2 workers at 20-110 % of its capacity, with the
#      highest rate that keeps p99 within $BUDGET_MS (default 50 ms),
#   3. `inferbench report` into reports/default/ (report.md and SVG plots), recommending
#      under the latency constraint (p99 ≤ $BUDGET_MS).
# Results: results/default-sweep.jsonl (replaced only when the whole run succeeds).
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_MS="${BUDGET_MS:-50}"
scripts/setup.sh
cargo build --release --locked --quiet --bin inferbench
OUT=results/default-sweep.jsonl
mkdir -p results
rm -f "$OUT.partial"
target/release/inferbench sweep --preset quick --out "$OUT.partial"
target/release/inferbench curve --model resnet18 --image-size 32 --batch-size 1 \
  --compile torchscript --workers 2 --rates auto --latency-budget-ms "$BUDGET_MS" --percentile p99 --name quick-curve --out "$OUT.partial"
mv "$OUT.partial" "$OUT"
target/release/inferbench report --input "$OUT" --out-dir reports/default \
  --constraint latency --latency-pct p99 --latency-budget-ms "$BUDGET_MS"
