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
#   .peers/llama     only with --llama (and then only it, plus .peers/llm for the model's
#                    conversion): llama.cpp's `llama-server` (OpenAI-compatible, with a
#                    Prometheus /metrics endpoint), built from the llama.cpp source that
#                    PyPI's llama-cpp-python sdist vendors (checked by its sha256), with
#                    cmake from PyPI, nothing fetched at build time (no web UI, no TLS).
#                    About 10 minutes of compiling on 2 cores, once; ~500 MB.
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

LLAMA_CPP_PYTHON_VERSION="0.3.36"
LLAMA_CPP_PYTHON_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
LLAMA_CPP_PYTHON_URL="https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
CMAKE_VERSION="4.4.5"
if [ "${1:-}" = --llama ]; then
  "$0" --llm
  LLAMA=.peers/llama
  LLAMA_STAMP="$LLAMA/.built-llama-server-from-llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
  if [ ! -f "$LLAMA_STAMP" ]; then
    printf '[peers] building llama.cpp'"'"'s llama-server (llama-cpp-python %s sdist) into %s (about 10 minutes, once)\n' "$LLAMA_CPP_PYTHON_VERSION" "$LLAMA" >&2
    command -v g++ >/dev/null || { echo "[peers] error: no C++ compiler (Debian: apt-get install build-essential)" >&2; exit 1; }
    mkdir -p "$LLAMA"
    [ -x "$LLAMA/venv/bin/cmake" ] || {
      "${PYTHON:-python3}" -m venv "$LLAMA/venv"
      "$LLAMA/venv/bin/python" -m pip install --quiet --disable-pip-version-check "cmake==$CMAKE_VERSION"
    }
    sdist="$LLAMA/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
    if ! echo "$LLAMA_CPP_PYTHON_SHA256  $sdist" | sha256sum -c --quiet - >/dev/null 2>&1; then
      curl -sSfL -o "$sdist.part" "$LLAMA_CPP_PYTHON_URL"
      echo "$LLAMA_CPP_PYTHON_SHA256  $sdist.part" | sha256sum -c --quiet - \
        || { echo "[peers] error: $sdist does not have the sha256 PyPI lists" >&2; rm -f "$sdist.part"; exit 1; }
      mv "$sdist.part" "$sdist"
    fi
    rm -rf "$LLAMA/src" && mkdir -p "$LLAMA/src"
    tar xzf "$sdist" -C "$LLAMA/src" --strip-components=1
    src="$LLAMA/src/vendor/llama.cpp"
    # Nothing fetched while building: the web UI would come from huggingface
    # (LLAMA_USE_PREBUILT_UI), and TLS needs libssl-dev (LLAMA_OPENSSL); neither serves
    # loopback. GGML_NATIVE=OFF: a binary not tuned to this CPU; it still uses SSE4.2, AVX,
    # AVX2 and BMI2 (ggml's defaults then), so it needs an x86-64 CPU of the last decade.
    "$LLAMA/venv/bin/cmake" -S "$src" -B "$LLAMA/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
      -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
      -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
      -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_COMMIT="llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION" >"$LLAMA/configure.log" 2>&1 \
      || { tail -n 30 "$LLAMA/configure.log" >&2; exit 1; }
    nice -n 10 "$LLAMA/venv/bin/cmake" --build "$LLAMA/build" --target llama-server -j "$(nproc)" >"$LLAMA/build.log" 2>&1 \
      || { tail -n 30 "$LLAMA/build.log" >&2; exit 1; }
    "$LLAMA/build/bin/llama-server" --version >&2
    touch "$LLAMA_STAMP"
  fi
  printf '[peers] llama-server (llama.cpp of llama-cpp-python %s) ready in %s/build/bin\n' "$LLAMA_CPP_PYTHON_VERSION" "$LLAMA" >&2
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
