#!/usr/bin/env python3
"""Compares iai-callgrind instruction counts with the committed baseline (see iai-gate.sh)."""
import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARIES = ROOT / "target/iai/inferbench/hot_path"
BASELINE = ROOT / "criterion-baselines/iai/baseline.json"
REQUESTS_PER_CALL = 64  # benches named x64 handle this many requests per call
PER_REQUEST_PATH = ["request_hop.x64", "collector_record.x64"]  # the whole harness path, no batching


def instructions(summary):
    metrics = summary["profiles"][0]["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"]
    side = metrics.get("Both", metrics.get("Left"))
    first = side[0] if isinstance(side, list) else side
    return int(first["Int"])


def current_counts():
    counts = {}
    for path in sorted(SUMMARIES.glob("**/summary.json")):
        summary = json.loads(path.read_text())
        counts[f"{summary['function_name']}.{summary['id']}"] = instructions(summary)
    if not counts:
        sys.exit(f"iai-gate: no summaries under {SUMMARIES}; did the benches run?")
    return counts


def per_request(counts):
    if all(k in counts for k in PER_REQUEST_PATH):
        return sum(counts[k] for k in PER_REQUEST_PATH) / REQUESTS_PER_CALL
    return None


def compare(base, now, tolerance, min_delta):
    """Rows of (bench, baseline, current, change %, verdict) and whether the gate fails.

    A bench regresses when it grew by more than `tolerance` percent *and* by more than
    `min_delta` instructions: on a bench of a few dozen instructions, a different
    inlining or register choice after an unrelated change moves the count by a handful,
    which is a large percentage but no cost anyone could measure."""
    rows, failed = [], False
    for name in sorted(set(base) | set(now)):
        b, c = base.get(name), now.get(name)
        if b is None:
            rows.append((name, None, c, None, "new (not in baseline)"))
            continue
        if c is None:
            rows.append((name, b, None, None, "MISSING"))
            failed = True
            continue
        change = 100.0 * (c - b) / b if b else 0.0
        if change > tolerance and c - b > min_delta:
            verdict, failed = "REGRESSED", True
        elif change < -tolerance and b - c > min_delta:
            verdict = "improved"
        else:
            verdict = "ok"
        rows.append((name, b, c, change, verdict))
    return rows, failed


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="write the current counts as the baseline")
    parser.add_argument("--tolerance", type=float, default=float(os.environ.get("IAI_TOLERANCE_PCT", "5")))
    parser.add_argument("--min-delta", type=int, default=int(os.environ.get("IAI_MIN_DELTA", "10")),
                        help="instructions a bench must grow by, beyond the percentage, to fail")
    args = parser.parse_args()
    now = current_counts()
    if args.update:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "note": "Instruction counts (Ir) from scripts/iai-gate.sh --update; x64 benches handle 64 requests a call.",
            "benches": now,
        }
        tmp = BASELINE.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        tmp.replace(BASELINE)
        print(f"iai-gate: wrote {len(now)} benches to {BASELINE.relative_to(ROOT)}")
    if not BASELINE.exists():
        sys.exit(f"iai-gate: no baseline at {BASELINE}; create it with scripts/iai-gate.sh --update")
    base = json.loads(BASELINE.read_text())["benches"]
    rows, failed = compare(base, now, args.tolerance, args.min_delta)
    width = max(len(r[0]) for r in rows)
    print(f"{'bench':<{width}}  {'baseline Ir':>12}  {'current Ir':>12}  {'change':>8}  verdict")
    for name, b, c, change, verdict in rows:
        print(f"{name:<{width}}  {fmt(b, '>12,')}  {fmt(c, '>12,')}  {fmt(change, '>+7.2f')}%  {verdict}")
    pr = per_request(now)
    if pr is not None:
        print(f"harness path per request (request_hop + collector_record): {pr:,.0f} instructions")
    if failed:
        print(f"iai-gate: FAILED: instructions grew more than {args.tolerance}% and {args.min_delta} Ir (or a bench is missing)")
        return 1
    print(f"iai-gate: passed (tolerance +{args.tolerance}% and {args.min_delta} Ir per bench)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
