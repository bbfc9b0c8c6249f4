#!/usr/bin/env bash
# The README's latency-target run: prunes SmolLM2 until its generation latency is predicted to be R (default 0.6) of
# the dense model's (`mop prune --target-latency R`, 128 Alpaca calibration prompts, 2 BLAS threads), evaluates it
# (perplexity on the first 16,384 WikiText-2 tokens; latency by the paper's protocol, dense and pruned interleaved)
# and prints the latency predicted by the model measured before the search against the latency measured after it.
# Latency needs an idle machine: the probes and the evaluation time the model, other jobs skew both.
#   scripts/prune-latency.sh [R] [extra mop prune options]     # $MOP_LATENCY_OUT: output folder (runs/latency-R)
set -euo pipefail
source "$(dirname "$0")/runs-common.sh"
ratio="${1:-0.6}"; shift || true
out="${MOP_LATENCY_OUT:-$runs/latency-$ratio}"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
"$MOP" prune "$model" --target-latency "$ratio" --out "$out" --calibration "$data/instruct/alpaca.jsonl" \
  --calibration-samples 128 --format gguf --threads 2 --eval --eval-text "$data/text/wikitext2-test.txt" \
  --eval-max-tokens 16384 --eval-tasks none "$@" > "$out.json"
python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); l = r["latency"]
print("target %.3f: path %s, compression %.2f%%; latency predicted %.3f, measured %.3f (predicted / measured %.3f)"
      % (l["target"], r["path"], 100 * r["compression"], l["predicted"], l["measured"], l["predicted"] / l["measured"]))
PY
