#!/usr/bin/env bash
# Installs the peers that inferbench is checked against (software nobody here wrote),
# for scripts/test-peers.sh and scripts/peers/*.sh. Idempotent: with everything in
# place it returns in well under a second.
#
#   .peers/oip       MLServer and the official Triton client (tritonclient[http,grpc]):
#                    one venv, their pins agree (MLServer itself needs tritonclient[http]);
#                    uvloop pinned below MLServer's breakage
#   .peers/litserve  LitServe; it uses .venv's torch through a .pth file (torch is never
#                    installed twice, and nothing is installed into .venv by this script
#                    beyond what scripts/setup.sh --torchvision puts there)
#   wrk              the Debian package, through scripts/need-debian-package.sh
#   .peers/llm       only with --llm (and then only it): transformers[serving], whose
#                    `transformers serve` is an OpenAI-compatible LLM server (streams over
#                    server-sent events), for scripts/peers/llm-curve.sh. Its extra pins
#                    torch>=2.6 and pip brings its own (about 5.6 GB in all, a few
#                    minutes); .venv's is never touched.
#
# .peers/ is ignored by git. Delete a venv to have it installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

TRANSFORMERS_VERSION="5.23.0"
if [ "${1:-}" = --llm ]; then
  LLM=.peers/llm
  LLM_STAMP="$LLM/.installed-transformers-serving-$TRANSFORMERS_VERSION"
  if [ ! -f "$LLM_STAMP" ]; then
    printf '[peers] installing transformers[serving]==%s into %s (a few minutes, ~5.6 GB)\n' "$TRANSFORMERS_VERSION" "$LLM" >&2
    mkdir -p .peers
    [ -x "$LLM/bin/python" ] || "${PYTHON:-python3}" -m venv "$LLM"
    "$LLM/bin/python" -m pip install --quiet --disable-pip-version-check "transformers[serving]==$TRANSFORMERS_VERSION"
    "$LLM/bin/python" -c 'import transformers, fastapi, uvicorn, torch, tokenizers' \
      || { echo "[peers] error: transformers serve's packages do not import in $LLM" >&2; exit 1; }
    touch "$LLM_STAMP"
  fi
  printf '[peers] transformers %s (serve) ready in %s\n' "$TRANSFORMERS_VERSION" "$LLM" >&2
  exit 0
fi

MLSERVER_VERSION="1.7.1"
TRITONCLIENT_VERSION="2.73.0"
# MLServer 1.7.1's inference workers call asyncio.get_event_loop() before any loop
# exists; uvloop 0.22 made that an error ("There is no current event loop"), so every
# model fails to load. The uvloop of its time works.
UVLOOP_VERSION="0.21.0"
LITSERVE_VERSION="0.2.19"
PEERS=.peers
PYTHON=${PYTHON:-python3}

say() { printf '[peers] %s\n' "$*" >&2; }

# .venv with torch, torchvision, numpy and pillow: the reference forwards, the ResNet-18
# file LitServe and inferbench serve, and LitServe's torch.
scripts/setup.sh --torchvision

command -v "$PYTHON" >/dev/null || { say "error: $PYTHON not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)"; exit 1; }

# make_venv DIR: a venv at DIR (created once).
make_venv() {
  [ -x "$1/bin/python" ] && return 0
  mkdir -p "$PEERS"
  "$PYTHON" -m venv "$1" || { say "error: cannot create $1 (Debian: apt-get install python3-venv)"; rm -rf "$1"; exit 1; }
}

pip_install() {
  local venv=$1; shift
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# --- MLServer + tritonclient ----------------------------------------------------------
OIP=$PEERS/oip
OIP_STAMP="$OIP/.installed-mlserver-$MLSERVER_VERSION-tritonclient-$TRITONCLIENT_VERSION-uvloop-$UVLOOP_VERSION"
if [ ! -f "$OIP_STAMP" ]; then
  say "installing mlserver==$MLSERVER_VERSION and tritonclient[http,grpc]==$TRITONCLIENT_VERSION into $OIP (half a minute)"
  make_venv "$OIP"
  pip_install "$OIP" "mlserver==$MLSERVER_VERSION" "tritonclient[http,grpc]==$TRITONCLIENT_VERSION" \
    "uvloop==$UVLOOP_VERSION"
  if ! broken=$("$OIP/bin/python" -m pip check --disable-pip-version-check); then
    say "error: $OIP has broken requirements:"; printf '%s\n' "$broken" >&2; exit 1
  fi
  # Two processes: both packages register the same protobuf package (inference.*), so
  # mlserver and tritonclient.grpc cannot be imported into one interpreter (nor need to be).
  "$OIP/bin/python" -c 'import mlserver, mlserver.grpc' || { say "error: mlserver does not import in $OIP"; exit 1; }
  "$OIP/bin/python" -c 'import tritonclient.http, tritonclient.grpc, numpy' \
    || { say "error: tritonclient does not import in $OIP"; exit 1; }
  touch "$OIP_STAMP"
fi
say "mlserver $MLSERVER_VERSION, tritonclient $TRITONCLIENT_VERSION ready in $OIP"

# --- LitServe on .venv's torch ------------------------------------------------------------
LIT=$PEERS/litserve
LIT_STAMP="$LIT/.installed-litserve-$LITSERVE_VERSION"
if [ ! -f "$LIT_STAMP" ]; then
  say "installing litserve==$LITSERVE_VERSION into $LIT (seconds)"
  make_venv "$LIT"
  # Installed before the .pth exists, so that pip never sees (and never touches) .venv's
  # packages; litserve does not depend on torch.
  pip_install "$LIT" "litserve==$LITSERVE_VERSION"
  site=$("$LIT/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  torch_site=$(dirname "$(cd .venv/torch && pwd -P)")
  # A relative path (site.py joins it to the site-packages folder), so the checkout can move.
  rel=$("$PYTHON" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$torch_site" "$site")
  # Appended to sys.path after the venv's own folder: the venv's packages come first.
  printf '%s\n' "$rel" >"$site/inferbench-venv-torch.pth"
  LITSERVE_VERSION=$LITSERVE_VERSION "$LIT/bin/python" - <<'EOF' || { say "error: litserve with .venv's torch does not import in $LIT"; exit 1; }
import os, litserve, torch, torchvision
assert litserve.__version__ == os.environ["LITSERVE_VERSION"], litserve.__version__
assert "/.venv/" in torch.__file__, f"torch from {torch.__file__}, not from .venv"
print(f"[peers] litserve {litserve.__version__} imports torch {torch.__version__} and torchvision {torchvision.__version__} from .venv")
EOF
  touch "$LIT_STAMP"
fi
say "litserve $LITSERVE_VERSION ready in $LIT (torch from .venv)"

# --- wrk ----------------------------------------------------------------------------------
scripts/need-debian-package.sh wrk wrk peers
say "wrk ready ($(command -v wrk))"
