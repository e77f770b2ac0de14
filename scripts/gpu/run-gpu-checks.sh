#!/usr/bin/env bash
# inferbench's GPU checks, from the bundle scripts/gpu-bundle.sh builds. Run on the
# GPU machine, whose python3 holds PyTorch:
#
#   ./run-gpu-checks.sh
#
# libtorch: where LD_LIBRARY_PATH does not lead to it, python3's torch is put ahead
# of it (torch/lib and the nvidia/*/lib folders beside it). Set LD_LIBRARY_PATH
# yourself to use another libtorch.
#
# Environment:
#   RESULTS_DIR  where everything goes (default ./gpu-results beside this script):
#                checks.log, the library check, test output, one JSON report per run,
#                runs.jsonl, the PyTorch reference, figures.md, and criterion's output
#                (the `gpu` profile, saved as baseline BASELINE, default h200).
#   ARCHIVE      if set, RESULTS_DIR is also packed into this .tar.gz at the end, even
#                when a check failed or time ran out.
#   BUDGET_S     the whole script keeps within this many seconds (default 570).
#   STEPS        which steps run (default "reference tests graphs compile runs criterion").
#   BATCH_SIZES  the batch sizes of the runs (default "1 32 256"); each run's request
#                count gives a window of about a second or more on an H100-class GPU.
#
# A failed check is logged and the next one still runs (a GPU lent for ten minutes is
# not to be wasted on the first error); the exit status is that of the first failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/bin
results=${RESULTS_DIR:-$here/gpu-results}
budget=${BUDGET_S:-570}
baseline=${BASELINE:-h200}
steps=" ${STEPS:-reference tests graphs compile runs criterion} "
batch_sizes=${BATCH_SIZES:-1 32 256}
started=$(date +%s)
status=0
mkdir -p "$results"
log() { printf '[gpu-checks %3ds] %s\n' "$(( $(date +%s) - started ))" "$*" | tee -a "$results/checks.log" >&2; }
failed() { log "FAILED: $1"; [ "$status" -ne 0 ] || status=${2:-1}; }
left() { echo $(( budget - ($(date +%s) - started) )); }
# Runs a step with the time left (at most $1 s), its output in $results/$2.{out,err}.
step() {
  local cap=$1 name=$2; shift 2
  local t; t=$(left); [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -le 5 ]; then log "skipped $name: out of time"; return 124; fi
  log "$name (up to ${t}s)"
  timeout "$t" "$@" > "$results/$name.out" 2> "$results/$name.err"
}
finish() {
  if [ -s "$results/runs.jsonl" ]; then
    python3 "$here/summarize.py" "$results" > "$results/figures.md" 2> "$results/summarize.err" \
      || log "summarize failed: $(tail -n1 "$results/summarize.err")"
  fi
  log "done in $(( $(date +%s) - started )) s, status $status; results in $results"
  if [ -n "${ARCHIVE:-}" ]; then
    tar -czf "$ARCHIVE" -C "$(dirname "$results")" "$(basename "$results")"
  fi
  exit "$status"
}
trap finish EXIT

log "bundle: $(tr '\n' ' ' < "$here/BUILD-INFO")"
if ldd "$bin/inferbench" | grep -q "not found"; then
  torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null) \
    || { failed "libtorch is not on LD_LIBRARY_PATH and python3 has no torch: point LD_LIBRARY_PATH at the target's torch/lib" 2; exit; }
  libs=$torch_dir/lib
  for d in "$torch_dir"/../nvidia/*/lib "$torch_dir"/../nvidia/*/*/lib; do
    [ -d "$d" ] && libs=$libs:$(cd "$d" && pwd)
  done
  # NVIDIA's container images keep the driver's libraries (NVML among them) here.
  [ -d /usr/local/nvidia/lib64 ] && libs=$libs:/usr/local/nvidia/lib64
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  log "libtorch from python3's torch ($torch_dir), ahead of LD_LIBRARY_PATH"
fi

# 1. Every executable resolves every library, libtorch_cuda.so included (without it
#    libtorch never sees the GPU).
for exe in "$bin"/*; do
  name=$(basename "$exe")
  ldd "$exe" > "$results/ldd-$name.txt" 2>&1
  if grep -q "not found" "$results/ldd-$name.txt"; then
    grep "not found" "$results/ldd-$name.txt" >&2
    failed "$name: libraries not found (is LD_LIBRARY_PATH the target's torch/lib?)" 2
    exit
  fi
  grep -q "libtorch_cuda.so" "$results/ldd-$name.txt" \
    || { failed "$name does not link libtorch_cuda.so" 2; exit; }
done
log "libraries: every executable resolves ($(ls "$bin" | wc -l) executables)"
command -v nvidia-smi >/dev/null && nvidia-smi > "$results/nvidia-smi.txt" 2>&1

# 2. Is there a GPU? The CLI's own refusal says why not.
if ! "$bin/inferbench" run -q --json --device cuda --model spin:1ms --iters 3 --no-bare \
      --out "$results/probe.jsonl" > "$results/probe.out" 2> "$results/probe.err"; then
  failed "no GPU: $(tail -n1 "$results/probe.err")" 3
  exit
fi
rm -f "$results/probe.jsonl"
log "GPU: $(grep -o '"device": *"[^"]*"' "$results/probe.out" | head -1)"

wants() { [[ "$steps" == *" $1 "* ]]; }

# 3. The reference: PyTorch's own eager forward and host-to-device bandwidth.
if wants reference; then
  step 90 pytorch-reference python3 "$here/pytorch_reference.py" --out "$results/pytorch-reference.json" \
    || failed "PyTorch reference (see pytorch-reference.err)"
fi

# 4. The CUDA tests: the shim, the device, the stage ordering, the CLI.
export INFERBENCH_BIN=$bin/inferbench
if wants tests; then
  step 90 test-lib "$bin/test-lib" device:: pipeline::ordering placement model::prepare \
    || failed "unit tests (see test-lib.out)"
  step 90 test-device_cli "$bin/test-device_cli" || failed "CLI device tests (see test-device_cli.out)"
fi

# 5. One run per layout and precision (ResNet-18, 224 px), each with its bare-forward
#    and copy limits; bs 256 with 2 and 4 workers for the utilisation figures; one
#    worker for the comparison of the bare forward with PyTorch's.
run() {
  local name=$1; shift
  if step "${run_cap:-60}" "run-$name" "$bin/inferbench" run -q --json --device cuda --model resnet18 \
      --image-size 224 --out "$results/runs.jsonl" "$@"; then
    mv "$results/run-$name.out" "$results/run-$name.json"
  else
    failed "run $name: $(tail -n1 "$results/run-$name.err")"
  fi
}
# Requests per run: a window of a second or more (a 0.1 s window at bs 1 makes the
# efficiency a ratio of two noisy figures).
iters_for() { case $1 in 1) echo 2000 ;; 32) echo 1000 ;; *) echo 100 ;; esac; }
# 5a. CUDA graphs against eager, where the forward is launch-bound (small batches),
#     one worker, fp16 and fp32; PyTorch's own torch.cuda.graphs forward is in the
#     reference (step 3).
if wants graphs; then
  for bs in 1 8 32; do
    for precision in fp16 fp32; do
      for mode in eager cuda-graph; do
        run "graph-bs$bs-$precision-$mode-w1" --batch-size "$bs" --workers 1 \
          --precision "$precision" --compile "$mode" --iters "$(( 2 * $(iters_for "$bs") ))"
      done
    done
  done
fi

# 5b. Every compile mode on the device (AOTInductor exported here by python3's own
#     torch, into a cache under RESULTS_DIR), and channels-last, at bs 32 fp16.
if wants compile; then
  export INFERBENCH_CACHE_DIR=$results/cache INFERBENCH_PYTHON=${INFERBENCH_PYTHON:-$(command -v python3)}
  for mode in eager torchscript frozen aot-inductor cuda-graph; do
    # The export and AOTInductor's compile take a minute or two the first time.
    [ "$mode" = aot-inductor ] && run_cap=240 || run_cap=60
    run_cap=$run_cap run "compile-bs32-fp16-$mode-w2" --batch-size 32 --workers 2 --precision fp16 \
      --compile "$mode" --iters 1000
  done
  run "compile-bs32-fp16-eager-channels-last-w2" --batch-size 32 --workers 2 --precision fp16 \
    --channels-last --iters 1000
fi

if wants runs; then
  for bs in $batch_sizes; do
    for layout in shared dedicated; do
      for precision in fp32 fp16; do
        run "bs$bs-$layout-$precision-w2" --batch-size "$bs" --workers 2 --streams "$layout" \
          --precision "$precision" --iters "$(iters_for "$bs")"
      done
    done
    if [ "$bs" = 256 ]; then
      for layout in shared dedicated; do
        run "bs256-$layout-fp32-w4" --batch-size 256 --workers 4 --streams "$layout" --iters 100
      done
    fi
    if [ "$bs" = 32 ]; then
      run "bs32-shared-bf16-w2" --batch-size 32 --workers 2 --precision bf16 --iters 1000
    fi
    for precision in fp32 fp16; do
      run "bs$bs-shared-$precision-w1" --batch-size "$bs" --workers 1 --precision "$precision" \
        --iters "$(( 2 * $(iters_for "$bs") ))"
    done
  done
fi

# 6. The criterion `gpu` profile with whatever time is left (finished groups stay).
export CRITERION_HOME=$results/criterion INFERBENCH_PROFILE=gpu
if wants criterion; then
  step 600 criterion-gpu "$bin/bench-pipeline" --bench --save-baseline "$baseline" \
    || failed "criterion stopped early (time or error): see criterion-gpu.err"
fi
