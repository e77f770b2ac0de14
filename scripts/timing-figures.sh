#!/usr/bin/env bash
# The timing figures that the test suite does not assert (issue 28), measured,
# printed, and held against their goals: how close the pipeline comes to the known
# answers of the spin model (throughput of a burst, a burst's slope, the overhead at
# concurrency 1, an overloaded open loop) and to queueing theory (the server against
# an ideal FIFO queue on the same arrivals, and against the M/D/1 formula; the
# default parking server against M/D/1 with its measured wake-ups as a setup time).
#
# They depend on what else the machine runs: a busy machine inflates every one of
# them, so scripts/test.sh asserts only what load cannot change (bounds, counts,
# orders) and this script reports the figures. Run it on a quiet machine; it prints
# the load average before and after, so a miss on a busy one says so.
#
#   scripts/timing-figures.sh            (about two minutes; builds two test binaries)
#
# Every figure is printed on a line starting with [figure]. Exits 1 if one missed
# its goal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

load() {
  printf '[timing-figures] load average %s on %s cores (%s)\n' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$1"
}

load before
status=0
# The #[ignore]d tests are these figures; one at a time, so they do not share cores.
cargo test --release --locked --test suite \
  -- --ignored --nocapture --test-threads 1 spin_calibration:: open_loop_theory:: wake_up_theory:: || status=1
load after
if [ "$status" -ne 0 ]; then
  echo "[timing-figures] a figure missed its goal (above); on a loaded machine that is the load's"
fi
exit "$status"
