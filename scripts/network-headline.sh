#!/usr/bin/env bash
# The seed's headline for one model: bare forward, in-process pipeline, and the same
# pipeline served over loopback REST (binary, JSON) and gRPC, measured in turns; each
# hop's throughput, p99, share of the loss, and what the front adds at low load.
# Flags: see scripts/network_headline.py --help. Builds the release binary first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --quiet --bin inferbench
exec python3 scripts/network_headline.py "$@"
