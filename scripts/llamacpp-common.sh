# llama.cpp for mop's comparison scripts only, never a dependency: its source comes from the PyPI sdist of
# llama-cpp-python (which vendors it), built once into $MOP_LLAMACPP_DIR (default .build-llamacpp, git-ignored).
# `llamacpp_tool NAME` builds libllama if needed and scripts/llamacpp/NAME.cpp against it; prints the tool's path.
llamacpp_tool() {
  local name="$1" root work version sdist_sha src sdist url tool
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  work="${MOP_LLAMACPP_DIR:-$root/.build-llamacpp}"
  version=0.3.36
  sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
  src="$work/llama_cpp_python-$version/vendor/llama.cpp"
  tool="$work/$name"
  if [ ! -f "$work/build/bin/libllama.so" ]; then
    mkdir -p "$work"
    sdist="$work/llama_cpp_python-$version.tar.gz"
    if [ ! -f "$sdist" ]; then
      echo "llama.cpp: downloading the llama-cpp-python $version sdist from PyPI (77 MB)" >&2
      # Its address from PyPI's simple index: `pip download` of an sdist would first build cmake from source.
      url=$(curl -fsSL -H 'Accept: application/vnd.pypi.simple.v1+json' https://pypi.org/simple/llama-cpp-python/ |
        python3 -c 'import json, sys; print(next(f["url"] for f in json.load(sys.stdin)["files"] if f["filename"] == sys.argv[1]))' \
          "llama_cpp_python-$version.tar.gz")
      curl -fsSL -o "$sdist" "$url"
    fi
    echo "$sdist_sha  $sdist" | sha256sum --check --status || { echo "llama.cpp: $sdist: sha256 is not $sdist_sha" >&2; return 1; }
    [ -d "$src" ] || tar -xzf "$sdist" -C "$work"
    command -v cmake >/dev/null || python3 -m pip install --quiet cmake ninja >&2
    echo "llama.cpp: building libllama (tens of minutes on 2 cores)" >&2
    cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF >&2
    cmake --build "$work/build" -j "$(nproc)" --target llama >&2
  fi
  if [ ! -x "$tool" ] || [ "$root/scripts/llamacpp/$name.cpp" -nt "$tool" ]; then
    g++ -O2 -std=c++17 -I "$src/include" -I "$src/ggml/include" "$root/scripts/llamacpp/$name.cpp" \
      -L "$work/build/bin" -lllama -lggml -lggml-base -Wl,-rpath,"$work/build/bin" -o "$tool" >&2
  fi
  echo "$tool"
}

# `llamacpp_mtmd_cli` builds llama.cpp's multimodal CLI (llama-mtmd-cli: a language-model GGUF with an mmproj) from
# the same sources, once, in its own build folder $MOP_LLAMACPP_DIR/mtmd (the tools need libcommon and libmtmd, which
# the libllama build above leaves out); prints its path.
llamacpp_mtmd_cli() {
  local root work src
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  work="${MOP_LLAMACPP_DIR:-$root/.build-llamacpp}"
  llamacpp_tool tokenize >/dev/null  # fetches and unpacks the sources if needed
  src="$work/llama_cpp_python-0.3.36/vendor/llama.cpp"
  if [ ! -x "$work/mtmd/bin/llama-mtmd-cli" ]; then
    echo "llama.cpp: building llama-mtmd-cli (tens of minutes on 2 cores)" >&2
    cmake -S "$src" -B "$work/mtmd" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON >&2
    cmake --build "$work/mtmd" -j "${MOP_LLAMACPP_JOBS:-$(nproc)}" --target llama-mtmd-cli >&2
  fi
  echo "$work/mtmd/bin/llama-mtmd-cli"
}
