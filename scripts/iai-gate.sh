#!/usr/bin/env bash
# The deterministic performance gate: instruction counts of the request hot path
# (benches/hot_path.rs, iai-callgrind under valgrind) against the committed baseline
# criterion-baselines/iai/baseline.json.
#
#   scripts/iai-gate.sh             compare; exit 1 if a bench regressed beyond the tolerance
#   scripts/iai-gate.sh --update    write the current counts as the new baseline
#
# IAI_TOLERANCE_PCT (default 5) is the allowed instruction increase per bench, in percent;
# IAI_MIN_DELTA (default 10) the instructions a bench must also grow by to fail (a
# 31-instruction bench moves by 4 with an unrelated inlining change). A bench missing
# from the run, or one the baseline does not list, fails the gate (IAI_ALLOW_NEW=1 lets
# a new bench pass); an empty, cut-short, zeroed or schema-less baseline is refused (exit 2).
# Why not iai-callgrind's own --baseline/--callgrind-limits: they compare with callgrind
# files under target/iai, which a fresh CI checkout does not have (see scripts/iai_gate.py).
# Counts depend on the compiler and valgrind versions: update the baseline when those change.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNER_VERSION=0.16.1

scripts/need-debian-package.sh valgrind valgrind iai-gate
# The runner has no --version of its own; cargo's install list knows what is installed.
if ! cargo install --list | grep -q "^iai-callgrind-runner v$RUNNER_VERSION:"; then
  echo "[iai-gate] installing iai-callgrind-runner $RUNNER_VERSION (about 2 minutes, once)" >&2
  cargo install --quiet iai-callgrind-runner --version "$RUNNER_VERSION" --locked
fi

rm -rf target/iai/inferbench/hot_path
mkdir -p target
log=target/iai-hot-path.log
if ! cargo bench --locked --quiet --no-default-features --bench hot_path -- --save-summary=json >"$log" 2>&1; then
  cat "$log" >&2
  echo "[iai-gate] error: the hot-path benches failed to run (log above)" >&2
  exit 1
fi
exec python3 scripts/iai_gate.py "$@"
