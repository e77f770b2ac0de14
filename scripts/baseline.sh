#!/usr/bin/env bash
# The committed criterion baseline (criterion-baselines/default/) and the copy step
# between it and criterion's output folder.
#
#   scripts/baseline.sh save [criterion args]
#                                run the default profile RUNS times (default 3) as
#                                baselines run1..runN, merge them into "committed" (per
#                                benchmark the median run, plus spread.json with every
#                                run's mean, which widens compare's noise band to the
#                                machine's run-to-run spread), then export it into
#                                criterion-baselines/default/ with a note of the
#                                environment it was taken on (commit the folder)
#   scripts/baseline.sh import   copy criterion-baselines/default/ into target/criterion as
#                                the baseline named "committed" (scripts/compare.sh does this)
#   scripts/baseline.sh export   only the export half of save
#
# Why a copy step and not CRITERION_HOME: criterion writes every run (new/, change/,
# report/) under CRITERION_HOME, so pointing it at a tracked folder would put each
# run's output into the repository. The committed folder holds only the four files
# criterion reads for a baseline: benchmark.json, estimates.json, sample.json, tukey.json.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=committed
RUNS="${RUNS:-3}"
STORE=criterion-baselines/default
OUT="${CRITERION_HOME:-target/criterion}"

export_baseline() {
  local found=0
  rm -rf "$STORE.tmp" && mkdir -p "$STORE.tmp"
  while IFS= read -r dir; do
    local bench="${dir%/"$NAME"}"
    local rel="${bench#"$OUT"/}"
    mkdir -p "$STORE.tmp/$rel"
    cp "$dir"/{benchmark,estimates,sample,tukey}.json "$STORE.tmp/$rel/"
    if [ -f "$dir/spread.json" ]; then cp "$dir/spread.json" "$STORE.tmp/$rel/"; fi
    found=$((found + 1))
  done < <(find "$OUT" -type d -name "$NAME" | sort)
  if [ "$found" = 0 ]; then
    rm -rf "$STORE.tmp"
    echo "[baseline] error: no '$NAME' baseline under $OUT; run: scripts/baseline.sh save" >&2
    exit 1
  fi
  write_environment >"$STORE.tmp/ENVIRONMENT.md"
  rm -rf "$STORE" && mv "$STORE.tmp" "$STORE"
  echo "[baseline] exported $found benchmarks to $STORE" >&2
}

write_environment() {
  local torch
  torch=$(.venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null || echo unknown)
  local suite="profile \`${INFERBENCH_PROFILE:-default}\`"
  if [ -n "${INFERBENCH_SUITE:-}" ]; then suite="suite file \`$INFERBENCH_SUITE\`"; fi
  cat <<NOTE
# Environment of the committed baseline

Taken with \`scripts/baseline.sh save\` (criterion $suite,
$RUNS runs: each benchmark's files are its median run's, and \`spread.json\` holds
every run's mean).
Compare a change against it with \`scripts/compare.sh\`. Wall-clock baselines only
transfer to the same kind of machine: on another, save a baseline there first.

| | |
|---|---|
| date (UTC) | $(date -u +%Y-%m-%dT%H:%MZ) |
| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo " (with uncommitted changes)") |
| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |
| cores | $(nproc) |
| memory | $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) |
| GPU | $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)$(command -v nvidia-smi >/dev/null || echo none) |
| kernel | $(uname -r) |
| rustc | $(rustc --version) |
| libtorch | torch $torch (PyPI wheel, via .venv) |
NOTE
}

import_baseline() {
  if [ ! -d "$STORE" ]; then
    echo "[baseline] error: $STORE does not exist; run: scripts/baseline.sh save" >&2
    exit 1
  fi
  local count=0
  while IFS= read -r file; do
    local rel="${file#"$STORE"/}"
    local bench
    bench=$(dirname "$rel")
    mkdir -p "$OUT/$bench/$NAME"
    rm -f "$OUT/$bench/$NAME/spread.json"
    cp "$STORE/$bench"/{benchmark,estimates,sample,tukey}.json "$OUT/$bench/$NAME/"
    if [ -f "$STORE/$bench/spread.json" ]; then cp "$STORE/$bench/spread.json" "$OUT/$bench/$NAME/"; fi
    count=$((count + 1))
  done < <(find "$STORE" -name benchmark.json | sort)
  echo "[baseline] imported $count benchmarks from $STORE as '$NAME' into $OUT" >&2
}

case "${1:-}" in
  save)
    shift
    scripts/setup.sh
    if ! [ "$RUNS" -ge 1 ] 2>/dev/null; then
      echo "[baseline] error: RUNS=$RUNS; expected a whole number ≥ 1 (3 or more measures the noise)" >&2
      exit 2
    fi
    if [ "$RUNS" = 1 ]; then
      cargo bench --locked --bench pipeline -- --save-baseline "$NAME" "$@"
    else
      runs=()
      for i in $(seq 1 "$RUNS"); do
        echo "[baseline] run $i of $RUNS" >&2
        cargo bench --locked --bench pipeline -- --save-baseline "run$i" "$@"
        runs+=("run$i")
      done
      find "$OUT" -type d -name "$NAME" -prune -exec rm -rf {} + 2>/dev/null || true
      cargo build --release --locked --quiet --bin inferbench
      target/release/inferbench merge-baselines --criterion-dir "$OUT" --into "$NAME" \
        --runs "$(IFS=,; echo "${runs[*]}")"
    fi
    export_baseline
    ;;
  export) export_baseline ;;
  import) import_baseline ;;
  *)
    echo "usage: scripts/baseline.sh save|import|export" >&2
    exit 2
    ;;
esac
