#!/usr/bin/env bash
# Checks that llama.cpp loads mop's GGUF exports and agrees with mop's own perplexity (issue: exports that llama.cpp
# loads). For each GGUF given: llama.cpp's perplexity with mop's convention (scripts/llamacpp/window_ppl.cpp: windows
# of SEQ_LEN tokens, positions 1..SEQ_LEN-1 scored, llama.cpp's own tokenizer) next to `mop eval`, and their relative
# difference; exits 1 if any differs by more than 1%.
#   scripts/check-llamacpp.sh runs/0.2_method_mop/model.gguf runs/uneven/model.gguf
# Each export type mop writes is checked the same way: re-cut a pruned model in Q8_0 and BF16 (F16 likewise), then
#   mop apply MODEL --structure runs/0.2_method_mop/structure.json --out runs/q8_0 --export-type q8_0 --format gguf
#   mop apply MODEL --structure runs/0.2_method_mop/structure.json --out runs/bf16 --export-type bf16 --format gguf
#   scripts/check-llamacpp.sh runs/q8_0/model.gguf runs/bf16/model.gguf
# $MOP names the mop binary to use (default: .build/release/mop, built first).
# llama.cpp is used for this check only, never as a dependency (scripts/llamacpp-common.sh builds it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ $# -ge 1 ] || { echo "usage: scripts/check-llamacpp.sh MODEL.gguf..." >&2; exit 2; }
data="${MOP_SHARED_DATA:-$root/../shared/data}"
text="$data/text/wikitext2-test.txt"
seq_len="${SEQ_LEN:-512}" max_tokens="${MAX_TOKENS:-16384}" threads="${THREADS:-$(nproc)}"
source "$root/scripts/llamacpp-common.sh"
tool="$(llamacpp_tool window_ppl)"

[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
status=0
echo "| model | architecture | llama.cpp ppl | mop ppl | relative difference | tokens |"
echo "|---|---|---:|---:|---:|---:|"
for gguf in "$@"; do
  llama="$("$tool" "$gguf" "$text" "$seq_len" "$max_tokens" "$threads" 2>/dev/null)" \
    || { echo "check-llamacpp: llama.cpp failed on $gguf" >&2; status=1; continue; }
  ours="$(OPENBLAS_NUM_THREADS=$threads "$MOP" eval "$gguf" --ppl "$text" --seq-len "$seq_len" \
            --max-tokens "$max_tokens" --json 2>/dev/null)"
  arch="$("$MOP" inspect "$gguf" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["architecture"])')"
  python3 - "$gguf" "$arch" "$llama" "$ours" <<'PY' || status=1
import json, sys
gguf, arch, llama, ours = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
a, b = llama["perplexity"], ours["perplexity"]
diff = abs(a - b) / b
print("| `%s` | %s | %.4f | %.4f | %.3f%% | %d / %d |" % (gguf, arch, a, b, 100 * diff, llama["tokens"], ours["tokens"]))
sys.exit(0 if diff <= 0.01 and llama["tokens"] == ours["tokens"] else 1)
PY
done
exit $status
