#!/usr/bin/env bash
# LitServe (the seed's server) and `inferbench serve`, each serving the same ResNet-18
# TorchScript file on the CPU with the same dynamic batching limits, driven in turns by
# the same inferbench client: throughput and p99 of each, and their ratio. A
# measurement, not a test: it prints a table; it asserts nothing (the exit status is 1
# only if a server or a run failed).
#
#   scripts/peers/litserve-vs-serve.sh [--rounds 4] [--iters 400] [--concurrency 8]
#       [--image-size 32] [--max-batch-size 8] [--batch-timeout-ms 10] [--threads 2]
#
# The model: torchvision's resnet18 (seeded weights) traced at --image-size px by
# scripts/peers/make_resnet18.py, kept in .peers/models/. LitServe: scripts/peers/
# litserve_oip.py (LitAPI(max_batch_size, batch_timeout), one inference worker with
# --threads torch threads, OIP REST JSON). inferbench serve: --model torchscript:FILE
# --max-batch-size --batch-timeout, one worker with --threads intra-op threads. The
# client: inferbench run --target URL --arrival concurrency:N --tensor-encoding json
# (LitServe speaks JSON only, so inferbench serve is driven with JSON too), --iters
# requests a run after a warm-up run of each. Both servers stay up; rounds alternate the
# order (LitServe first, then inferbench serve first, ...). Bounded: each run has a
# time limit; the whole takes about a minute or two on a 2-core machine.
# Needs the release binary (cargo build --release --bin inferbench); installs the peers
# (scripts/peers.sh) itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=litserve-vs-serve
# shellcheck source=scripts/peers/lib.sh
. scripts/peers/lib.sh

ROUNDS=4 ITERS=400 CONC=8 SIZE=32 MAXB=8 TIMEOUT_MS=10 THREADS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --image-size) SIZE=$2; shift 2 ;;
    --max-batch-size) MAXB=$2; shift 2 ;;
    --batch-timeout-ms) TIMEOUT_MS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$ROUNDS" -ge 1 ] && [ "$ITERS" -ge 10 ] && [ "$ITERS" -le 20000 ] && [ "$CONC" -ge 1 ] \
  || die "--rounds >= 1, --iters 10..20000, --concurrency >= 1"

need_inferbench
scripts/peers.sh
peers_init

model=.peers/models/resnet18-${SIZE}px.pt
if [ ! -f "$model" ]; then
  say "tracing torchvision's resnet18 at ${SIZE} px into $model"
  mkdir -p .peers/models
  timeout 300 .venv/bin/python scripts/peers/make_resnet18.py "$model.tmp" "$SIZE"
  mv "$model.tmp" "$model"
fi
batch_timeout_s=$(python3 -c "print($TIMEOUT_MS / 1000)")

lit_port=$(free_port)
start_bg litserve "$PEERS_TMP/litserve.log" .peers/litserve/bin/python scripts/peers/litserve_oip.py \
  --model-file "$model" --name resnet18 --sample-shape "3x${SIZE}x${SIZE}" --port "$lit_port" \
  --max-batch-size "$MAXB" --batch-timeout "$batch_timeout_s" --threads "$THREADS"
lit_pid=$BG_PID
lit_url="http://127.0.0.1:$lit_port/v2/models/resnet18"
start_serve "inferbench serve" "$PEERS_TMP/serve.log" --model "torchscript:$model" \
  --input "3x${SIZE}x${SIZE}:f32" --max-batch-size "$MAXB" --batch-timeout "${TIMEOUT_MS}ms" \
  --workers 1 --intra-op-threads "$THREADS" --model-name resnet18 --no-grpc --quiet
ib_url=$SERVE_REST_URL
# LitServe's own /health: 200 once its inference worker has loaded the model.
wait_http_ok "http://127.0.0.1:$lit_port/health" 120 "$lit_pid" || { tail -n 30 "$PEERS_TMP/litserve.log" >&2; exit 1; }
say "LitServe $lit_url; inferbench serve $ib_url; both: ResNet-18 ${SIZE} px, max batch $MAXB, batch timeout ${TIMEOUT_MS} ms, 1 worker x $THREADS threads"

# measure URL ITERS: prints "SAMPLES_PER_S P50_MS P99_MS MEAN_BATCH" (mean batch: from the
# server's metrics where it has them, else -)
measure() {
  local out="$PEERS_TMP/run.json" metrics=off
  [ "$1" = "$ib_url" ] && metrics=auto
  timeout 300 "$INFERBENCH" run --target "$1" --arrival "concurrency:$CONC" --tensor-encoding json \
    --iters "$2" --server-metrics "$metrics" --json --quiet --out "$PEERS_TMP/runs.jsonl" \
    --max-duration 240s >"$out" || die "inferbench run --target $1 failed"
  python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
sm = r["target"].get("server_metrics") or {}
batch = f"{sm['samples'] / sm['forwards']:.2f}" if sm.get("samples") and sm.get("forwards") else "-"
print(f"{r['throughput_samples_per_s']:.2f} {r['latency_ms']['p50']:.2f} {r['latency_ms']['p99']:.2f} {batch}")
EOF
}

say "warm-up runs (not counted)"
measure "$lit_url" 50 >/dev/null
measure "$ib_url" 50 >/dev/null
rows="$PEERS_TMP/rows"
: >"$rows"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="litserve serve"; else order="serve litserve"; fi
  load_before=$(load_now)
  for who in $order; do
    if [ "$who" = litserve ]; then res=$(measure "$lit_url" "$ITERS"); read -r l_thr l_p50 l_p99 l_b <<<"$res"
    else res=$(measure "$ib_url" "$ITERS"); read -r s_thr s_p50 s_p99 s_b <<<"$res"; fi
  done
  echo "$round ${order// />} $l_thr $l_p50 $l_p99 $s_thr $s_p50 $s_p99 $s_b ${load_before%% *}" >>"$rows"
  say "round $round done (load $(load_now))"
done

python3 - "$rows" "$SIZE" "$MAXB" "$TIMEOUT_MS" "$THREADS" "$CONC" "$ITERS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size, maxb, tmo, threads, conc, iters = sys.argv[2:]
print(f"\nResNet-18 {size} px on the CPU, max batch {maxb}, batch timeout {tmo} ms, 1 worker x {threads} threads; "
      f"client: inferbench run --arrival concurrency:{conc} --tensor-encoding json --iters {iters}")
print(f"{'round':>5} {'order':<16} {'LitServe/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'serve/s':>9} {'p50 ms':>7} "
      f"{'p99 ms':>7} {'batch':>5} {'thr x':>6} {'p99 x':>6} {'load':>5}")
thr, p99 = [], []
for r in rows:
    t = float(r[5]) / float(r[2]); q = float(r[7]) / float(r[4])
    thr.append(t); p99.append(q)
    print(f"{r[0]:>5} {r[1]:<16} {float(r[2]):>10.1f} {float(r[3]):>7.1f} {float(r[4]):>7.1f} {float(r[5]):>9.1f} "
          f"{float(r[6]):>7.1f} {float(r[7]):>7.1f} {r[8]:>5} {t:>6.2f} {q:>6.2f} {r[9]:>5}")
print(f"inferbench serve / LitServe: throughput x{statistics.median(thr):.2f} (range {min(thr):.2f}-{max(thr):.2f}), "
      f"p99 x{statistics.median(p99):.2f} (range {min(p99):.2f}-{max(p99):.2f}), medians of {len(rows)} rounds; "
      "batch = inferbench serve's mean samples per forward (its own metrics); load = 1-min load average before the round")
EOF
say "load averages at the end: $(load_now)"
