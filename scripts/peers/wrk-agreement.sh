#!/usr/bin/env bash
# wrk (Debian's, software nobody here wrote) and inferbench's own client against the same
# saturated `inferbench serve` endpoint: do they measure the same throughput? Issue 24
# asks for agreement within 3 %. A measurement, not a test: it prints a table and the
# median ratio; it asserts nothing (the exit status is 1 only if a run failed).
#
#   scripts/peers/wrk-agreement.sh [--rounds 4] [--duration 5] [--concurrency 4]
#                                  [--encoding binary|json] [--spin 1ms]
#
# The server: `inferbench serve --model spin:1ms` with one worker (a forward that holds a
# core for 1 ms), so the server is the bottleneck. Each round runs both clients with the
# same N connections, each keeping one request in flight (wrk -t1 -cN -dDs with
# scripts/peers/oip-post.lua, the request body made by scripts/peers/oip_body.py exactly
# as inferbench sends it; inferbench run --target --arrival concurrency:N --connections N
# with the same encoding, its request count set from wrk's first rate so that it runs
# about as long). Rounds alternate the order (A B, B A, ...) so that drift cancels.
# Ratio = inferbench / wrk. Bounded: about rounds x 2 x duration plus a few seconds.
# Needs the release binary (built by nobody here: cargo build --release --bin inferbench)
# and wrk (scripts/peers.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=wrk-agreement
# shellcheck source=scripts/peers/lib.sh
. scripts/peers/lib.sh

ROUNDS=4 DURATION=5 CONC=4 ENCODING=binary SPIN=1ms
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --encoding) ENCODING=$2; shift 2 ;;
    --spin) SPIN=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$ENCODING" in binary|json) ;; *) die "--encoding binary or json" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 60 ] && [ "$CONC" -ge 1 ] \
  || die "--rounds >= 1, --duration 1..60 s, --concurrency >= 1"

need_inferbench
scripts/need-debian-package.sh wrk wrk "$TAG"
peers_init

start_serve "inferbench serve" "$PEERS_TMP/serve.log" --model "spin:$SPIN" --image-size 8 \
  --workers 1 --intra-op-threads 1 --no-grpc --model-name spin --quiet
url=$SERVE_REST_URL
body="$PEERS_TMP/body"
header_len=$(python3 scripts/peers/oip_body.py "$ENCODING" 1x3x8x8 "$body")
if [ "$ENCODING" = binary ]; then ctype=application/octet-stream; else ctype=application/json; fi
say "server: $url (spin:$SPIN, 1 worker); clients: $CONC connections, $ENCODING tensors, ${DURATION}s a run, $ROUNDS rounds"

# run_wrk: prints "REQ_PER_S P50_MS P99_MS CLIENT_CPU_PCT"
run_wrk() {
  local out="$PEERS_TMP/wrk.out"
  OIP_BODY_FILE=$body OIP_CONTENT_TYPE=$ctype OIP_HEADER_LENGTH=$header_len \
    with_cpu "$PEERS_TMP/cpu" timeout $((DURATION + 30)) wrk -t1 -c"$CONC" -d"${DURATION}s" --latency \
    -s scripts/peers/oip-post.lua "$url/infer" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
  if grep -qE 'Non-2xx|Socket errors' "$out"; then cat "$out" >&2; die "wrk saw failed requests"; fi
  python3 - "$out" "$PEERS_TMP/cpu" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
cpu, wall = map(float, open(sys.argv[2]).read().split())
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
print(f"{rps:.1f} {p50:.3f} {p99:.3f} {100 * cpu / wall:.1f}")
EOF
}

# run_inferbench ITERS: prints "REQ_PER_S P50_MS P99_MS CLIENT_CPU_PCT"
run_inferbench() {
  local out="$PEERS_TMP/ib.json"
  with_cpu "$PEERS_TMP/cpu" timeout $((DURATION * 4 + 60)) "$INFERBENCH" run --target "$url" --arrival "concurrency:$CONC" \
    --connections "$CONC" --tensor-encoding "$ENCODING" --iters "$1" --server-metrics off \
    --json --quiet --out "$PEERS_TMP/runs.jsonl" --max-duration "$((DURATION * 4 + 30))s" >"$out" \
    || die "inferbench run failed"
  python3 - "$out" "$PEERS_TMP/cpu" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
cpu, wall = map(float, open(sys.argv[2]).read().split())
assert r["requests"] == r["samples"], "one sample a request"
print(f"{r['throughput_samples_per_s']:.1f} {r['latency_ms']['p50']:.3f} {r['latency_ms']['p99']:.3f} {100 * cpu / wall:.1f}")
EOF
}

# A short warm-up of both (connections, caches, the server's first requests).
OIP_BODY_FILE=$body OIP_CONTENT_TYPE=$ctype OIP_HEADER_LENGTH=$header_len \
  timeout 30 wrk -t1 -c"$CONC" -d1s -s scripts/peers/oip-post.lua "$url/infer" >/dev/null
iters=""
rows="$PEERS_TMP/rows"
: >"$rows"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="wrk inferbench"; else order="inferbench wrk"; fi
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  for who in $order; do
    if [ "$who" = wrk ]; then
      res=$(run_wrk)
      read -r w_rps w_p50 w_p99 w_cpu <<<"$res"
      # inferbench's request count: as many as wrk answered in its run, so it runs as long.
      [ -n "$iters" ] || iters=$(python3 -c "print(max(200, int(float('$w_rps') * $DURATION)))")
    else
      [ -n "$iters" ] || iters=$((DURATION * 500))
      res=$(run_inferbench "$iters")
      read -r i_rps i_p50 i_p99 i_cpu <<<"$res"
    fi
  done
  printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$round" "${order// />}" "$w_rps" "$w_p50" "$w_p99" \
    "$w_cpu" "$i_rps" "$i_p50" "$i_p99" "$i_cpu" "$load_before" >>"$rows"
  say "round $round done (load $(load_now))"
done

python3 - "$rows" "$CONC" "$ENCODING" "$SPIN" "$iters" "$DURATION" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
conc, enc, spin, iters, dur = sys.argv[2:]
print(f"\nwrk -t1 -c{conc} -d{dur}s vs inferbench run --arrival concurrency:{conc} --iters {iters} "
      f"({enc} tensors) on inferbench serve --model spin:{spin} --workers 1")
print(f"{'round':>5} {'order':<16} {'wrk req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'cpu %':>6} "
      f"{'ib req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'cpu %':>6} {'ib/wrk':>7} {'load':>5}")
ratios = []
for r in rows:
    ratio = float(r[6]) / float(r[2])
    ratios.append(ratio)
    print(f"{r[0]:>5} {r[1]:<16} {float(r[2]):>10.1f} {float(r[3]):>7.3f} {float(r[4]):>7.3f} {float(r[5]):>6.1f} "
          f"{float(r[6]):>10.1f} {float(r[7]):>7.3f} {float(r[8]):>7.3f} {float(r[9]):>6.1f} {ratio:>7.4f} {r[10]:>5}")
med = statistics.median(ratios)
print(f"throughput ratio inferbench/wrk: median {med:.4f} (range {min(ratios):.4f}-{max(ratios):.4f}, "
      f"{len(ratios)} rounds); |median - 1| = {abs(med - 1) * 100:.2f} % (issue 24: within 3 %)")
print("cpu % = the client's CPU time over its process's wall time, in % of one core (inferbench's "
      "includes its start-up and warm-up); load = 1-min load average before the round")
EOF
say "load averages at the end: $(load_now)"
