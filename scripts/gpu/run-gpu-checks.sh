#!/usr/bin/env bash
# inferbench's GPU checks, from the bundle scripts/gpu-bundle.sh builds. Run on the
# GPU machine with LD_LIBRARY_PATH at that machine's torch libraries:
#
#   LD_LIBRARY_PATH=$(python -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib \
#     ./run-gpu-checks.sh
#
# Writes everything into $OUT (or ./gpu-results next to this script): checks.log,
# the library check, test output, one JSON report per run, runs.jsonl, and the
# criterion output of the `gpu` profile. Stops at the first failed check; the whole
# script keeps within BUDGET_S seconds (default 570, for a 10-minute slot).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/bin
out=${OUT:-$here/gpu-results}
budget=${BUDGET_S:-570}
started=$(date +%s)
mkdir -p "$out"
log() { printf '[gpu-checks %3ds] %s\n' "$(( $(date +%s) - started ))" "$*" | tee -a "$out/checks.log" >&2; }
fail() { log "FAILED: $1"; exit "${2:-1}"; }
left() { echo $(( budget - ($(date +%s) - started) )); }
# Runs a step with the time left (at most $1 s), its output in $out/$2.
step() {
  local cap=$1 name=$2; shift 2
  local t; t=$(left); [ "$t" -gt "$cap" ] && t=$cap
  [ "$t" -gt 5 ] || fail "out of time before $name"
  log "$name (up to ${t}s)"
  timeout "$t" "$@" > "$out/$name.out" 2> "$out/$name.err"
}

log "bundle: $(tr '\n' ' ' < "$here/BUILD-INFO")"
[ -n "${LD_LIBRARY_PATH:-}" ] || fail "LD_LIBRARY_PATH is not set: point it at the target's torch/lib (see the top of this script)"

# 1. Every executable resolves every library, libtorch_cuda.so included (without it
#    libtorch never sees the GPU).
: > "$out/ldd.txt"
for exe in "$bin"/*; do
  ldd "$exe" > "$out/ldd-$(basename "$exe").txt" 2>&1
  if grep -q "not found" "$out/ldd-$(basename "$exe").txt"; then
    grep "not found" "$out/ldd-$(basename "$exe").txt" | tee -a "$out/ldd.txt" >&2
    fail "$(basename "$exe"): libraries not found (is LD_LIBRARY_PATH the target's torch/lib?)"
  fi
  grep -q "libtorch_cuda.so" "$out/ldd-$(basename "$exe").txt" \
    || fail "$(basename "$exe") does not link libtorch_cuda.so"
done
log "libraries: every executable resolves ($(ls "$bin" | wc -l) executables)"
command -v nvidia-smi >/dev/null && nvidia-smi > "$out/nvidia-smi.txt" 2>&1

# 2. Is there a GPU? The CLI's own refusal says why not.
if ! "$bin/inferbench" run -q --json --device cuda --model spin:1ms --iters 3 --no-bare \
      --out "$out/probe.jsonl" > "$out/probe.out" 2> "$out/probe.err"; then
  rm -f "$out/probe.jsonl"
  fail "no GPU: $(tail -n1 "$out/probe.err")" 3
fi
rm -f "$out/probe.jsonl"
log "GPU: $(grep -o '"device": *"[^"]*"' "$out/probe.out" | head -1)"

# 3. The CUDA tests: the shim, the device, the stage ordering, the CLI.
export INFERBENCH_BIN=$bin/inferbench
step 120 test-lib "$bin/test-lib" device:: pipeline::ordering placement model::prepare \
  || fail "unit tests (see test-lib.out)"
step 120 test-device_cli "$bin/test-device_cli" || fail "CLI device tests (see test-device_cli.out)"
log "tests passed"

# 4. One run per layout and precision (ResNet-18, 224 px), each with its bare-forward
#    limit; bs 256 with 2 and 4 workers for the utilisation figures.
run() {
  local name=$1; shift
  step 90 "run-$name" "$bin/inferbench" run -q --json --device cuda --model resnet18 \
    --image-size 224 --out "$out/runs.jsonl" "$@" \
    && cp "$out/run-$name.out" "$out/run-$name.json" \
    || log "run $name failed: $(tail -n1 "$out/run-$name.err")"
}
for bs in 1 32 256; do
  for layout in shared dedicated; do
    for precision in fp32 fp16; do
      run "bs$bs-$layout-$precision-w2" --batch-size "$bs" --workers 2 --streams "$layout" \
        --precision "$precision" --iters 100
    done
  done
done
for layout in shared dedicated; do
  run "bs256-$layout-fp32-w4" --batch-size 256 --workers 4 --streams "$layout" --iters 100
done
run "bs32-shared-bf16-w2" --batch-size 32 --workers 2 --precision bf16 --iters 100

# 5. The criterion `gpu` profile with whatever time is left (partial results stay).
export CRITERION_HOME=$out/criterion INFERBENCH_PROFILE=gpu
step 600 criterion-gpu "$bin/bench-pipeline" --bench \
  || log "criterion stopped early (time or error): see criterion-gpu.err"
log "done in $(( $(date +%s) - started )) s; results in $out"
