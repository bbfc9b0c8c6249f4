#!/usr/bin/env bash
# Checks that llama.cpp loads mop's GGUF exports and agrees with mop's own perplexity (issue: exports that llama.cpp
# loads). For each GGUF given: llama.cpp's perplexity with mop's convention (scripts/llamacpp/window_ppl.cpp: windows
# of SEQ_LEN tokens, positions 1..SEQ_LEN-1 scored, llama.cpp's own tokenizer) next to `mop eval`, and their relative
# difference; exits 1 if any differs by more than 1%.
#   scripts/check-llamacpp.sh runs/0.2_method_mop/model.gguf runs/uneven/model.gguf
# llama.cpp is used for this check only, never as a dependency: its source comes from the PyPI sdist of
# llama-cpp-python (which vendors it), built once into $MOP_LLAMACPP_DIR (default .build-llamacpp, git-ignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ $# -ge 1 ] || { echo "usage: scripts/check-llamacpp.sh MODEL.gguf..." >&2; exit 2; }
data="${MOP_SHARED_DATA:-$root/../shared/data}"
text="$data/text/wikitext2-test.txt"
seq_len="${SEQ_LEN:-512}" max_tokens="${MAX_TOKENS:-16384}" threads="${THREADS:-$(nproc)}"
work="${MOP_LLAMACPP_DIR:-$root/.build-llamacpp}"
version=0.3.36
sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
tool="$work/window_ppl"

if [ ! -x "$tool" ]; then
  mkdir -p "$work"
  sdist="$work/llama_cpp_python-$version.tar.gz"
  if [ ! -f "$sdist" ]; then
    echo "check-llamacpp: downloading the llama-cpp-python $version sdist from PyPI (77 MB)" >&2
    # Its address from PyPI's simple index: `pip download` of an sdist would first build cmake from source.
    url=$(curl -fsSL -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/llama-cpp-python/ |
      python3 -c 'import json, sys; print(next(f["url"] for f in json.load(sys.stdin)["files"] if f["filename"] == sys.argv[1]))' \
        "llama_cpp_python-$version.tar.gz")
    curl -fsSL -o "$sdist" "$url"
  fi
  echo "$sdist_sha  $sdist" | sha256sum --check --status || { echo "check-llamacpp: $sdist: sha256 is not $sdist_sha" >&2; exit 1; }
  [ -d "$src" ] || tar -xzf "$sdist" -C "$work"
  command -v cmake >/dev/null || python3 -m pip install --quiet cmake ninja >&2
  echo "check-llamacpp: building libllama (tens of minutes on 2 cores)" >&2
  cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF >&2
  cmake --build "$work/build" -j "$(nproc)" --target llama >&2
  g++ -O2 -std=c++17 -I "$src/include" -I "$src/ggml/include" scripts/llamacpp/window_ppl.cpp \
    -L "$work/build/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$work/build/bin" -o "$tool"
fi

swift build -c release --product mop >&2
status=0
echo "| model | architecture | llama.cpp ppl | mop ppl | relative difference | tokens |"
echo "|---|---|---:|---:|---:|---:|"
for gguf in "$@"; do
  llama="$("$tool" "$gguf" "$text" "$seq_len" "$max_tokens" "$threads" 2>/dev/null)" \
    || { echo "check-llamacpp: llama.cpp failed on $gguf" >&2; status=1; continue; }
  ours="$(OPENBLAS_NUM_THREADS=$threads .build/release/mop eval "$gguf" --ppl "$text" --seq-len "$seq_len" \
            --max-tokens "$max_tokens" --json 2>/dev/null)"
  arch="$(.build/release/mop inspect "$gguf" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["architecture"])')"
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
