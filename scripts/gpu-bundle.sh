#!/usr/bin/env bash
# Builds a folder that runs inferbench's GPU checks on a machine without network
# access or Rust, against that machine's own PyTorch/libtorch.
#
#   scripts/gpu-bundle.sh TORCH_VERSION [OUT_DIR]
#
# TORCH_VERSION is the target machine's torch version (python -c 'import torch;
# print(torch.__version__)', without the +cuXXX): 2.11.0 (tch 0.24) or 2.13.0 (tch 0.26).
# On this machine (with network) it:
#   1. installs torch==TORCH_VERSION --no-deps into .venv-torch-TORCH_VERSION (ignored),
#      borrowing the CUDA libraries of .venv when their CUDA major version matches
#      (they are only needed to link; the target brings its own);
#   2. copies the project into target/gpu-bundle/src-TORCH_VERSION with the tch pin
#      changed, and builds the CLI, the test executables and the criterion bench with
#      --features cuda (incremental on a second call);
#   3. strips them into OUT_DIR/bin, adds run-gpu-checks.sh with its PyTorch
#      reference (pytorch_reference.py) and summary (summarize.py), and checks the
#      folder is under 64 MiB.
# On the GPU machine:  OUT_DIR/run-gpu-checks.sh   (its header lists the options)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { printf '[gpu-bundle] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

version=${1:-}
case "$version" in
  2.11.0) tch=0.24.0 ;;
  2.13.0) tch=0.26.0 ;;
  "") die "usage: scripts/gpu-bundle.sh TORCH_VERSION [OUT_DIR]  (TORCH_VERSION: 2.11.0 or 2.13.0)" ;;
  *) die "torch $version has no tch release this crate builds with; supported: 2.11.0 (tch 0.24), 2.13.0 (tch 0.26)" ;;
esac
out=${2:-$root/target/gpu-bundle/inferbench-gpu-torch$version}
limit_bytes=$((64 * 1024 * 1024))
started=$(date +%s)
PYTHON=${PYTHON:-python3}

# 1. libtorch of the target's version.
venv=$root/.venv-torch-$version
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$PYTHON" -m venv "$venv"
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -f "$site/torch/version.py" ] || ! grep -q "^__version__ = '$version" "$site/torch/version.py"; then
  say "installing torch==$version --no-deps (about 1 GB)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "torch==$version"
fi
# The CUDA major version a torch wheel was built for (version.py: cuda: Optional[str] = '13.0').
cuda_of() { sed -n "s/^cuda[^=]*= '\([0-9]*\)\..*/\1/p" "$1/torch/version.py"; }
if [ ! -e "$site/nvidia" ]; then
  [ -x .venv/bin/python ] || scripts/setup.sh
  main_site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ -d "$main_site/nvidia" ] && [ -n "$(cuda_of "$site")" ] \
      && [ "$(cuda_of "$main_site")" = "$(cuda_of "$site")" ]; then
    say "linking the CUDA $(cuda_of "$site") libraries of .venv (same major version)"
    ln -s "$main_site/nvidia" "$site/nvidia"
  else
    say "installing torch==$version's CUDA libraries (several GB)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$version"
  fi
fi
libtorch=$site/torch
if ldd "$libtorch/lib/libtorch_cuda.so" | grep -q "not found"; then
  ldd "$libtorch/lib/libtorch_cuda.so" | grep "not found" >&2
  die "libtorch_cuda.so of torch $version does not resolve here"
fi

# 2. A scratch copy with the tch pin of that version, built with --features cuda.
src=$root/target/gpu-bundle/src-$version
rm -rf "$src"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$src"
sed -i "s/^tch = { version = \"[^\"]*\"/tch = { version = \"=$tch\"/" "$src/Cargo.toml"
grep -q "^tch = { version = \"=$tch\"" "$src/Cargo.toml" || die "could not change the tch pin in Cargo.toml"
(cd "$src" && cargo update --quiet -p tch --precise "$tch")
say "building against torch $version (tch $tch) with --features cuda"
build_json=$root/target/gpu-bundle/build-$version.json
(cd "$src" && env -u LIBTORCH_USE_PYTORCH LIBTORCH="$libtorch" \
  CARGO_TARGET_DIR="$root/target/gpu-bundle/target-$version" cargo build --release --features cuda --bins --tests --bench pipeline --message-format=json) \
  > "$build_json" || { grep -o '"rendered":"[^"]*' "$build_json" | tail -5 >&2; die "the build failed"; }

# 3. The folder: stripped executables and the check script.
rm -rf "$out"
mkdir -p "$out/bin"
"$PYTHON" - "$build_json" "$out/bin" <<'PY'
import json, shutil, sys
build, dest = sys.argv[1], sys.argv[2]
names = {}
for line in open(build):
    msg = json.loads(line)
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    target, test = msg["target"], msg["profile"]["test"]
    kind = target["kind"][0]
    if kind == "bin" and not test:
        name = target["name"]
    elif kind == "bench":
        name = f"bench-{target['name']}"
    elif test and kind == "lib":
        name = "test-lib"
    elif test and kind == "test":
        name = f"test-{target['name']}"
    else:
        continue
    names[name] = msg["executable"]
# Only what run-gpu-checks.sh runs: every test executable would not fit in 64 MiB.
wanted = {"inferbench", "bench-pipeline", "test-lib", "test-device_cli"}
for name, exe in sorted(names.items()):
    if name not in wanted:
        continue
    shutil.copy2(exe, f"{dest}/{name}")
    print(name)
PY
strip "$out"/bin/*
cp scripts/gpu/run-gpu-checks.sh scripts/gpu/pytorch_reference.py scripts/gpu/summarize.py "$out/"
chmod +x "$out/run-gpu-checks.sh"
cat > "$out/BUILD-INFO" <<INFO
inferbench $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo "+uncommitted")
built against torch $version with tch $tch, feature cuda
glibc needed: $(objdump -T "$out/bin/inferbench" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
INFO
size=$(du -sb "$out" | cut -f1)
say "bundle $out: $((size / 1024 / 1024)) MiB ($size bytes), built in $(( $(date +%s) - started )) s"
[ "$size" -lt "$limit_bytes" ] || die "the bundle is $size bytes, over the 64 MiB limit"
