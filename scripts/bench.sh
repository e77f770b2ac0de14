#!/usr/bin/env bash
# The main job: installs what is missing (scripts/setup.sh), then runs the benchmark
# suite's default profile. Extra arguments go to the benchmark harness.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --bin inferbench
target/release/inferbench run "$@"
