#!/usr/bin/env bash
# Peak memory (VmHWM, as /usr/bin/time's maximum resident set) of `mop apply` writing MODEL cut to STRUCTURE in each
# export type given, against the model file's size: exports are streamed a panel of rows at a time, so the peak is
# the mapped input (its clean pages count in VmHWM) plus a few MB, whatever the type (issue 29's target: file + 300 MB).
#   scripts/bench-export-memory.sh MODEL.gguf runs/x/structure.json q8_0 q4_k_m f16
# $MOP names the binary (default: .build/release/mop, built first); $FORMAT the --format (default both);
# $SPLIT a --split-max-size (default none).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ $# -ge 3 ] || { echo "usage: scripts/bench-export-memory.sh MODEL STRUCTURE TYPE..." >&2; exit 2; }
model="$1" structure="$2"; shift 2
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
file_bytes=$(du -bL "$model" | cut -f1)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "| export | format | peak (MB) | file (MB) | peak / file | peak - file (MB) | seconds |"
echo "|---|---|---:|---:|---:|---:|---:|"
for type in "$@"; do
  out="$work/$type"
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$work/time" "$MOP" apply "$model" --structure "$structure" --out "$out" \
    --export-type "$type" --format "${FORMAT:-both}" ${SPLIT:+--split-max-size "$SPLIT"} >/dev/null
  end=$(date +%s.%N)
  peak_kb=$(tail -1 "$work/time")
  python3 - "$type" "${FORMAT:-both}" "$peak_kb" "$file_bytes" "$start" "$end" <<'PY'
import sys
t, fmt, peak_kb, file_bytes, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
peak = peak_kb * 1024
print("| %s | %s | %.0f | %.0f | %.2f | %+.0f | %.0f |" % (t, fmt, peak / 1e6, file_bytes / 1e6, peak / file_bytes, (peak - file_bytes) / 1e6, end - start))
PY
  rm -rf "$out"
done
