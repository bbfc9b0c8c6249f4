#!/usr/bin/env bash
# Latency of dense SmolLM2 against its MoP-pruned models by the paper's protocol (`mop bench`: batch 1, 12-token
# prompt, 128 new tokens, 20 runs of which the first 10 are dropped), as a Markdown table with the reduction.
#   scripts/bench-latency.sh [PRUNED_DIR...]     # default: runs/0.2_method_mop runs/0.4_method_mop (prune-table.sh)
# $MOP_BENCH_ARGS: extra `mop bench` options (e.g. "--runs 4 --warmup 2" for a quick look).
# Run it on an otherwise idle machine: every model is measured alone, one after the other.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="$(scripts/fetch-model.sh)"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
[ "$#" -gt 0 ] || set -- runs/0.2_method_mop runs/0.4_method_mop
results=()
for path in "$model" "$@"; do
  result="$(mktemp)"
  # shellcheck disable=SC2086
  "$MOP" bench "$path" --json ${MOP_BENCH_ARGS:-} > "$result"
  "$MOP" inspect "$path" --json > "$result.inspect"
  results+=("$path=$result")
done
python3 - "${results[@]}" <<'PY'
import json, sys
rows = [(arg.split("=", 1)[0], json.load(open(arg.split("=", 1)[1])), json.load(open(arg.split("=", 1)[1] + ".inspect")))
        for arg in sys.argv[1:]]
dense = rows[0][1]
print("| model | parameters | latency mean (s) | median (s) | vs dense | prefill tokens/s | decode tokens/s | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for path, r, shape in rows:
    print("| %s | %s | %.3f | %.3f | %.3f (%+.1f%%) | %.1f | %.1f | %.0f |" % (
        path.split("/")[-1], "{:,}".format(shape["parameters"]), r["latency_seconds"], r["latency_median_seconds"],
        r["latency_seconds"] / dense["latency_seconds"], 100 * (r["latency_seconds"] / dense["latency_seconds"] - 1),
        r["prefill_tokens_per_second"], r["decode_tokens_per_second"], r["peak_rss_bytes"] / 2**20))
r = dense
print()
print("%d runs (%d warm-up dropped), %d prompt + %d new tokens, %d threads." % (r["runs"], r["warmup"], r["prompt_tokens"], r["new_tokens"], r["threads"]))
PY
