#!/bin/sh
# Copies into DEST the shared libraries that BINARY loads at run time and the runtime
# image's base system lacks, and nothing else:
#   - its ldd closure outside the system folders: libtorch (libtorch_cpu, libtorch_cuda,
#     libc10, libc10_cuda, libgomp, ...) and the CUDA libraries of the torch wheel's
#     nvidia-* packages (cudart, cuBLAS, cuFFT, cuRAND, cuSPARSE, NCCL, cuDNN, ...);
#   - what libtorch opens later with dlopen, which ldd cannot see: cuDNN's engine
#     libraries (libcudnn_*.so.9) and NVRTC's builtins (the TorchScript GPU fuser).
# The GPU driver (libcuda, libnvidia-ml) is not copied: the NVIDIA container runtime
# mounts the node's own.
# Usage: collect-runtime-libs.sh BINARY DEST   (DEST "-" lists the files instead)
set -eu
bin=$1
dest=$2

closure() {
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' \
    | grep -Ev '^/(usr/)?lib(64)?/' || true
}

# The folders the closure came from, for the dlopen'ed neighbours.
dlopened() {
  closure | while read -r lib; do
    dir=$(dirname "$lib")
    ls "$dir"/libcudnn_*.so.9 "$dir"/libnvrtc-builtins.so.* 2>/dev/null || true
  done
}

files=$( { closure; dlopened; } | sort -u)
missing=$(ldd "$bin" | awk '/not found/ { print $1 }')
if [ -n "$missing" ]; then
  echo "collect-runtime-libs: $bin needs libraries ldd cannot find: $missing" >&2
  exit 1
fi

if [ "$dest" = "-" ]; then
  printf '%s\n' "$files"
  exit 0
fi
mkdir -p "$dest"
for f in $files; do
  cp -L "$f" "$dest/"
done
