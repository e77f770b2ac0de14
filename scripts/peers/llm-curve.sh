#!/usr/bin/env bash
# A real LLM server measured by `inferbench llm`, on loopback, on the CPU, with a tiny
# GPT-2 made here with random weights (scripts/peers/make_tiny_llm.py: nothing is
# downloaded). Two servers nobody here wrote:
#   --server transformers (default): `transformers serve`, OpenAI-compatible, one
#       request generated at a time;
#   --server llama: llama.cpp's `llama-server` (4 slots, continuous batching), the
#       model converted to GGUF by llama.cpp's own converter, its Prometheus /metrics
#       scraped around every window (--scrape-server-metrics), and the server's own
#       count of generated tokens checked against the client's.
# A measurement, not a test: it prints what it measured; the exit status is 1 only if
# the server or a run failed.
#
#   scripts/peers/llm-curve.sh [--server transformers|llama] [--iters 40]
#       [--input-len 32..64] [--output-len 32] [--ttft-ms X] [--tpot-ms Y]
#       [--layers 2] [--width 64] [--server-threads 1]   (llama: 8 layers x 512 by default)
#       [--same-seed-every-rate]   (every curve window sends the same requests; see 5.)
#
# 1. one stream at a time (concurrency:1): the server's unloaded TTFT and TPOT;
# 2. four at a time (concurrency:4): its capacity C in requests/s;
# 3. a curve of Poisson windows at 0.25, 0.5, 0.75, 1.0 and 1.25 × C, with the
#    recommendation "highest rate with p99 TTFT <= X and p99 TPOT <= Y" (default X = 4 ×
#    the unloaded p99 TTFT, Y = 3 × the unloaded p99 TPOT: bounds on p99s taken from
#    p99s, loose enough for a batching server's longer steps);
# 4. per window, the client's CPU (its own getrusage: share of a core and µs per output
#    token) next to the server's (its process's CPU time from ps), so that it is plain
#    which one limited the figures;
# 5. per curve window (llama), the prompt tokens the server took from its cache. Each
#    rate's window sends requests of its own (seed + k) unless --same-seed-every-rate,
#    with which every window after the first repeats the first's prompts.
# Token counts: the model's tokenizer.json, checked against the server's usage
# (transformers); llama.cpp's usage, checked against its Prometheus counter (llama).
# The server runs --server-threads threads (OMP_NUM_THREADS for transformers, -t for
# llama.cpp; default 1): with 2 threads on a 2-core machine any other load stalls its
# OpenMP barriers and cuts its throughput about ninefold (measured, docs/llm.md), so the
# default keeps the figures the server's, not the neighbours'.
# Needs the release binary (cargo build --release --bin inferbench); installs the server
# (scripts/peers.sh --llm, or --llama: about 10 minutes of compiling, once) itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=llm-curve
# shellcheck source=scripts/peers/lib.sh
. scripts/peers/lib.sh

ITERS=40 IN=32..64 OUT=32 TTFT= TPOT= LAYERS= WIDTH= THREADS=1 SERVER=transformers SAME=
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --input-len) IN=$2; shift 2 ;;
    --output-len) OUT=$2; shift 2 ;;
    --ttft-ms) TTFT=$2; shift 2 ;;
    --tpot-ms) TPOT=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    --width) WIDTH=$2; shift 2 ;;
    --server-threads) THREADS=$2; shift 2 ;;
    --same-seed-every-rate) SAME=--same-seed-every-rate; shift ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case "$THREADS" in ''|*[!0-9]*|0) die "--server-threads '$THREADS': expected a whole number of threads, 1 or more" ;; esac
case "$SERVER" in transformers|llama) ;; *) die "--server '$SERVER': expected transformers or llama" ;; esac
# llama.cpp generates the 2 x 64 model at thousands of tokens/s, so fast that a window
# is over in a fraction of a second: its default model is 8 x 512 (~25 M parameters).
if [ "$SERVER" = llama ]; then LAYERS=${LAYERS:-8} WIDTH=${WIDTH:-512}; else LAYERS=${LAYERS:-2} WIDTH=${WIDTH:-64}; fi
need_inferbench
if [ "$SERVER" = llama ]; then scripts/peers.sh --llama; else scripts/peers.sh --llm; fi
peers_init

port=$(free_port)
scrape=()
# Token counts: the model's tokenizer.json for transformers serve; llama.cpp's own usage
# for llama-server, so that the usage the client summed and the server's Prometheus
# count of generated tokens are two accounts of the same tokens, which must agree.
tokens=()
if [ "$SERVER" = llama ]; then
  # An ASCII-only tokenizer: every streamed chunk is then one token (see make_tiny_llm.py).
  model=.peers/models/tiny-gpt2-ascii-${LAYERS}x${WIDTH}
  if [ ! -f "$model/model.safetensors" ]; then
    .peers/llm/bin/python scripts/peers/make_tiny_llm.py "$model" --layers "$LAYERS" --width "$WIDTH" --ascii >&2
  fi
  if [ ! -f "$model/model.gguf" ]; then
    .peers/llm/bin/python scripts/peers/gguf_from_hf.py .peers/llama/src/vendor/llama.cpp "$model" "$model/model.gguf.part" >"$PEERS_TMP/convert.log" 2>&1 \
      || { tail -n 20 "$PEERS_TMP/convert.log" >&2; die "the GGUF conversion failed"; }
    mv "$model/model.gguf.part" "$model/model.gguf"
  fi
  # 4 slots sharing an 8192-token context (2048 each); --ignore-eos: a random model
  # samples its end-of-text token at any step, and the windows want the lengths asked for.
  start_bg "llama-server" "$PEERS_TMP/serve.log" \
    .peers/llama/build/bin/llama-server -m "$model/model.gguf" --host 127.0.0.1 --port "$port" \
      --metrics -np 4 -c 8192 -t "$THREADS" --ignore-eos
  scrape=(--scrape-server-metrics "http://127.0.0.1:$port/metrics")
  tokens=()
  name="llama-server $(.peers/llama/build/bin/llama-server --version 2>&1 | grep -m1 version | tr -d '\r')"
else
  model=.peers/models/tiny-gpt2-${LAYERS}x${WIDTH}
  if [ ! -f "$model/model.safetensors" ]; then
    .peers/llm/bin/python scripts/peers/make_tiny_llm.py "$model" --layers "$LAYERS" --width "$WIDTH" >&2
  fi
  start_bg "transformers serve" "$PEERS_TMP/serve.log" \
    env OMP_NUM_THREADS="$THREADS" .peers/llm/bin/transformers serve --host 127.0.0.1 --port "$port" --device cpu "$model"
  name="transformers serve $(.peers/llm/bin/python -c 'import transformers; print(transformers.__version__)')"
  tokens=(--tokenizer "$model/tokenizer.json")
fi
server=$BG_PID
wait_http_ok "http://127.0.0.1:$port/health" 120 "$server" || { tail -n 30 "$PEERS_TMP/serve.log" >&2; exit 1; }
say "$name on 127.0.0.1:$port, model $model, $THREADS thread(s); load $(load_now)"

server_cpu() { ps -o times= -p "$server" | tr -d ' '; }
common=(llm --target "openai://127.0.0.1:$port/v1" --model "$model" "${tokens[@]}"
        --input-len "$IN" --output-len "$OUT" --iters "$ITERS" --request-timeout 120s
        --out "$PEERS_TMP/llm.jsonl" --quiet "${scrape[@]}")

# window NAME ARGS...: one run; prints its line and the client/server CPU.
window() {
  local name=$1; shift
  local s0 s1
  s0=$(server_cpu)
  "$INFERBENCH" "${common[@]}" "$@" --json >"$PEERS_TMP/$name.json"
  s1=$(server_cpu)
  python3 - "$PEERS_TMP/$name.json" "$name" "$s0" "$s1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); f = r["figures"]; c = r["client"]
server_cpu = int(sys.argv[4]) - int(sys.argv[3])
p = lambda s, k: "n/a" if s is None else f"{s[k]:.2f}"
print(f"{sys.argv[2]:<14} {f['request_rps'] or 0:6.2f} req/s {f['output_tokens_per_s'] or 0:7.1f} tok/s"
      f"  TTFT p50/p99 {p(f['ttft_ms'],'p50')}/{p(f['ttft_ms'],'p99')} ms"
      f"  TPOT p50/p99 {p(f['tpot_ms'],'p50')}/{p(f['tpot_ms'],'p99')} ms"
      f"  failed {f['counts']['sent'] - f['counts']['completed']}"
      f"  | client {c['cores_busy']*100:.1f} % of a core, {c['cpu_per_output_token_us'] or float('nan'):.0f} µs/token;"
      f" server {server_cpu / f['duration_s'] * 100:.0f} % ({server_cpu} s CPU, 1 s resolution)")
m = r.get("server_metrics")
if m:
    d = {x["series"]: x["delta"] for x in m["deltas"]}
    print(f"{'':<14} server's own count: {d.get('llamacpp:tokens_predicted_total', 0):.0f} tokens generated"
          f" (client: {f['output_tokens']}), {d.get('llamacpp:n_decode_total', 0):.0f} decode calls,"
          f" {d.get('llamacpp:prompt_tokens_total', 0):.0f} prompt tokens"
          f" + {d.get('llamacpp:prompt_tokens_cached_total', 0):.0f} from its cache (client: {f['input_tokens']})")
PY
}

# Each window its own seed, so that no window meets a caching server's copy of another's
# prompts: 0 and 1 here, the curve's 2 (its windows 3, 4, …).
window concurrency:1 --arrival concurrency:1 --seed 0
window concurrency:4 --arrival concurrency:4 --seed 1
read -r C T1 P1 < <(python3 - "$PEERS_TMP/concurrency:4.json" "$PEERS_TMP/concurrency:1.json" <<'PY'
import json, sys
c4 = json.load(open(sys.argv[1]))["figures"]; c1 = json.load(open(sys.argv[2]))["figures"]
print(c4["request_rps"], c1["ttft_ms"]["p99"], c1["tpot_ms"]["p99"])
PY
)
TTFT=${TTFT:-$(python3 -c "print(round(4 * $T1, 1))")}
TPOT=${TPOT:-$(python3 -c "print(round(3 * $P1, 1))")}
rates=$(python3 -c "print(','.join(f'{f * $C:.3g}' for f in (0.25, 0.5, 0.75, 1.0, 1.25)))")
say "capacity at concurrency 4: $C requests/s; curve at $rates requests/s; bounds p99 TTFT <= $TTFT ms, p99 TPOT <= $TPOT ms"
s0=$(server_cpu)
"$INFERBENCH" "${common[@]}" --rates "$rates" --goodput-ttft-ms "$TTFT" --goodput-tpot-ms "$TPOT" --seed 2 $SAME
s1=$(server_cpu)
python3 - "$PEERS_TMP/llm.jsonl" "$((s1 - s0))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][2:]
cpu = sum(r["client"]["cpu_s"] for r in rows); tok = sum(r["figures"]["output_tokens"] or 0 for r in rows)
wall = sum(r["figures"]["duration_s"] for r in rows)
for r in rows:
    m = r.get("server_metrics")
    if not m:
        continue
    d = {x["series"]: x["delta"] for x in m["deltas"]}
    t = r["figures"]["ttft_ms"] or {}
    print(f"rate {r['config']['arrival']['value']:.3g} (seed {r['config'].get('window_seed', r['config']['seed'])}):"
          f" TTFT p50/p99 {t.get('p50', float('nan')):.1f}/{t.get('p99', float('nan')):.1f} ms;"
          f" server: {d.get('llamacpp:prompt_tokens_total', 0):.0f} prompt tokens computed,"
          f" {d.get('llamacpp:prompt_tokens_cached_total', 0):.0f} from its cache")
print(f"curve: client {cpu:.2f} s CPU over {wall:.1f} s of windows ({cpu / wall * 100:.1f} % of a core),"
      f" {cpu * 1e6 / tok:.0f} µs per output token; server {sys.argv[2]} s CPU ({int(sys.argv[2]) / wall * 100:.0f} % of a core)")
PY
say "done; load $(load_now)"
