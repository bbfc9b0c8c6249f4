#!/usr/bin/env bash
# The small-calibration study (issue 26, docs/results/papers-claims.md#small-calibration-sets): prunes a model to a
# target with MoP cross-fitted (the default), MoP in sample (the papers' way), depth-only and width-only, each with
# 32 and 128 Alpaca prompts, and prints WikiText-2 perplexity (first 4,096 tokens) and held-out Alpaca perplexity
# (rows 200-399, instruction, input and answer: text the calibration prompts never include, first 4,096 tokens).
# Then the questions the 32-prompt cells raised: whether the depth rule is what loses at 32 prompts (MoP and
# depth-only with --depth-rule loss), and how much one search varies with its prompts (depth-only and the default
# MoP on two more disjoint sets of 32: rows 32-63 and 64-95).
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

# name|options|prompts|first row. A cell's run is NAME-PROMPTS, or NAME-PROMPTS-rowsFIRST when its prompts do not
# start at the file's first row.
cells=(
  "mop-cross-fit|--candidate-scoring cross-fit|32|0"
  "mop-in-sample|--candidate-scoring in-sample|32|0"
  "depth|--method depth|32|0"
  "width|--method width|32|0"
  "mop-cross-fit|--candidate-scoring cross-fit|128|0"
  "mop-in-sample|--candidate-scoring in-sample|128|0"
  "depth|--method depth|128|0"
  "width|--method width|128|0"
  "mop-depth-loss|--depth-rule loss|32|0"
  "depth|--method depth|32|32"
  "mop-cross-fit|--candidate-scoring cross-fit|32|32"
  "depth|--method depth|32|64"
  "mop-cross-fit|--candidate-scoring cross-fit|32|64"
  "depth-depth-loss|--method depth --depth-rule loss|32|0"
)

cell_folder() {
  local name="$1" samples="$2" first="$3"
  if [ "$first" -eq 0 ]; then echo "$name-$samples"; else echo "$name-$samples-rows$first"; fi
}

run_one() {
  local name="$1" options="$2" samples="$3" first="$4" out calibration="$data/instruct/alpaca.jsonl"
  out="$out_root/$(cell_folder "$name" "$samples" "$first")"
  if [ "$first" -gt 0 ]; then
    calibration="$out_root/alpaca-rows$first-$samples.jsonl"
    [ -s "$calibration" ] || sed -n "$((first + 1)),$((first + samples))p" "$data/instruct/alpaca.jsonl" > "$calibration"
  fi
  if [ ! -f "$out/report.json" ]; then
    # An interrupted search goes on from its last iteration's checkpoint; anything else starts again.
    local resume=()
    if [ -f "$out/checkpoint.json" ]; then resume=(--resume "$out"); else rm -rf "$out"; fi
    # shellcheck disable=SC2086
    OPENBLAS_NUM_THREADS=$threads "$MOP" prune "$model" --target "$target" --out "$out" --format gguf --export-type f32 \
      --calibration "$calibration" --calibration-samples "$samples" --threads "$threads" $options "${resume[@]}" \
      >> "$out.prune.log" 2>&1
  fi
  [ -s "$out/wikitext.json" ] || OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$out/model.gguf" \
    --ppl "$data/text/wikitext2-test.txt" --max-tokens 4096 --threads "$threads" --json > "$out/wikitext.json" 2> /dev/null
  [ -s "$out/alpaca.json" ] || OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$out/model.gguf" \
    --ppl "$heldout" --max-tokens 4096 --threads "$threads" --json > "$out/alpaca.json" 2> /dev/null
}

cell_done() {
  local out
  out="$out_root/$(cell_folder "$1" "$2" "$3")"
  [ -f "$out/report.json" ] && [ -s "$out/wikitext.json" ] && [ -s "$out/alpaca.json" ]
}

# A failed cell leaves its log (NAME.prune.log) and stops no other; the table below names what is missing.
running=0
for cell in "${cells[@]}"; do
  IFS='|' read -r name options samples first <<< "$cell"
  cell_done "$name" "$samples" "$first" && continue
  if [ "$running" -ge "$parallel" ]; then wait -n || true; running=$((running - 1)); fi
  run_one "$name" "$options" "$samples" "$first" &
  running=$((running + 1))
done
wait
missing=()
for cell in "${cells[@]}"; do
  IFS='|' read -r name options samples first <<< "$cell"
  cell_done "$name" "$samples" "$first" || missing+=("$out_root/$(cell_folder "$name" "$samples" "$first")")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "study-calibration: not finished (see each folder's .prune.log): ${missing[*]}" >&2
  exit 1
fi

dense="$out_root/dense"
mkdir -p "$dense"
[ -s "$dense/wikitext.json" ] || "$MOP" eval "$model" --ppl "$data/text/wikitext2-test.txt" --max-tokens 4096 --json > "$dense/wikitext.json" 2> /dev/null
[ -s "$dense/alpaca.json" ] || "$MOP" eval "$model" --ppl "$heldout" --max-tokens 4096 --json > "$dense/alpaca.json" 2> /dev/null

CELLS="$(printf '%s\n' "${cells[@]}")" python3 - "$out_root" <<'EOF'
import json, os, sys
root = sys.argv[1]
def ppl(folder, name):
    return json.load(open(os.path.join(root, folder, name)))["perplexity"]
print("| search | options | prompts (rows) | path | last calibration loss | WikiText-2 ppl | held-out Alpaca ppl |")
print("|---|---|---|---|---:|---:|---:|")
print(f"| dense | | - | - | - | {ppl('dense', 'wikitext.json'):.2f} | {ppl('dense', 'alpaca.json'):.2f} |")
for line in os.environ["CELLS"].splitlines():
    name, options, samples, first = line.split("|")
    folder = f"{name}-{samples}" if first == "0" else f"{name}-{samples}-rows{first}"
    report = json.load(open(os.path.join(root, folder, "report.json")))
    last = report["iterations"][-1]
    loss = last["depth_loss"] if last["branch"] == "L" else last["width_loss"]
    rows = f"{samples} ({first}-{int(first) + int(samples) - 1})"
    print(f"| {name} | `{options}` | {rows} | {report['path']} | {loss:.4f} | {ppl(folder, 'wikitext.json'):.2f} "
          f"| {ppl(folder, 'alpaca.json'):.2f} |")
EOF
