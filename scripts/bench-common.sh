# Sourced by bench-forward.sh and bench-train.sh: the repository root as the working directory, the model ($1, or
# SmolLM2 fetched), the text measured on ($MOP_BENCH_TEXT, or WikiText-2) and $MOP, the binary (built unless given).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="${1:-$(scripts/fetch-model.sh)}"
text="${MOP_BENCH_TEXT:-$root/../shared/data/text/wikitext2-test.txt}"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
