#!/usr/bin/env bash
# Functional checks of inferbench against peers nobody here wrote (issue 24), on
# loopback only, each bounded in count and time; answers and counts, no timing:
#   a. the official Triton client (tritonclient: HTTP with binary data, HTTP with JSON,
#      gRPC) against `inferbench serve` of a TorchScript file: metadata, answers equal
#      to PyTorch's own forward of the file, the protocol's errors, the server's counts;
#   b. `inferbench run --target` against MLServer (REST as JSON, gRPC): every measured
#      request reaches MLServer once, by MLServer's own metrics and by inferbench's.
#
#   scripts/test-peers.sh            (about a minute once the peers are installed)
#
# Installs the peers (scripts/peers.sh, idempotent) but builds nothing: it runs the
# release binary target/release/inferbench (cargo build --release --bin inferbench),
# or the one named by INFERBENCH. Every server it starts is stopped on exit. Exits 1
# if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=test-peers
# shellcheck source=scripts/peers/lib.sh
. scripts/peers/lib.sh
need_inferbench
scripts/peers.sh
peers_init

OIP_PY=.peers/oip/bin/python
failed=()

# --- a. Triton client -> inferbench serve ---------------------------------------------
# tiny_cnn.pt takes a 3-channel image of any size; 8 x 8 keeps it small. At most 2
# samples a request, so that the client's batches of 1 and 2 are both valid.
say "a. tritonclient (HTTP binary, HTTP JSON, gRPC) -> inferbench serve --model torchscript:fixtures/models/tiny_cnn.pt"
start_serve "inferbench serve" "$PEERS_TMP/serve.log" \
  --model torchscript:fixtures/models/tiny_cnn.pt --input 3x8x8:f32 --batch-size 2 \
  --model-name tiny-cnn-file --workers 1 --intra-op-threads 1 --quiet
if ! timeout 180 "$OIP_PY" tests/peers/triton_client_check.py \
  --http "$SERVE_HTTP" --grpc "$SERVE_GRPC" --model tiny-cnn-file \
  --model-file fixtures/models/tiny_cnn.pt --sample-shape 3x8x8 --max-batch 2 \
  --reference-python .venv/bin/python; then
  failed+=("a. tritonclient -> inferbench serve")
fi
stop_bg "$SERVE_PID"

# --- b. inferbench --target -> MLServer -------------------------------------------------
say "b. inferbench run --target -> MLServer $(.peers/oip/bin/mlserver --version 2>/dev/null | tail -n1) (tests/peers/mlserver/affine)"
ml_http=$(free_port) ml_grpc=$(free_port) ml_metrics=$(free_port)
# MLServer reads its settings from MLSERVER_* variables and its model from the folder;
# its metrics files (several processes) go to the scratch folder, not the checkout.
mkdir -p "$PEERS_TMP/mlserver-metrics"
start_bg mlserver "$PEERS_TMP/mlserver.log" env \
  MLSERVER_HOST=127.0.0.1 MLSERVER_HTTP_PORT="$ml_http" MLSERVER_GRPC_PORT="$ml_grpc" \
  MLSERVER_METRICS_PORT="$ml_metrics" MLSERVER_METRICS_DIR="$PEERS_TMP/mlserver-metrics" \
  .peers/oip/bin/mlserver start tests/peers/mlserver
ml_pid=$BG_PID
if ! wait_http_ok "http://127.0.0.1:$ml_http/v2/models/affine/ready" 90 "$ml_pid"; then
  tail -n 40 "$PEERS_TMP/mlserver.log" >&2
  failed+=("b. inferbench --target -> MLServer (MLServer did not start)")
elif ! timeout 300 python3 tests/peers/mlserver_target_check.py --inferbench "$INFERBENCH" \
  --http "127.0.0.1:$ml_http" --grpc "127.0.0.1:$ml_grpc" \
  --metrics "http://127.0.0.1:$ml_metrics/metrics" --model affine --iters 50; then
  failed+=("b. inferbench --target -> MLServer")
fi
stop_bg "$ml_pid"

if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  echo "$((2 - ${#failed[@]})) passed, ${#failed[@]} failed"
  exit 1
fi
echo "2 passed, 0 failed"
