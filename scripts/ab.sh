#!/usr/bin/env bash
# Paired A/B of two revisions in one job: builds both, then runs `inferbench ab`
# (each side runs its own binary, A B B A …; this working tree's binary drives).
#
#   scripts/ab.sh BASE_REV [HEAD_REV] [-- ab options]
#
# BASE_REV, HEAD_REV: anything `git rev-parse` takes (main, origin/main, HEAD~3, a sha).
# Without HEAD_REV the head is this working tree as it is, uncommitted changes included.
# Each revision is checked out as a git worktree under target/ab/ and built with its
# own CARGO_TARGET_DIR (target/ab/<side>-target), kept between calls so that a second
# call rebuilds only what changed (cache target/ab/*-target in CI).
#
# ab options (see `inferbench ab --help`); the default compares one ResNet-18
# configuration with a 3-minute cap:
#   --run "FLAGS"       a configuration as `run` flags (repeat for several)
#   --threshold PCT     a change counts when its whole interval is beyond it (default 2)
#   --max-time 180s     no block starts after this
#   --json-dir DIR      github-action-benchmark files
#
# Exit status: 0 nothing regressed; 1 a regression beyond the threshold; 2 the
# comparison could not be made (a build or a run failed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

usage() { sed -n '2,21p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
BASE_REV=$1; shift
HEAD_REV=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then HEAD_REV=$1; shift; fi
[ "${1:-}" = "--" ] && shift
AB_ARGS=("$@")
if [ ${#AB_ARGS[@]} -eq 0 ]; then
  AB_ARGS=(--run "--model resnet18 --image-size 32 --iters 40" --max-time 180s)
fi

say() { printf '[ab.sh] %s\n' "$*" >&2; }
fail() { say "error: $*"; exit 2; }

# Bad revisions fail now, before any build.
for rev in "$BASE_REV" ${HEAD_REV:+"$HEAD_REV"}; do
  git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || fail "'$rev' is not a revision"
done

scripts/setup.sh || fail "setup failed"
# The worktrees have no .venv of their own: point them at this checkout's libtorch.
export LIBTORCH="${LIBTORCH:-$ROOT/.venv/torch}"

# Builds revision $2 into target/ab/$1-target; prints the binary's path.
build_rev() {
  local side=$1 rev=$2 sha src
  sha=$(git rev-parse --verify --quiet "$rev^{commit}") || fail "'$rev' is not a revision"
  src="$ROOT/target/ab/$side-src"
  if [ -d "$src" ]; then
    git -C "$src" checkout --quiet --detach "$sha" || fail "cannot check out $rev in $src"
  else
    git worktree prune
    git worktree add --quiet --detach "$src" "$sha" || fail "cannot create a worktree of $rev"
  fi
  say "building $side = $rev (${sha:0:12})"
  (cd "$src" && CARGO_TARGET_DIR="$ROOT/target/ab/$side-target" \
    cargo build --release --locked --quiet --bin inferbench) >&2 || fail "the build of $rev failed"
  echo "$ROOT/target/ab/$side-target/release/inferbench"
}

# The driver is this working tree's binary: it has `ab`, whatever the revisions have.
say "building the driver (and the head without HEAD_REV) from this working tree"
cargo build --release --locked --quiet --bin inferbench >&2 || fail "the build of the working tree failed"
DRIVER="$ROOT/target/release/inferbench"
BASE_BIN=$(build_rev base "$BASE_REV")
if [ -n "$HEAD_REV" ]; then
  HEAD_BIN=$(build_rev head "$HEAD_REV")
else
  HEAD_BIN=$DRIVER
fi

# A revision older than windowed A/B has no `serve-windows`: fall back to a fresh
# process per run for both sides (noisier; the table says how far it can see).
if [[ " ${AB_ARGS[*]} " != *" --process-per-run "* ]]; then
  for bin in "$BASE_BIN" "$HEAD_BIN"; do
    if ! "$bin" serve-windows --help >/dev/null 2>&1; then
      say "$bin has no serve-windows (an older revision): every run a fresh process (--process-per-run)"
      AB_ARGS+=(--process-per-run)
      break
    fi
  done
fi

set +e
"$DRIVER" ab --base "$BASE_BIN" --head "$HEAD_BIN" "${AB_ARGS[@]}"
status=$?
set -e
exit $status
