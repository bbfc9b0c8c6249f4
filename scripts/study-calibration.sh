#!/usr/bin/env bash
# The small-calibration study (issue 26, docs/results/papers-claims.md#small-calibration-sets): prunes a model to a
# target with MoP cross-fitted (the default), MoP in sample (the papers' way), depth-only and width-only, each with
# 32 and 128 Alpaca prompts, and prints WikiText-2 perplexity (first 4,096 tokens) and held-out Alpaca perplexity
# (rows 200-399, instruction, input and answer: text the calibration prompts never include, first 4,096 tokens).
#   scripts/study-calibration.sh [MODEL] [TARGET]      # default: Qwen2.5-Coder-0.5B, 0.2
# Runs go to $MOP_RUNS/study-calibration (default runs/, git-ignored) and are skipped when done, so the script
# resumes; $MOP_PARALLEL runs at a time (default 1), $MOP_THREADS BLAS threads each (default cores / parallel).
# The pruned models are written in f32, so their perplexities measure the search, not a re-quantization (the default
# export type follows the input: a Q4_K_M input would be written in Q4_K_M).
set -euo pipefail
source "$(dirname "$0")/runs-common.sh"
model="${1:-$(scripts/fetch-model.sh qwen2.5-0.5b)}"
target="${2:-0.2}"
parallel="${MOP_PARALLEL:-1}"
threads=$(( $(nproc) / parallel )); [ "$threads" -ge 1 ] || threads=1
threads="${MOP_THREADS:-$threads}"
out_root="$runs/study-calibration/$(basename "$model" .gguf)-$target"
mkdir -p "$out_root"

heldout="$out_root/alpaca-heldout.txt"
[ -f "$heldout" ] || python3 - "$data/instruct/alpaca.jsonl" "$heldout" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
texts = ["\n".join([r["instruction"]] + ([r["input"]] if r.get("input") else []) + [r["output"]]) for r in rows[200:400]]
open(sys.argv[2], "w", encoding="utf-8").write("\n\n".join(texts) + "\n")
EOF

cells=(
  "mop-cross-fit|--candidate-scoring cross-fit"
  "mop-in-sample|--candidate-scoring in-sample"
  "depth|--method depth"
  "width|--method width"
)

run_one() {
  local name="$1" options="$2" samples="$3" out
  out="$out_root/$name-$samples"
  if [ ! -f "$out/report.json" ]; then
    rm -rf "$out"
    # shellcheck disable=SC2086
    OPENBLAS_NUM_THREADS=$threads "$MOP" prune "$model" --target "$target" --out "$out" --format gguf --export-type f32 \
      --calibration "$data/instruct/alpaca.jsonl" --calibration-samples "$samples" $options > "$out.prune.log" 2>&1
  fi
  [ -s "$out/wikitext.json" ] || OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$out/model.gguf" \
    --ppl "$data/text/wikitext2-test.txt" --max-tokens 4096 --json > "$out/wikitext.json" 2> /dev/null
  [ -s "$out/alpaca.json" ] || OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$out/model.gguf" \
    --ppl "$heldout" --max-tokens 4096 --json > "$out/alpaca.json" 2> /dev/null
}

running=0
for samples in 32 128; do
  for cell in "${cells[@]}"; do
    if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
    run_one "${cell%%|*}" "${cell#*|}" "$samples" &
    running=$((running + 1))
  done
done
wait

dense="$out_root/dense"
mkdir -p "$dense"
[ -s "$dense/wikitext.json" ] || "$MOP" eval "$model" --ppl "$data/text/wikitext2-test.txt" --max-tokens 4096 --json > "$dense/wikitext.json" 2> /dev/null
[ -s "$dense/alpaca.json" ] || "$MOP" eval "$model" --ppl "$heldout" --max-tokens 4096 --json > "$dense/alpaca.json" 2> /dev/null

python3 - "$out_root" <<'EOF'
import json, os, sys
root = sys.argv[1]
def ppl(folder, name):
    return json.load(open(os.path.join(root, folder, name)))["perplexity"]
print(f"| search | prompts | path | last calibration loss | WikiText-2 ppl | held-out Alpaca ppl |")
print("|---|---:|---|---:|---:|---:|")
print(f"| dense | - | - | - | {ppl('dense', 'wikitext.json'):.2f} | {ppl('dense', 'alpaca.json'):.2f} |")
for samples in (32, 128):
    for name in ("mop-cross-fit", "mop-in-sample", "depth", "width"):
        folder = f"{name}-{samples}"
        report = json.load(open(os.path.join(root, folder, "report.json")))
        last = report["iterations"][-1]
        loss = last.get("depth_loss") if last["branch"] == "L" else last.get("width_loss")
        print(f"| {name} | {samples} | {report['path']} | {loss:.4f} | {ppl(folder, 'wikitext.json'):.2f} | {ppl(folder, 'alpaca.json'):.2f} |")
EOF
