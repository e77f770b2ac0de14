#!/usr/bin/env bash
# Runs the criterion suite against the committed baseline and prints, per benchmark,
# baseline, new, the change of the mean with criterion's 95 % interval, and a verdict.
#
#   scripts/compare.sh [compare options] [-- criterion arguments]
#
# compare options (see `inferbench compare --help`):
#   --threshold PCT    noise band (default 5): a change counts only if its whole
#                      interval lies beyond it
#   --json-dir DIR     also write github-action-benchmark files there
#                      (smaller_is_better.json, bigger_is_better.json)
#   --allow-missing    do not fail on benchmarks absent from this run (implied when
#                      criterion arguments such as a filter are given)
#   --no-run           compare what target/criterion already holds (no cargo bench)
#
# Exit status: 0 nothing regressed; 1 a regression beyond the threshold (or a missing
# benchmark); 2 the comparison could not be made.
set -euo pipefail
cd "$(dirname "$0")/.."
compare_args=()
run=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-run) run=0; shift ;;
    --) shift; break ;;
    --threshold|--json-dir) compare_args+=("$1" "$2"); shift 2 ;;
    *) compare_args+=("$1"); shift ;;
  esac
done
if [ $# -gt 0 ]; then
  compare_args+=(--allow-missing)
fi

OUT="${CRITERION_HOME:-target/criterion}"
if [ "$run" = 1 ]; then
  scripts/setup.sh
  scripts/baseline.sh import
  # Stale results from an earlier run must not pass for this one's.
  find "$OUT" -type d \( -name new -o -name change \) -prune -exec rm -rf {} + 2>/dev/null || true
  cargo bench --locked --bench pipeline -- --baseline-lenient committed "$@"
fi
cargo build --release --locked --quiet --bin inferbench
exec target/release/inferbench compare --criterion-dir "$OUT" --baseline committed "${compare_args[@]}"
