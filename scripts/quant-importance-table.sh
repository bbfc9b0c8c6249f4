#!/usr/bin/env bash
# What the calibration set's importance matrix buys a quantized export (docs/results/exports.md#importance-matrix):
# for each MODEL, prune 20% with AMP and write F16, then the same pruned model in Q4_K_M without an importance
# (`mop apply`, bytes equal to llama-quantize's), in Q4_K_M with the calibration importance (`mop prune
# --export-type q4_k_m`, the default --quant-importance calibration; the search is deterministic, so the same
# structure), all with --exact-widths (the pruned widths, as llama.cpp's file has them), and llama.cpp's own Q4_K_M of mop's F16 export (scripts/llamacpp/quantize.cpp, no imatrix). Prints the
# WikiText-2 perplexity of each in llama.cpp (scripts/llamacpp/window_ppl.cpp, mop's convention) and in mop.
#   scripts/quant-importance-table.sh MODEL.gguf...    ($OUT: work folder, default runs/quant-importance)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
data="${MOP_SHARED_DATA:-$root/../shared/data}"
text="$data/text/wikitext2-test.txt"
out="${OUT:-$root/runs/quant-importance}"
seq_len="${SEQ_LEN:-512}" max_tokens="${MAX_TOKENS:-16384}" threads="${THREADS:-$(nproc)}"
samples="${SAMPLES:-64}"
source "$root/scripts/llamacpp-common.sh"
ppl_tool="$(llamacpp_tool window_ppl)" quantize_tool="$(llamacpp_tool quantize)"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
mkdir -p "$out"
prune=(--method amp --target 0.2 --calibration "$data/instruct/alpaca.jsonl" --calibration-samples "$samples" --format gguf)
echo "| model | export | GGUF MB | llama.cpp ppl | mop ppl |"
echo "|---|---|---:|---:|---:|"
for model in "$@"; do
  name="$(basename "$model" .gguf)"
  [ -f "$out/$name-f16/model.gguf" ] || "$MOP" prune "$model" "${prune[@]}" --export-type f16 --out "$out/$name-f16" >&2
  [ -f "$out/$name-q4km/model.gguf" ] || "$MOP" apply "$model" --structure "$out/$name-f16/structure.json" \
    --export-type q4_k_m --format gguf --exact-widths --out "$out/$name-q4km" >&2
  [ -f "$out/$name-q4km-importance/model.gguf" ] || "$MOP" prune "$model" "${prune[@]}" --export-type q4_k_m --exact-widths \
    --out "$out/$name-q4km-importance" >&2
  cmp -s "$out/$name-f16/structure.json" "$out/$name-q4km-importance/structure.json" \
    || { echo "quant-importance-table: the two searches of $model chose different structures" >&2; exit 1; }
  mkdir -p "$out/$name-llamacpp"
  [ -f "$out/$name-llamacpp/model.gguf" ] || "$quantize_tool" "$out/$name-f16/model.gguf" "$out/$name-llamacpp/model.gguf" 15
  for variant in f16:F16 q4km:"Q4_K_M (mop)" q4km-importance:"Q4_K_M with the calibration importance (mop)" llamacpp:"Q4_K_M (llama.cpp of mop's F16)"; do
    gguf="$out/$name-${variant%%:*}/model.gguf"
    llama="$("$ppl_tool" "$gguf" "$text" "$seq_len" "$max_tokens" "$threads" 2>/dev/null)"
    ours="$(OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$gguf" --ppl "$text" --seq-len "$seq_len" --max-tokens "$max_tokens" --json 2>/dev/null)"
    python3 - "$name" "${variant#*:}" "$gguf" "$llama" "$ours" <<'PY'
import json, os, sys
name, label, gguf, llama, ours = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
print("| %s | %s | %.1f | %.4f | %.4f |" % (name, label, os.path.getsize(gguf) / 1e6, llama["perplexity"], ours["perplexity"]))
PY
  done
done
