#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), then runs every
# test. This is what CI runs (.ci/run).
#
#   scripts/test.sh               the suite
#   scripts/test.sh --cpu-hog     the suite on a busy machine: one `yes > /dev/null`
#                                 per core (nproc) runs from before the first test
#                                 to the end (also INFERBENCH_TEST_HOG=1)
#
# No test asserts a timing that a busy machine can break (issue 28): --cpu-hog is
# how to check that. The timing figures themselves are scripts/timing-figures.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."

HOG=${INFERBENCH_TEST_HOG:-0}
for arg in "$@"; do
  case "$arg" in
    --cpu-hog) HOG=1 ;;
    *) printf 'test.sh: unknown option %s (known: --cpu-hog)\n' "$arg" >&2; exit 2 ;;
  esac
done

scripts/setup.sh

# The hog: its processes are stopped on any exit (a failing test, Ctrl-C, kill). Should
# this script be killed outright (SIGKILL), a watchdog stops them within a second: it
# looks for this script every second, waiting on a pipe that nothing writes to (a
# builtin `read -t`, so no `sleep` is left behind when it ends).
HOG_PIDS=()
stop_hog() {
  [ "${#HOG_PIDS[@]}" -gt 0 ] || return 0
  kill "${HOG_PIDS[@]}" 2>/dev/null || true
  wait "${HOG_PIDS[@]}" 2>/dev/null || true
  echo "== cpu hog: stopped ${#HOG_PIDS[@]} 'yes > /dev/null' (pids ${HOG_PIDS[*]})"
  HOG_PIDS=()
}
if [ "$HOG" = 1 ]; then
  trap stop_hog EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for _ in $(seq "$(nproc)"); do
    yes > /dev/null &
    HOG_PIDS+=("$!")
  done
  exec {HOG_WATCH}> >(
    while kill -0 $$ 2>/dev/null; do read -r -t 1 _ || true; done
    kill "${HOG_PIDS[@]}" 2>/dev/null
  )
  echo "== cpu hog: started ${#HOG_PIDS[@]} 'yes > /dev/null', one per core of $(nproc) (pids ${HOG_PIDS[*]})"
fi

# First: libtorch-free, a few minutes, and it compiles the benches, which no test does.
echo "== instruction-count gate (iai-callgrind, libtorch-free)"
scripts/iai-gate.sh

echo "== cargo test (release profile, shared with cargo bench)"
cargo test --release --locked

echo "== peers: the official Triton client against inferbench serve; run --target against MLServer (REST, gRPC)"
scripts/test-peers.sh

echo "== feature cuda: the C++ stream shim builds and links; without a GPU every CUDA call is a clean error"
cargo test --release --locked --features cuda --lib device::
cargo test --release --locked --features cuda --test device_cli

echo "== criterion suite, fast mode: every measurement of one small configuration runs once"
INFERBENCH_PROFILE=ci cargo bench --locked --bench pipeline -- --test

echo "== deployment: hadolint on deploy/Dockerfile, Kubernetes schemas on deploy/k8s (offline)"
scripts/deploy-lint.sh

