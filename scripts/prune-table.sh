#!/usr/bin/env bash
# Prunes SmolLM2 with each configuration given on the command line and prints a Markdown table of the compression
# reached, the path and the WikiText-2 perplexity (seq-len 512, first 16,384 tokens) before any fine-tuning.
#   scripts/prune-table.sh "0.2 --method mop" "0.2 --method depth" "0.2 --selection random --seed 1" ...
# Each argument is a target followed by extra `mop prune` options. Runs go to $MOP_RUNS (default runs/, git-ignored),
# $MOP_PARALLEL at a time (default 1; each run then uses OPENBLAS_NUM_THREADS=$((2 / MOP_PARALLEL)) threads, or
# $MOP_THREADS when set, e.g. for two queues of one run each).
set -euo pipefail
source "$(dirname "$0")/runs-common.sh"
parallel="${MOP_PARALLEL:-1}"
threads=$(( $(nproc) / parallel )); [ "$threads" -ge 1 ] || threads=1
threads="${MOP_THREADS:-$threads}"
mkdir -p "$runs"

run_one() {
  local spec="$1" target rest out
  target="${spec%% *}"; rest="${spec#"$target"}"
  out="$runs/$(run_name "$spec")"
  if [ ! -f "$out/report.json" ]; then
    rm -rf "$out"
    # shellcheck disable=SC2086
    OPENBLAS_NUM_THREADS=$threads "$MOP" prune "$model" --target "$target" --out "$out" \
      --calibration "$data/instruct/alpaca.jsonl" --calibration-samples 128 --format gguf $rest --json \
      > "$out.prune.json" 2> "$out.prune.log"
  fi
  [ -f "$out/eval.json" ] || OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$out" --ppl "$data/text/wikitext2-test.txt" \
      --seq-len 512 --max-tokens 16384 --json > "$out/eval.json" 2> "$out.eval.log"
}

# A new run starts as soon as any one ends (wait -n), so a short run never leaves its slot idle behind a long one.
running=0
for spec in "$@"; do
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
  run_one "$spec" &
  running=$((running + 1))
done
wait

echo "| run | compression (all) | compression (non-embedding) | path | calibration loss | calibration KL | WikiText-2 ppl (512, 16k tokens) | search time |"
echo "|---|---:|---:|---|---:|---:|---:|---:|"
for spec in "$@"; do
  python3 - "$runs/$(run_name "$spec")" "$spec" <<'PY'
import json, sys
out, label = sys.argv[1:]
r = json.load(open(out + "/report.json")); e = json.load(open(out + "/eval.json"))
# The objectives of the model the run ended with: the chosen candidate's at the last iteration (KL only when asked).
last = r["iterations"][-1] if r["iterations"] else {}
side = "depth" if last.get("branch") == "L" else "width"
loss, kl = last.get(side + "_loss"), last.get(side + "_kl")
print("| `%s` | %.2f%% | %.2f%% | %s | %s | %s | %.2f | %.0f s |" % (label.strip(), 100 * r["compression"],
      100 * r["non_embedding_compression"], r["path"] or "-", "%.4f" % loss if loss is not None else "-",
      "%.4f" % kl if kl is not None else "-", e["perplexity"], r["total_seconds"]))
PY
done
