#!/usr/bin/env bash
# Compares mop's token ids with llama.cpp's own tokenizer on the same GGUF, for whole text files.
#   scripts/check-tokenizer-llamacpp.sh MODEL.gguf TEXT...
#   scripts/check-tokenizer-llamacpp.sh models/gemma-3-270m-q4_k_m.gguf \
#     ../shared/data/text/wikitext2-test.txt ../shared/data/text/c4-sample.jsonl
# Each text is encoded whole, with the BOS/EOS the GGUF asks for: `mop tokenize --add-bos --json` against
# scripts/llamacpp/tokenize.cpp (add_special, no parse_special). A .jsonl file is its documents' "text" fields joined
# by a blank line, as scripts/check-tokenizer.py encodes C4. Prints a Markdown row per text: token count, whether the
# ids are equal (or where they first differ, with the ids around it), and whether each side decodes its ids back to
# the text. Exits 1 if any ids differ.
# $MOP names the mop binary to use (default: .build/release/mop, built first); $MOP_LLAMACPP_DIR where llama.cpp is
# built (scripts/llamacpp-common.sh). llama.cpp is used for this check only, never as a dependency.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ $# -ge 2 ] || { echo "usage: scripts/check-tokenizer-llamacpp.sh MODEL.gguf TEXT..." >&2; exit 2; }
gguf="$1"; shift
source "$root/scripts/llamacpp-common.sh"
tool="$(llamacpp_tool tokenize)"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

status=0
echo "| model | text | tokens | ids | decodes back (mop / llama.cpp) | mop's time |"
echo "|---|---|---:|---|---|---:|"
for text in "$@"; do
  input="$text"
  if [[ "$text" == *.jsonl ]]; then
    input="$tmp/$(basename "$text" .jsonl).txt"
    python3 -c 'import json, sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    out.write("\n\n".join(json.loads(line)["text"] for line in f if line.strip()))' "$text" "$input"
  fi
  "$MOP" tokenize "$gguf" --text "$input" --add-bos --json > "$tmp/mop.json"
  "$tool" "$gguf" "$input" > "$tmp/llama.json"
  python3 - "$gguf" "$text" "$tmp/mop.json" "$tmp/llama.json" <<'PY' || status=1
import json, os, sys
gguf, text, ours, theirs = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
a, b = ours["ids"], theirs["ids"]
if a == b:
    ids = "equal"
else:
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, first - 3)
    ids = "first difference at token %d: mop %s, llama.cpp %s" % (first, a[lo:first + 4], b[lo:first + 4])
yes = lambda flag: "yes" if flag else "no"
print("| %s | %s | %s | %s | %s / %s | %.2f s |" % (os.path.basename(gguf), os.path.basename(text),
      f"{len(b):,}" if len(a) == len(b) else f"{len(a):,} / {len(b):,}", ids,
      yes(ours["decodes_back"]), yes(theirs["decodes_back"]), ours["seconds"]))
sys.exit(0 if a == b else 1)
PY
done
exit $status
