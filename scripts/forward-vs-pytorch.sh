#!/usr/bin/env bash
# The bare forward of inferbench's pipeline (the denominator of its efficiency) beside
# PyTorch's own eager forward on this machine: ResNet-18, bs 1, fp32, CPU, at each
# image size and intra-op thread count, measured in turns so that a machine drifting
# faster or slower moves both tools alike.
#
#   scripts/forward-vs-pytorch.sh [ROUNDS] [OUT_DIR]      (defaults: 3, target/forward-vs-pytorch)
#
# Environment: SIZES (default "32 64"), THREADS (default "1 2"), ITERS (default 300).
# Each round runs, per size and thread count: PyTorch eager (scripts/gpu/pytorch_reference.py
# --device cpu, torchvision's ResNet-18, one thread running the loop), then
# `inferbench run` (1 worker; its report's bare_forward_samples_per_s is the loop on the
# pipeline's own model instance, timed before and after the window with no server running),
# and prints per point the median of the rounds' ratios inferbench / PyTorch, with
# the pipeline's throughput and efficiency beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=${2:-target/forward-vs-pytorch}
SIZES=${SIZES:-32 64}
THREADS=${THREADS:-1 2}
ITERS=${ITERS:-300}
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "ROUNDS must be a positive integer, got '$ROUNDS'" >&2; exit 2 ;; esac

bash scripts/setup.sh --torchvision
PY=.venv/bin/python
cargo build --release --quiet --bin inferbench
BIN=target/release/inferbench
mkdir -p "$OUT"
: >"$OUT/points.jsonl"

for round in $(seq 1 "$ROUNDS"); do
  for px in $SIZES; do
    for t in $THREADS; do
      echo "[forward-vs-pytorch] round $round/$ROUNDS: ${px} px, $t thread(s)" >&2
      ref="$OUT/pytorch-$round-$px-$t.json"
      "$PY" -W ignore scripts/gpu/pytorch_reference.py --device cpu --image-size "$px" \
        --batch-sizes 1 --precisions fp32 --threads "$t" --iters "$ITERS" --repeats 1 --out "$ref" >/dev/null
      run=$("$BIN" run --model resnet18 --image-size "$px" --intra-op-threads "$t" \
        --iters "$ITERS" --json --quiet --out "$OUT/runs.jsonl")
      "$PY" - "$ref" "$round" "$px" "$t" "$run" >>"$OUT/points.jsonl" <<'EOF'
import json, sys
ref, rnd, px, t, run = sys.argv[1], *map(int, sys.argv[2:5]), json.loads(sys.argv[5])
forwards = json.load(open(ref))["forward"]
torch = [f for f in forwards if f.get("threads", t) == t][0]["samples_per_s"]
print(json.dumps({"round": rnd, "px": px, "threads": t, "pytorch": torch,
                  "bare": run["bare_forward_samples_per_s"],
                  "pipeline": run["throughput_samples_per_s"],
                  "efficiency": run["pipeline_efficiency"]}))
EOF
    done
  done
done

"$PY" - "$OUT/points.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["px"], r["threads"]) for r in rows})
print("| px | threads | PyTorch eager | inferbench bare | bare / PyTorch (median, range) | pipeline | efficiency |")
print("|---|---|---|---|---|---|---|")
for px, t in keys:
    rs = [r for r in rows if (r["px"], r["threads"]) == (px, t)]
    med = lambda k: statistics.median(r[k] for r in rs)
    ratios = [r["bare"] / r["pytorch"] for r in rs]
    print(f"| {px} | {t} | {med('pytorch'):.0f} | {med('bare'):.0f} | "
          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
          f"{med('pipeline'):.0f} | {med('efficiency'):.2f} |")
print(f"\n{len(rows) // len(keys)} round(s); samples/s are medians over the rounds; raw points in {sys.argv[1]}")
EOF
