#!/usr/bin/env bash
# The main job: installs what is missing (scripts/setup.sh), then runs the criterion
# suite (benches/pipeline.rs). INFERBENCH_PROFILE picks a built-in grid
# (benches/suites/NAME.toml): default (every axis at 32 px, minutes on 2 cores), full
# (the seed's grid at 224 px: hours on a CPU), ci; INFERBENCH_SUITE=FILE.toml runs your
# own (a sweep file with an optional [criterion] table).
# Extra arguments go to criterion, e.g. `scripts/bench.sh bs4` or `-- --save-baseline main`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo bench --locked --bench pipeline -- "$@"
