#!/usr/bin/env bash
# How far `inferbench ab` can be trusted on this machine: runs the same A/B job N
# times and counts its verdicts. Use it with one binary on both sides (A/A: every
# "regressed"/"improved" is a false alarm) or with a known change (a spin model with
# a longer forward on one side: every "regressed" is a detection).
#
#   scripts/ab-calibration.sh N OUT_DIR -- AB_FLAGS...
#   scripts/ab-calibration.sh 20 results/aa-spin -- --run "--model spin:5ms --iters 30" --max-time 180s
#   scripts/ab-calibration.sh 20 results/det-spin -- --run "--iters 30" \
#       --base-args "--model spin:5ms" --head-args "--model spin:5.15ms" --max-time 180s
#
# Each job's JSON report goes to OUT_DIR/job-K.json; the summary (per figure: how
# many jobs called it regressed, improved, within noise; the jobs' wall times; and
# the change each job would have called 19 times out of 20, its `detectable`: the
# median and the worst over the jobs) is printed and written to OUT_DIR/summary.md.
# Check the detectable figure against a known change: a spin that much longer on
# one side should come out "regressed" in 19 jobs of 20.
# INFERBENCH_BIN picks the binary (default target/release/inferbench).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: scripts/ab-calibration.sh N OUT_DIR -- AB_FLAGS...}
out=${2:?usage: scripts/ab-calibration.sh N OUT_DIR -- AB_FLAGS...}
shift 2
[ "${1:-}" = "--" ] && shift
bin=${INFERBENCH_BIN:-target/release/inferbench}
[ -x "$bin" ] || { echo "ab-calibration: no binary at $bin (cargo build --release)" >&2; exit 2; }
mkdir -p "$out"
for k in $(seq "$n"); do
  printf '[ab-calibration] job %d/%d\n' "$k" "$n" >&2
  status=0
  "$bin" ab --base "$bin" --head "$bin" --json --quiet "$@" > "$out/job-$k.json.tmp" || status=$?
  [ "$status" -le 1 ] || { echo "ab-calibration: job $k could not compare (exit $status)" >&2; exit 2; }
  mv "$out/job-$k.json.tmp" "$out/job-$k.json"
done
python3 - "$out" "$n" "$*" <<'PY' | tee "$out/summary.md"
import glob, json, statistics, sys
out, n, flags = sys.argv[1], int(sys.argv[2]), sys.argv[3]
jobs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/job-*.json"))]
print(f"# {len(jobs)} jobs of `inferbench ab {flags}`\n")
walls = sorted(j["wall_s"] for j in jobs)
blocks = sorted(c["figures"][0]["blocks"] for j in jobs for c in j["configurations"] if c["figures"])
stops = {}
for j in jobs:
    stops[j["stopped"]] = stops.get(j["stopped"], 0) + 1
print(f"wall time per job: median {statistics.median(walls):.0f} s, max {walls[-1]:.0f} s; stopped: {stops}; "
      f"blocks per configuration: {blocks[0]}-{blocks[-1]}\n")
print("| configuration | figure | regressed | improved | within noise | settled | median change | detectable: median | detectable: worst |")
print("|---|---|---|---|---|---|---|---|---|")
rows = {}
for j in jobs:
    for c in j["configurations"]:
        for f in c["figures"]:
            rows.setdefault((c["id"], f["figure"]), []).append(f)
for (cid, fig), fs in rows.items():
    count = lambda v: sum(1 for f in fs if f["verdict"] == v)
    det = sorted(f["detectable"] for f in fs if f.get("detectable") is not None)
    q = det[-1] if det else None
    points = [f["change"]["point"] for f in fs if f.get("change")]
    pct = lambda v: "absent" if v is None else f"{100 * v:.1f} %"
    print(f"| {cid} | {fig} | {count('regressed')} | {count('improved')} | {count('within_noise')} "
          f"| {sum(1 for f in fs if f['settled'])} | {pct(statistics.median(points) if points else None)} "
          f"| {pct(statistics.median(det) if det else None)} | {pct(q)} |")
PY
