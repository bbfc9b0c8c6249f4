#!/usr/bin/env bash
# The README's results table: dense SmolLM2 against MoP, depth-only and width-only at 20% and 40%, before and after
# LoRA recovery, with WikiText-2 perplexity (seq-len 512, first 16,384 tokens) and the 7-task zero-shot average.
#   scripts/results-table.sh
# Pruned models come from scripts/prune-table.sh's runs (made here when missing); each is fine-tuned with
# $MOP_STEPS steps (default 12) of batch $MOP_BATCH (default 8) on the Alpaca rows, and every model is scored on the
# first $MOP_TASK_LIMIT examples (default 100) of each task. Every step is skipped when its output exists, so an
# interrupted run continues where it stopped. $MOP (default .build/release/mop) is the binary used.
set -euo pipefail
source "$(dirname "$0")/runs-common.sh"
steps="${MOP_STEPS:-12}"
batch="${MOP_BATCH:-8}"
limit="${MOP_TASK_LIMIT:-100}"
tasks=piqa,arc_easy,arc_challenge,hellaswag,winogrande,boolq,openbookqa
configs=("0.2 --method mop" "0.2 --method depth" "0.2 --method width" "0.4 --method mop" "0.4 --method depth" "0.4 --method width")
export MOP_RUNS="$runs" MOP

# The earlier configuration whose search ended at exactly this one's structure (at 20% width-only and MoP take the
# same path): its recovery and scores are this one's, so they are linked, not recomputed.
twin_of() {
  local spec
  for spec in "${configs[@]}"; do
    [ "$spec" != "$1" ] || return 0
    if cmp -s "$runs/$(run_name "$spec")/structure.json" "$runs/$(run_name "$1")/structure.json"; then echo "$spec"; return 0; fi
  done
}

# 1. The pruned models (and their perplexity), through prune-table.sh so both tables share their runs.
missing=()
for spec in "${configs[@]}"; do [ -f "$runs/$(run_name "$spec")/eval.json" ] || missing+=("$spec"); done
[ "${#missing[@]}" -eq 0 ] || scripts/prune-table.sh "${missing[@]}" > /dev/null

# 2. Recovery of each pruned model, then its perplexity.
for spec in "${configs[@]}"; do
  out="$runs/$(run_name "$spec")"
  twin="$(twin_of "$spec")"
  if [ -n "$twin" ]; then
    [ -e "$out/finetuned" ] || ln -s "../$(run_name "$twin")/finetuned" "$out/finetuned"
    continue
  fi
  if [ ! -f "$out/finetuned/finetune.json" ]; then
    rm -rf "$out/finetuned"
    "$MOP" finetune "$out" --data "$data/instruct/alpaca.jsonl" --out "$out/finetuned" --steps "$steps" \
      --batch "$batch" --warmup 2 --held-out 0.02 --format safetensors --json > /dev/null 2> "$out.finetune.log"
  fi
  [ -f "$out/finetuned/eval.json" ] || "$MOP" eval "$out/finetuned" --ppl "$data/text/wikitext2-test.txt" \
    --seq-len 512 --max-tokens 16384 --json > "$out/finetuned/eval.json" 2> "$out.finetuned.eval.log"
done

# 3. Zero-shot: the dense model, every pruned and every recovered one.
mkdir -p "$runs/dense"
[ -f "$runs/dense/eval.json" ] || "$MOP" eval "$model" --ppl "$data/text/wikitext2-test.txt" --seq-len 512 \
  --max-tokens 16384 --json > "$runs/dense/eval.json" 2> "$runs/dense.eval.log"
zero_shot() {
  [ ! -f "$2/tasks-$limit.json" ] || return 0
  "$MOP" eval "$1" --tasks "$tasks" --tasks-dir "$data/tasks" --limit "$limit" --json > "$2/tasks-$limit.json.tmp" \
    2> "$2.tasks.log"
  mv "$2/tasks-$limit.json.tmp" "$2/tasks-$limit.json"
}
zero_shot "$model" "$runs/dense"
for spec in "${configs[@]}"; do
  out="$runs/$(run_name "$spec")"
  twin="$(twin_of "$spec")"
  [ -z "$twin" ] || cp -n "$runs/$(run_name "$twin")/tasks-$limit.json" "$out/" 2>/dev/null || true
  zero_shot "$out" "$out"
  zero_shot "$out/finetuned" "$out/finetuned"
done

python3 - "$runs" "$limit" "$steps" "$batch" "${configs[@]}" <<'PY'
import filecmp, json, sys
runs, limit, steps, batch, configs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def name(spec): return "_".join(spec.replace("--", "").split())
def load(path): return json.load(open(path))
def row(label, compression, path, run_dir):
    ppl = load(run_dir + "/eval.json")["perplexity"]
    avg = load(run_dir + "/tasks-%s.json" % limit)["average"]
    return "| %s | %s | %s | %.2f | %.1f%% | %.1f%% |" % (label, compression, path, ppl, 100 * avg["acc"], 100 * avg["acc_norm"])
print("| model | compression | path | WikiText-2 ppl | 7-task acc | 7-task acc_norm |")
print("|---|---:|---|---:|---:|---:|")
print(row("dense", "0%", "-", runs + "/dense"))
for index, spec in enumerate(configs):
    out = runs + "/" + name(spec)
    report = load(out + "/report.json")
    compression = "%.2f%%" % (100 * report["compression"])
    label = "`%s`" % spec
    twin = next((t for t in configs[:index] if filecmp.cmp(runs + "/" + name(t) + "/structure.json",
                                                             out + "/structure.json", shallow=False)), None)
    if twin:
        label += " (the model of `%s`)" % twin
    print(row(label, compression, report["path"] or "-", out))
    print(row(label + " + LoRA (%s steps x %s)" % (steps, batch), compression, report["path"] or "-", out + "/finetuned"))
print()
print("Zero-shot on the first %s examples of each task (piqa, arc_easy, arc_challenge, hellaswag, winogrande, boolq, "
      "openbookqa); averages of acc and acc_norm over the seven." % limit)
PY
