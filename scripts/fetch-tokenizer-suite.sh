#!/usr/bin/env bash
# Fetches llama.cpp's tokenizer test suite into models/tokenizer-suite/ (git-ignored) and prints that folder.
#   scripts/fetch-tokenizer-suite.sh
# The suite is the vocab-only GGUFs ggml-vocab-*.gguf and their .gguf.inp / .gguf.out pairs (the test strings and the
# ids the reference tokenizer gives them), as llama.cpp's tests/test-tokenizer-0.cpp reads them. They ship in
# vendor/llama.cpp/models/ of the PyPI source package llama-cpp-python==0.3.36 (76.6 MB), whose sha256 is checked.
# Only those files are extracted, into a temporary folder renamed into place when complete, so an interrupted run never
# leaves a folder that looks complete. Safe to run twice: a complete folder is left as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MOP_TOKENIZER_SUITE:-$root/models/tokenizer-suite}"
package=llama-cpp-python==0.3.36
sdist=llama_cpp_python-0.3.36.tar.gz
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
# Written last, so its presence says the extraction finished.
stamp="$dir/.complete-$sha"

if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi
command -v python3 >/dev/null || { echo "fetch-tokenizer-suite: python3 is needed (pip downloads the package)" >&2; exit 1; }
parent="$(dirname "$dir")"
mkdir -p "$parent"
tmp="$(mktemp -d "$parent/.tokenizer-suite.partial.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-tokenizer-suite: downloading $package from PyPI (76.6 MB)" >&2
# --no-binary names the package only: ':all:' would also build its build tools from source.
if ! python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python "$package" -d "$tmp/download" >&2; then
  echo "fetch-tokenizer-suite: pip could not download $package (is PyPI reachable?)" >&2
  exit 1
fi
if ! echo "$sha  $tmp/download/$sdist" | sha256sum --check --status; then
  echo "fetch-tokenizer-suite: $sdist does not have the sha256 $sha" >&2
  exit 1
fi
mkdir -p "$tmp/suite"
tar -xzf "$tmp/download/$sdist" -C "$tmp/suite" --strip-components=4 --wildcards \
  'llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-*'
count=$(ls "$tmp/suite"/ggml-vocab-*.gguf | wc -l)
[ "$count" -gt 0 ] || { echo "fetch-tokenizer-suite: $sdist holds no ggml-vocab-*.gguf" >&2; exit 1; }
rm -rf "$dir"
mv "$tmp/suite" "$dir"
touch "$stamp"
echo "fetch-tokenizer-suite: $count vocabularies in $dir" >&2
echo "$dir"
