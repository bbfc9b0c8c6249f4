#!/usr/bin/env bash
# Issue 26's study (docs/results/papers-claims.md#the-full-study): prunes one model to each target with each method,
# recovers every pruned model with the same LoRA budget, and measures WikiText-2 perplexity (first 16,384 tokens)
# before and after recovery, zero-shot accuracy (the 7 tasks; the first $MOP_TASK_LIMIT rows each, every row for the
# dense model and the 40% cells) and latency by the paper's protocol against the dense model (`mop bench --compare`,
# the two models in turn). Prints the Markdown table and writes the plot (perplexity against compression, one line per
# method, solid before recovery and dashed after) as $out_root/perplexity.svg.
#   scripts/study-papers-claims.sh [MODEL]          # default: Qwen2.5-Coder-0.5B
# Settings (environment): MOP_TARGETS ("0.2 0.3 0.4"), MOP_CELLS (names from the list below, default all),
# MOP_RECOVERY ("steps batch length", default "40 16 512"), MOP_TASK_LIMIT (500), MOP_PHASES (default
# "prune eval recover latency"; e.g. "prune eval" for the cheap columns first), MOP_FULL_TASKS (the rows whose tasks
# run on every row, default "dense 0.4"), MOP_THREADS (cores).
# Runs go to $MOP_RUNS/papers-claims/<model> (default runs/, git-ignored); every step whose output exists is skipped,
# so the script resumes where it stopped, and a later call with more phases adds columns to the same runs.
# The pruned and recovered models are written in the input's own types (the default export type, with the calibration
# set's importance matrix), as a user deploys them and as the latency column needs (models stored alike).
set -euo pipefail
source "$(dirname "$0")/runs-common.sh"
model="${1:-$(scripts/fetch-model.sh qwen2.5-0.5b)}"
targets="${MOP_TARGETS:-0.2 0.3 0.4}"
phases=" ${MOP_PHASES:-prune eval recover latency} "
read -r steps batch length <<< "${MOP_RECOVERY:-40 16 512}"
task_limit="${MOP_TASK_LIMIT:-500}"
full_tasks=" ${MOP_FULL_TASKS:-dense 0.4} "
threads="${MOP_THREADS:-$(nproc)}"
export OPENBLAS_NUM_THREADS=$threads
tasks=piqa,arc_easy,arc_challenge,hellaswag,winogrande,boolq,openbookqa
out_root="$runs/papers-claims/$(basename "$model" .gguf)"
mkdir -p "$out_root"

# name|mop prune options. `reversed` (AMP's sanity check) runs at the first target only.
cells=(
  "mop|"
  "mop-kl|--selection kl"
  "width|--method width"
  "depth|--method depth"
  "amp|--method amp"
  "random-1|--selection random --seed 1"
  "random-2|--selection random --seed 2"
  "random-3|--selection random --seed 3"
  "reversed|--method amp --criterion reversed"
)
wanted=" ${MOP_CELLS:-$(printf '%s ' "${cells[@]%%|*}")} "
has_phase() { [[ "$phases" == *" $1 "* ]]; }
log() { echo "papers-claims: $*" >&2; }

# eval_model MODEL_PATH OUT_JSON FULL_TASKS: perplexity and zero-shot accuracy of one model.
eval_model() {
  local path="$1" json="$2" full="$3" limit=()
  [ -s "$json" ] && return
  [ "$full" = yes ] || limit=(--limit "$task_limit")
  log "eval $path"
  "$MOP" eval "$path" --ppl "$data/text/wikitext2-test.txt" --max-tokens 16384 --tasks "$tasks" \
    --tasks-dir "$data/tasks" "${limit[@]}" --json > "$json.part" 2> "$json.log"
  mv "$json.part" "$json"
}

dense="$out_root/dense"
mkdir -p "$dense"
full=no; [[ "$full_tasks" == *" dense "* ]] && full=yes
has_phase eval && eval_model "$model" "$dense/eval.json" "$full"

for target in $targets; do
  for cell in "${cells[@]}"; do
    name="${cell%%|*}"; options="${cell#*|}"
    [[ "$wanted" == *" $name "* ]] || continue
    [ "$name" = reversed ] && [ "$target" != "${targets%% *}" ] && continue
    out="$out_root/$target-$name"
    if has_phase prune && [ ! -f "$out/report.json" ]; then
      log "prune $target $name"
      rm -rf "$out"
      # shellcheck disable=SC2086
      "$MOP" prune "$model" --target "$target" --out "$out" --format gguf \
        --calibration "$data/instruct/alpaca.jsonl" $options > "$out.prune.log" 2>&1
    fi
    [ -f "$out/report.json" ] || continue
    full=no; [[ "$full_tasks" == *" $target "* ]] && full=yes
    has_phase eval && eval_model "$out/model.gguf" "$out/eval.json" "$full"
    if has_phase recover && [ ! -f "$out/recovered/finetune.json" ]; then
      log "recover $target $name ($steps steps x $batch x $length tokens)"
      rm -rf "$out/recovered"
      "$MOP" finetune "$out/model.gguf" --data "$data/instruct/alpaca.jsonl" --out "$out/recovered" --format gguf \
        --steps "$steps" --batch "$batch" --max-length "$length" --warmup 2 > "$out.recover.log" 2>&1
    fi
    [ -f "$out/recovered/finetune.json" ] && has_phase eval && eval_model "$out/recovered/model.gguf" "$out/recovered-eval.json" "$full"
    if has_phase latency && [ ! -s "$out/latency.json" ]; then
      log "latency $target $name"
      "$MOP" bench "$model" --compare "$out/model.gguf" --json > "$out/latency.json.part" 2> "$out.latency.log"
      mv "$out/latency.json.part" "$out/latency.json"
    fi
  done
done

python3 "$root/scripts/papers-claims-table.py" "$out_root" "$steps x $batch x $length"
