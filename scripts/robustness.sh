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
#                                       append; then checks that every line of the
#                                       file parses (tests/suite/append_kill.rs with N kills)
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
  # The writer and the checks are tests/suite/append_kill.rs (3 kills in every test run).
  INFERBENCH_APPEND_KILLS=$count cargo test --release --locked --quiet --test suite \
    -- --nocapture append_kill::a_writer_killed_at_any_moment
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
