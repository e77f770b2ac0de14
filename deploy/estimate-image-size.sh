#!/usr/bin/env bash
# Estimates the runtime image of deploy/Dockerfile without a container runtime: the
# same library selection (collect-runtime-libs.sh) applied to this machine's build
# against the same torch wheel, plus the stripped binary. With --compressed it also
# gzips them (level 6, as registries store layers) to estimate what a node pulls;
# that takes a few minutes for ~3 GB. The base image (debian:bookworm-slim) is not
# here to measure and is added by the reader (Docker Hub lists about 75 MB unpacked,
# 28 MB compressed).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/inferbench
[ -x "$bin" ] || { echo "estimate-image-size: build first: cargo build --release --bin inferbench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
strip -o "$tmp/inferbench" "$bin"
deploy/collect-runtime-libs.sh "$bin" - > "$tmp/libs"
libs_bytes=$(xargs -a "$tmp/libs" stat -L -c '%s' | awk '{s += $1} END {printf "%.0f", s}')
bin_bytes=$(stat -c '%s' "$tmp/inferbench")
mb() { awk -v b="$1" 'BEGIN {printf "%.0f MB", b / 1e6}'; }
echo "libraries: $(wc -l < "$tmp/libs") files, $(mb "$libs_bytes") unpacked"
echo "binary (stripped): $(mb "$bin_bytes")"
echo "largest:"
xargs -a "$tmp/libs" stat -L -c '%s %n' | sort -rn | head -6 \
  | awk '{n = split($2, p, "/"); printf "  %6.0f MB  %s\n", $1 / 1e6, p[n]}'
echo "image layers above the base: $(mb $((libs_bytes + bin_bytes))) unpacked"
if [ "${1:-}" = "--compressed" ]; then
  gz=$( { cat "$tmp/libs"; echo "$tmp/inferbench"; } | tar -chf - -T - 2>/dev/null | gzip -6 | wc -c)
  echo "image layers above the base: $(mb "$gz") compressed (gzip -6)"
fi
