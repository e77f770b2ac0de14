#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and run inferbench:
#   - a project-local Python venv (.venv) with torch==2.13.0, the libtorch that tch 0.26 expects;
#   - .venv/torch, a stable link to the wheel's torch folder, which .cargo/config.toml names as LIBTORCH.
#   - nvidia-cuda-crt, CUDA's crt/ headers, which `--features cuda` compiles with.
#   - with --torchvision: torchvision (the version that goes with that torch), numpy and
#     pillow in the same venv, for the scripts that set PyTorch's own figures beside
#     inferbench's (scripts/forward-vs-pytorch.sh).
# Idempotent: with everything in place it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="2.13.0"
TORCHVISION_VERSION="0.28.0"
WITH_TORCHVISION=0
for arg in "$@"; do
  case "$arg" in
    --torchvision) WITH_TORCHVISION=1 ;;
    *) printf '[setup] error: unknown option %s (known: --torchvision)\n' "$arg" >&2; exit 2 ;;
  esac
done
VENV=.venv
PYTHON=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*" >&2; }

torch_version_installed() {
  local f
  f=$(ls "$VENV"/lib/python3*/site-packages/torch/version.py 2>/dev/null | head -n1) || true
  [ -n "$f" ] || return 1
  sed -n "s/^__version__ = '\([^'+]*\).*/\1/p" "$f"
}

if ! command -v "$PYTHON" >/dev/null; then
  say "error: $PYTHON not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)"
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if [ "$(torch_version_installed || true)" != "$TORCH_VERSION" ]; then
  say "installing torch==$TORCH_VERSION into $VENV (about 5 GB, a minute or two)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
fi

torch_dir=$(dirname "$(ls "$VENV"/lib/python3*/site-packages/torch/version.py | head -n1)")
if [ "$(readlink "$VENV/torch" 2>/dev/null || true)" != "${torch_dir#"$VENV"/}" ]; then
  ln -sfn "${torch_dir#"$VENV"/}" "$VENV/torch"
fi
[ -f "$VENV/torch/lib/libtorch_cpu.so" ] || { say "error: $VENV/torch/lib/libtorch_cpu.so missing; delete $VENV and run again"; exit 1; }
say "libtorch $TORCH_VERSION ready at $VENV/torch"

# `--features cuda` compiles a shim that includes CUDA's runtime headers (the wheel's
# nvidia/cu13/include); those include the compiler-runtime headers (crt/), which the
# torch wheel's CUDA packages leave out and nvidia-cuda-crt holds (0.1 MB).
CUDA_CRT_VERSION="13.0.88"
if ! ls -d "$VENV"/lib/python3*/site-packages/nvidia/cu13/include/crt >/dev/null 2>&1; then
  say "installing nvidia-cuda-crt==$CUDA_CRT_VERSION (CUDA's crt/ headers) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "nvidia-cuda-crt==$CUDA_CRT_VERSION"
fi

if [ "$WITH_TORCHVISION" = 1 ]; then
  tv=$(ls -d "$VENV"/lib/python3*/site-packages/torchvision-"$TORCHVISION_VERSION".dist-info 2>/dev/null | head -n1 || true)
  if [ -z "$tv" ]; then
    say "installing torchvision==$TORCHVISION_VERSION, numpy and pillow into $VENV"
    # --no-deps: torchvision's own pin would otherwise be resolved against PyPI's torch again.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      "torchvision==$TORCHVISION_VERSION" numpy pillow
  fi
  say "torchvision $TORCHVISION_VERSION ready in $VENV"
fi
