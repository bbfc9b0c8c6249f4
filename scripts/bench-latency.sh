#!/usr/bin/env bash
# Latency of dense SmolLM2 against its MoP-pruned models by the paper's protocol (`mop bench`: batch 1, 12-token
# prompt, 128 new tokens, 20 runs of which the first 10 are dropped), as a Markdown table with the reduction.
#   scripts/bench-latency.sh [PRUNED_DIR...]     # default: runs/0.2_method_mop runs/0.4_method_mop (prune-table.sh)
# $MOP_BENCH_ARGS: extra `mop bench` options (e.g. "--runs 4 --warmup 2" for a quick look).
# Each pruned model is compared with the dense one by `mop bench DENSE --compare PRUNED`: the two run in turn, run by
# run, and "vs dense" is the median of the paired runs' ratios (min-max in brackets), so a load change mid-way hits
# both sides alike. The dense row is the first comparison's dense side.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="$(scripts/fetch-model.sh)"
[ -n "${MOP:-}" ] || { swift build -c release --product mop >&2; MOP="$root/.build/release/mop"; }
[ "$#" -gt 0 ] || set -- runs/0.2_method_mop runs/0.4_method_mop
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$MOP" inspect "$model" --json > "$work/dense.inspect"
comparisons=()
for path in "$@"; do
  name="$(basename "$path")"
  # shellcheck disable=SC2086
  "$MOP" bench "$model" --compare "$path" --json ${MOP_BENCH_ARGS:-} > "$work/$name.json"
  "$MOP" inspect "$path" --json > "$work/$name.inspect"
  comparisons+=("$path=$work/$name")
done
python3 - "$model=$work/dense" "${comparisons[@]}" <<'PY'
import json, sys
dense_path, dense_base = sys.argv[1].split("=", 1)
pairs = [(arg.split("=", 1)[0], json.load(open(arg.split("=", 1)[1] + ".json")), json.load(open(arg.split("=", 1)[1] + ".inspect")))
         for arg in sys.argv[2:]]
print("| model | parameters | latency mean (s) | median (s) | vs dense (paired median, min-max) | prefill tokens/s | decode tokens/s | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
def row(path, r, shape, ratio):
    vs = "1.000" if ratio is None else "%.3f (%+.1f%%; %.3f-%.3f)" % (
        ratio["latency_seconds"], 100 * (ratio["latency_seconds"] - 1), ratio["latency_seconds_min"], ratio["latency_seconds_max"])
    print("| %s | %s | %.3f | %.3f | %s | %.1f | %.1f | %.0f |" % (
        path.split("/")[-1], "{:,}".format(shape["parameters"]), r["latency_seconds"], r["latency_median_seconds"], vs,
        r["prefill_tokens_per_second"], r["decode_tokens_per_second"], r["peak_rss_bytes"] / 2**20))
first = pairs[0][1]["model"]
row(dense_path, first, json.load(open(dense_base + ".inspect")), None)
for path, comparison, shape in pairs:
    row(path, comparison["compare"], shape, comparison["ratio"])
print()
print("%d runs (%d warm-up dropped), %d prompt + %d new tokens, %d threads; each pruned model in turn with the dense one."
      % (first["runs"], first["warmup"], first["prompt_tokens"], first["new_tokens"], first["threads"]))
PY
