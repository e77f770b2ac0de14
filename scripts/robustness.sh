#!/usr/bin/env bash
# Repeats the failure paths many times and counts what went wrong.
#
#   scripts/robustness.sh faults N      N runs each of fail:spin:1ms@10:panic and
#                                       fail:spin:1ms@10:hang (--stall-timeout 1s), cycling
#                                       through both layouts with and without dynamic
#                                       batching; prints how many ended, hung (killed at
#                                       60 s) or exited with a wrong status, and their times
#   scripts/robustness.sh kill-appends N   N times: start a writer appending records,
#                                       SIGKILL it a random 0-300 ms after its first
#                                       append; then checks
#                                       that every line of the file parses
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/robustness.sh faults|kill-appends N}
count=${2:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

stats() { # times in seconds on stdin → n, min, median, max
  sort -n | awk '{t[NR]=$1} END {printf "n=%d min=%.2f s median=%.2f s max=%.2f s", NR, t[1], t[int((NR+1)/2)], t[NR]}'
}

case "$mode" in
faults)
  cargo build --release --quiet --bin inferbench
  layouts=("--streams shared" "--streams dedicated" "--streams shared --max-batch-size 4 --batch-timeout 1ms" "--streams dedicated --max-batch-size 4 --batch-timeout 1ms")
  for kind in panic hang; do
    hung=0 wrong=0
    : >"$work/times"
    for ((i = 0; i < count; i++)); do
      # shellcheck disable=SC2206
      extra=(${layouts[i % 4]})
      start=$(date +%s.%N)
      set +e
      timeout -s KILL 60 target/release/inferbench run -q --model "fail:spin:1ms@10:$kind" \
        --iters 40 --no-bare --stall-timeout 1s --out "$work/runs.jsonl" "${extra[@]}" >/dev/null 2>"$work/err"
      rc=$?
      set -e
      echo "$(date +%s.%N) - $start" | bc >>"$work/times"
      if [[ $rc -eq 137 ]]; then hung=$((hung + 1)); elif [[ $rc -ne 1 ]]; then wrong=$((wrong + 1)); fi
    done
    echo "$kind: $count runs, $hung hung, $wrong wrong exit status, results lines: $(cat "$work/runs.jsonl" 2>/dev/null | wc -l); wall time per run (process start to exit): $(stats <"$work/times")"
  done
  ;;
kill-appends)
  cargo build --release --quiet --example append_stress
  file="$work/appends.jsonl"
  for ((i = 0; i < count; i++)); do
    before=$(stat -c %s "$file" 2>/dev/null || echo 0)
    target/release/examples/append_stress "$file" &
    pid=$!
    # Kill only once it is appending (it loads libtorch first), at a random moment.
    for ((w = 0; w < 1000; w++)); do
      [[ $(stat -c %s "$file" 2>/dev/null || echo 0) -gt $before ]] && break
      sleep 0.01
    done
    sleep "0.$(printf %03d $((RANDOM % 300)))"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
  done
  python3 - "$file" "$count" <<'PY'
import json, sys
path, kills = sys.argv[1], int(sys.argv[2])
lines = open(path, encoding="utf-8").read().split("\n")
tail = lines.pop()  # after the last newline: empty unless the last write was cut short
def parses(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
bad = [n + 1 for n, line in enumerate(lines) if not parses(line)]
print(f"{kills} SIGKILLs: {len(lines)} lines, {len(lines) - len(bad)} parse, {len(bad)} do not {bad[:5]}; unterminated tail: {len(tail)} bytes")
PY
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
