#!/usr/bin/env bash
# Opens criterion's HTML report in headless Chromium and checks that it renders:
# the index lists every benchmark criterion ran, and each benchmark's page shows its
# estimates in the measurement's own unit (ms for time and latency percentiles,
# "% CPU" / "% GPU" for utilisation), never in criterion's default "ns".
#
#   scripts/check-html.sh [CRITERION_DIR]     (default: $CRITERION_HOME or target/criterion)
#
# Installs Debian's chromium if it is missing (root only). Takes a screenshot of the
# index and of one page of each measurement into target/html-check/ to look at.
# Not part of scripts/test.sh: Chromium is a large install and this needs a bench run.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-${CRITERION_HOME:-target/criterion}}"
SHOTS=target/html-check

scripts/need-debian-package.sh chromium chromium check-html
if [ ! -f "$DIR/report/index.html" ]; then
  echo "[check-html] error: no $DIR/report/index.html; run cargo bench --bench pipeline first" >&2
  exit 1
fi

# Flags for a browser with no display, no sandbox (containers), and no network.
CHROMIUM=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage
  --disable-background-networking --disable-component-update --disable-sync
  --no-first-run --no-default-browser-check --hide-scrollbars --mute-audio)

dom() { timeout 60 "${CHROMIUM[@]}" --dump-dom "file://$(realpath "$1")" 2>/dev/null; }
shot() {
  timeout 60 "${CHROMIUM[@]}" --window-size=1280,1600 --screenshot="$(realpath -m "$2")" \
    "file://$(realpath "$1")" >/dev/null 2>&1
  [ -s "$2" ] || { echo "[check-html] FAIL: no screenshot of $1" >&2; return 1; }
}

failures=0
fail() { echo "[check-html] FAIL: $*" >&2; failures=$((failures + 1)); }
rm -rf "$SHOTS" && mkdir -p "$SHOTS"

index_dom=$(dom "$DIR/report/index.html") || fail "chromium could not open the index"
shot "$DIR/report/index.html" "$SHOTS/index.png" || failures=$((failures + 1))

pages=0
declare -A shot_taken=()
while IFS= read -r meta; do
  bench_dir=$(dirname "$(dirname "$meta")")
  rel=${bench_dir#"$DIR"/}
  function_id=$(basename "$bench_dir")
  page="$bench_dir/report/index.html"
  pages=$((pages + 1))
  grep -qF "../$rel/report/index.html" <<<"$index_dom" || fail "index does not link $rel"
  [ -f "$page" ] || { fail "no page for $rel"; continue; }
  page_dom=$(dom "$page") || { fail "chromium could not open $page"; continue; }
  mean_row=$(grep -A3 '<td>Mean</td>' <<<"$page_dom" | tr -s ' \n' ' ')
  case "$function_id" in
    time | p[0-9]*) unit_re='[0-9.]+ (ms|µs|s)<' ;;
    *-util) unit_re='[0-9.]+ % (CPU|GPU)<' ;;
    *) continue ;;
  esac
  grep -Eq "$unit_re" <<<"$mean_row" || fail "$rel: the mean is not shown in its unit: $mean_row"
  grep -Eq '[0-9.]+ ns<' <<<"$mean_row" && fail "$rel: shows ns"
  if [ -z "${shot_taken[$function_id]:-}" ]; then
    shot "$page" "$SHOTS/$function_id.png" || failures=$((failures + 1))
    shot_taken[$function_id]=1
  fi
done < <(find "$DIR" -path '*/new/benchmark.json' | sort)

if [ "$pages" = 0 ]; then
  fail "no benchmark results under $DIR"
fi
if [ "$failures" -gt 0 ]; then
  echo "[check-html] $failures problem(s) in $pages benchmark pages" >&2
  exit 1
fi
echo "[check-html] ok: the index lists all $pages benchmarks; every page renders with its unit; screenshots in $SHOTS/"
