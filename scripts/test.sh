#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), then runs every
# test. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

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

