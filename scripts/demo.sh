#!/usr/bin/env bash
# The main job on SmolLM2-135M-Instruct with the shared data, from a fresh machine: installs the system libraries,
# fetches the model, builds mop, then prunes 20% with MoP, recovers with LoRA and evaluates the dense, pruned and
# recovered models side by side (perplexity, the seven zero-shot tasks, latency), and prints where the report is.
#   scripts/demo.sh [extra mop prune options]      # $MOP_DEMO_OUT: output folder (default runs/demo, replaced)
# The settings are cut to finish in about 10 minutes on 2 cores (plus the build): 32 calibration prompts, 10
# fine-tuning steps of 8, perplexity on the first 4,096 WikiText-2 tokens, 50 examples per task, 6 latency runs
# (2 warm-up). The README's numbers come from the full settings (scripts/prune-table.sh, scripts/results-table.sh).
# The pruned and recovered models are written in the input's own types (SmolLM2's Q4_1 GGUF, and hf/ in F16), and
# the latency is measured on the GGUF, so the dense and pruned models compare stored alike.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="${MOP_SHARED_DATA:-$root/../shared/data}"
out="${MOP_DEMO_OUT:-$root/runs/demo}"
scripts/setup.sh
model="$(scripts/fetch-model.sh)"
swift build -c release --product mop
rm -rf "$out"
mkdir -p "$(dirname "$out")"
start=$(date +%s)
.build/release/mop prune "$model" --target 0.2 --out "$out" \
  --calibration "$data/instruct/alpaca.jsonl" --calibration-samples 32 \
  --finetune --steps 10 --batch 8 --warmup 2 --held-out 0.02 \
  --eval --eval-text "$data/text/wikitext2-test.txt" --eval-max-tokens 4096 --tasks-dir "$data/tasks" --eval-limit 50 \
  --bench-runs 6 --bench-warmup 2 "$@"
echo "demo: the job took $(( $(date +%s) - start )) s; report: $out/report.md (report.json, loss.svg, perplexity.svg beside it)"
