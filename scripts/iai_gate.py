#!/usr/bin/env python3
"""Compares iai-callgrind instruction counts with the committed baseline (see iai-gate.sh).

iai-callgrind's own baselines (--save-baseline / --baseline) live under target/iai as
callgrind output and its limits (--callgrind-limits) compare against whichever of them
is there: a fresh CI checkout has none, so its check would pass on nothing. What this
script adds is what those lack: a committed, reviewable file of counts per bench, a
change that must be both relative and absolute to fail, and a failure when a bench is
missing from the run or from the baseline. A baseline that is empty, cut short, zeroed
or without its schema is refused with one line, never compared against.
"""
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
SCHEMA = '{"benches": {"<function>.<id>": <instructions>, ...}}'


class GateError(Exception):
    """A problem with the gate's inputs: printed as one line, exit 2."""


def instructions(summary, path):
    try:
        metrics = summary["profiles"][0]["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"]
        side = metrics.get("Both", metrics.get("Left"))
        first = side[0] if isinstance(side, list) else side
        return int(first["Int"])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise GateError(f"{path} has no instruction count where iai-callgrind 0.16 puts it ({e!r}); is the runner 0.16.1?")


def current_counts(summaries):
    counts = {}
    for path in sorted(summaries.glob("**/summary.json")):
        try:
            summary = json.loads(path.read_text())
        except ValueError as e:
            raise GateError(f"{path} is not JSON ({e}); run the benches again")
        counts[f"{summary.get('function_name')}.{summary.get('id')}"] = instructions(summary, path)
    if not counts:
        raise GateError(f"no summaries under {summaries}; did the benches run?")
    return counts


def load_baseline(path):
    """The committed counts, or a GateError naming what is wrong with the file."""
    if not path.exists():
        raise GateError(f"no baseline at {path}; create it with scripts/iai-gate.sh --update")
    text = path.read_text()
    if not text.strip():
        raise GateError(f"baseline {path} is empty; restore it from git or run scripts/iai-gate.sh --update")
    try:
        record = json.loads(text)
    except ValueError as e:
        raise GateError(f"baseline {path} is not valid JSON, probably cut short ({e}); restore it from git")
    benches = record.get("benches") if isinstance(record, dict) else None
    if not isinstance(benches, dict):
        raise GateError(f"baseline {path} has no 'benches' table; expected {SCHEMA}")
    if not benches:
        raise GateError(f"baseline {path} lists no benches; run scripts/iai-gate.sh --update")
    bad = [name for name, count in benches.items() if not isinstance(count, int) or isinstance(count, bool) or count <= 0]
    if bad:
        raise GateError(f"baseline {path} has zero or non-integer counts for {', '.join(sorted(bad))}; run scripts/iai-gate.sh --update")
    return benches


def per_request(counts):
    if all(k in counts for k in PER_REQUEST_PATH):
        return sum(counts[k] for k in PER_REQUEST_PATH) / REQUESTS_PER_CALL
    return None


def compare(base, now, tolerance, min_delta, allow_new=False):
    """Rows of (bench, baseline, current, change %, verdict) and whether the gate fails.

    A bench regresses when it grew by more than `tolerance` percent *and* by more than
    `min_delta` instructions: on a bench of a few dozen instructions, a different
    inlining or register choice after an unrelated change moves the count by a handful,
    which is a large percentage but no cost anyone could measure."""
    rows, failed = [], False
    for name in sorted(set(base) | set(now)):
        b, c = base.get(name), now.get(name)
        if b is None:
            rows.append((name, None, c, None, "new (not in baseline)" if allow_new else "NEW: not in baseline"))
            failed = failed or not allow_new
            continue
        if c is None:
            rows.append((name, b, None, None, "MISSING from the run"))
            failed = True
            continue
        change = 100.0 * (c - b) / b
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


def write_baseline(path, now):
    zero = [name for name, count in now.items() if count <= 0]
    if zero:
        raise GateError(f"refusing to write a baseline with zero counts ({', '.join(zero)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "note": "Instruction counts (Ir) from scripts/iai-gate.sh --update; x64 benches handle 64 requests a call.",
        "benches": now,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    print(f"iai-gate: wrote {len(now)} benches to {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="write the current counts as the baseline")
    parser.add_argument("--tolerance", type=float, default=float(os.environ.get("IAI_TOLERANCE_PCT", "5")))
    parser.add_argument("--min-delta", type=int, default=int(os.environ.get("IAI_MIN_DELTA", "10")),
                        help="instructions a bench must grow by, beyond the percentage, to fail")
    parser.add_argument("--allow-new", action="store_true", default=os.environ.get("IAI_ALLOW_NEW") == "1",
                        help="do not fail on a bench that the baseline does not list (IAI_ALLOW_NEW=1)")
    parser.add_argument("--summaries", type=Path, default=SUMMARIES, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, default=BASELINE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        now = current_counts(args.summaries)
        if args.update:
            write_baseline(args.baseline, now)
        base = load_baseline(args.baseline)
    except GateError as e:
        print(f"iai-gate: error: {e}", file=sys.stderr)
        return 2
    rows, failed = compare(base, now, args.tolerance, args.min_delta, args.allow_new)
    width = max(len(r[0]) for r in rows)
    print(f"{'bench':<{width}}  {'baseline Ir':>12}  {'current Ir':>12}  {'change':>8}  verdict")
    for name, b, c, change, verdict in rows:
        print(f"{name:<{width}}  {fmt(b, '>12,')}  {fmt(c, '>12,')}  {fmt(change, '>+7.2f')}%  {verdict}")
    pr = per_request(now)
    if pr is not None:
        print(f"harness path per request (request_hop + collector_record): {pr:,.0f} instructions")
    if failed:
        print(f"iai-gate: FAILED: instructions grew more than {args.tolerance}% and {args.min_delta} Ir, "
              "or a bench is missing from the run or from the baseline (--allow-new for a new bench)")
        return 1
    print(f"iai-gate: passed (tolerance +{args.tolerance}% and {args.min_delta} Ir per bench)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
