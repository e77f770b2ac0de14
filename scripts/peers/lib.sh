# Shared helpers for scripts/test-peers.sh and scripts/peers/*.sh (sourced, not run):
# servers started in their own process groups and always stopped on exit, bounded
# waits, free loopback ports, and inferbench serve's listening line.
#
# The sourcing script sets TAG (the prefix of its messages) and calls `peers_init`.

say() { printf '[%s] %s\n' "${TAG:-peers}" "$*" >&2; }
die() { say "error: $*"; exit 1; }

PEERS_PGIDS=()
PEERS_TMP=""

# Stops every process group this script started (SIGTERM, then SIGKILL after 5 s) and
# removes the scratch folder. Installed as the EXIT trap by peers_init.
peers_cleanup() {
  local status=$? pg i
  for pg in "${PEERS_PGIDS[@]}"; do
    kill -TERM -- "-$pg" 2>/dev/null || true
  done
  for pg in "${PEERS_PGIDS[@]}"; do
    for i in $(seq 50); do
      kill -0 -- "-$pg" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pg" 2>/dev/null || true
  done
  PEERS_PGIDS=()
  [ -n "$PEERS_TMP" ] && rm -rf "$PEERS_TMP"
  exit "$status"
}

peers_init() {
  trap peers_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  PEERS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/inferbench-peers.XXXXXX")
}

# start_bg NAME LOG CMD...: runs CMD in a new session (its own process group, so that
# a server's worker processes go with it), output to LOG; sets BG_PID.
start_bg() {
  local name=$1 log=$2; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  BG_PID=$!
  PEERS_PGIDS+=("$BG_PID")
  say "started $name (pid $BG_PID)"
}

# stop_bg PID: stops one process group started by start_bg, waits for it (10 s at most).
stop_bg() {
  local pg=$1 i
  kill -TERM -- "-$pg" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 -- "-$pg" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pg" 2>/dev/null || true
  wait "$pg" 2>/dev/null || true
  local kept=() p
  for p in "${PEERS_PGIDS[@]}"; do [ "$p" = "$pg" ] || kept+=("$p"); done
  PEERS_PGIDS=("${kept[@]}")
}

# free_port: a TCP port free on 127.0.0.1 now (for servers that cannot take port 0).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_line LOG PATTERN SECONDS PID: waits until LOG has a line matching PATTERN
# (grep -E); fails if PID exits first or the time runs out, showing the log's tail.
wait_for_line() {
  local log=$1 pattern=$2 secs=$3 pid=$4 deadline=$((SECONDS + $3))
  while ! grep -qE "$pattern" "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2; die "the process of $log exited before printing /$pattern/"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$log" >&2; die "no /$pattern/ in $log within ${secs}s"
    fi
    sleep 0.2
  done
}

# wait_http_ok URL SECONDS PID: waits until GET URL answers 200; returns 1 (with a
# message) if PID exits first or the time runs out.
wait_http_ok() {
  local url=$1 secs=$2 pid=$3 deadline=$((SECONDS + $2))
  until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then say "error: the server for $url exited before it was ready"; return 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then say "error: $url did not answer 200 within ${secs}s"; return 1; fi
    sleep 0.3
  done
}

# start_serve NAME LOG FLAGS...: `inferbench serve` on free loopback ports; waits (60 s
# at most) for its ready line and sets SERVE_PID, SERVE_HTTP (host:port), SERVE_GRPC
# (host:port, empty with --no-grpc), SERVE_REST_URL and SERVE_GRPC_URL.
start_serve() {
  local name=$1 log=$2; shift 2
  local grpc=(--grpc-port 0) a
  # serve refuses --grpc-port together with --no-grpc
  for a in "$@"; do [ "$a" = --no-grpc ] && grpc=(); done
  start_bg "$name" "$log" "$INFERBENCH" serve --host 127.0.0.1 --http-port 0 "${grpc[@]}" "$@"
  SERVE_PID=$BG_PID
  wait_for_line "$log" '^\[serve\] ready' 60 "$SERVE_PID"
  local line
  line=$(grep -m1 '^\[serve\] listening: ' "$log")
  SERVE_REST_URL=$(sed -n 's|^\[serve\] listening: \(http://[^,]*\).*|\1|p' <<<"$line")
  SERVE_GRPC_URL=$(sed -n 's|.*, \(grpc://[^ ]*\)$|\1|p' <<<"$line")
  SERVE_HTTP=$(sed -n 's|^http://\([^/]*\)/.*|\1|p' <<<"$SERVE_REST_URL")
  SERVE_GRPC=$(sed -n 's|^grpc://\([^/]*\)/.*|\1|p' <<<"$SERVE_GRPC_URL")
  [ -n "$SERVE_HTTP" ] || die "no REST address in: $line"
}

# need_inferbench: the release binary (these scripts build nothing themselves).
need_inferbench() {
  INFERBENCH=${INFERBENCH:-target/release/inferbench}
  [ -x "$INFERBENCH" ] || die "$INFERBENCH is missing: build it first (cargo build --release --bin inferbench), or set INFERBENCH"
}

# with_cpu FILE CMD...: runs CMD (its stdout and stderr as they are) and writes
# "CPU_SECONDS WALL_SECONDS" of CMD and its children to FILE; returns CMD's status.
with_cpu() {
  python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:])
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write(f"{ru.ru_utime + ru.ru_stime:.3f} {wall:.3f}\n")
sys.exit(rc)' "$@"
}

# load_now: the load averages, for the figures' context on a shared machine.
load_now() { cut -d' ' -f1-3 /proc/loadavg; }
